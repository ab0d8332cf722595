"""`gitops-helper promote`: an app's new version, from its CI to an MR on the first environment.

Order matters: every input is checked before the first network call, the
environment is changed and validated in a throw-away clone, and only a change that
validates is pushed (to `promote/<env>/<app>`) and proposed. Reruns are idempotent:
the same inputs give `noop`, a newer version updates the open MR in place.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jenkins_helpers import git, gitlab, inputs, promotion, promotion_mr
from jenkins_helpers.cuesrc import applayer
from jenkins_helpers.deployrepo.settings import SETTINGS_FILE, Environment, Settings, parse_settings
from jenkins_helpers.errors import UserError
from jenkins_helpers.gitlab import GitLab, MergeRequest, Project
from jenkins_helpers.promotion import Plan, Request
from jenkins_helpers.promotion_mr import ImageRef

DEFAULT_PROJECT = "platform/k8s-deployments"


@dataclass
class PromoteResult:
    status: str  # created, updated or noop
    mr_iid: int | None
    mr_url: str | None
    branch: str | None  # None when the environment already has this version
    project: str
    env: str
    app: str
    tag: str
    digest: str | None
    changed_files: list[str]
    dry_run: bool = False
    superseded: list[int] = field(default_factory=list)  # MRs closed (or, dry run: to close)
    warnings: list[str] = field(default_factory=list)
    changes: list[git.FileChange] = field(default_factory=list)
    app_layer_diff: str = ""


@dataclass(frozen=True)
class _Target:
    """Where the promotion goes, and how to reach it."""

    gl: GitLab
    project: Project
    env: Environment
    tree: Path  # the clone of the environment branch
    auth: dict[str, str]  # git's environment carrying the token
    dry_run: bool
    build_url: str | None


def run(
    *,
    app: str,
    image: str,
    tag: str,
    digest: str | None,
    app_repo: Path,
    env: str | None,
    project: str,
    gitlab_url: str | None,
    dry_run: bool = False,
    build_url: str | None = None,
) -> PromoteResult:
    """Promote `app`'s image `image:tag` and its deployment/app.cue to `env` (default: first)."""
    app = inputs.app_name(app)
    ref = ImageRef(
        inputs.image_repository(image),
        inputs.image_tag(tag),
        inputs.image_digest(digest) if digest is not None else None,
    )
    project = inputs.project_path(project)
    env = inputs.environment_name(env) if env is not None else None
    build_url = inputs.server_url(build_url, "build URL") if build_url else None
    layer = applayer.read(app_repo, app)
    applayer.check_repository(layer, ref.repository)
    origin, commit = git.source_of(app_repo)
    with GitLab.from_environment(gitlab_url) as gl:
        proj = gl.project(project)
        settings = _settings(gl, proj)
        environment = (
            settings.environment(inputs.environment(env, settings.names))
            if env is not None
            else settings.environments[0]
        )
        with tempfile.TemporaryDirectory(prefix="gitops-promote-") as tmp:
            tree = Path(tmp) / "k8s-deployments"
            auth = git.auth_env(proj.http_url_to_repo, gitlab.token_from_environment())
            git.clone(proj.http_url_to_repo, tree, environment.branch, auth)
            plan = promotion.prepare(tree, Request(app, ref, environment, layer, origin, commit))
            target = _Target(gl, proj, environment, tree, auth, dry_run, build_url)
            return _publish(target, plan)


def _settings(gl: GitLab, project: Project) -> Settings:
    """gitops.yaml from the default branch: the environments and their branches."""
    text = gl.file_text(project.path, SETTINGS_FILE, project.default_branch)
    where = f"{project.path}:{project.default_branch}:{SETTINGS_FILE}"
    if text is None:
        raise UserError(
            f"{where} not found: is {project.path} a deployment repository?",
            "create one with `gitops-helper init-repo`, or pass --project",
        )
    return parse_settings(text, where)


def _publish(t: _Target, plan: Plan) -> PromoteResult:
    """Push and propose the plan (or, dry run, say what would happen); close superseded MRs."""
    req = plan.request
    branch = promotion_mr.source_branch(t.env.name, req.app)
    if not plan.changes:
        # Open MRs are left alone: a rerun of an older build must not close a
        # newer promotion that is waiting for review.
        return _result(t, plan, "noop", None, None, [])
    open_mrs = t.gl.merge_requests(
        t.project.path,
        labels=promotion_mr.unit_labels(req.app, t.env.name),
        target_branch=t.env.branch,
    )
    ours = next((m for m in open_mrs if m.source_branch == branch), None)
    git.switch(t.tree, branch, create_from="HEAD")
    git.commit_staged(t.tree, _commit_message(plan, t.build_url))
    remote = git.remote_branch_sha(t.tree, branch, t.auth)
    same = remote is not None and (
        git.tree_id(t.tree, git.fetch_branch(t.tree, branch, t.auth)) == git.tree_id(t.tree, "HEAD")
    )
    if ours is not None and same:
        status, mr = "noop", ours
    elif t.dry_run:
        status, mr = ("updated" if ours else "created"), ours
    else:
        if not same:
            git.push_branch(t.tree, branch, remote, t.auth)
        status, mr = ("updated" if ours else "created"), _propose(t, plan, branch, ours)
    others = [m for m in open_mrs if m.source_branch != branch]
    superseded = _close(t, others, promotion_mr.superseded_note(mr.iid) if mr else "")
    return _result(t, plan, status, mr, branch, superseded)


def _propose(t: _Target, plan: Plan, branch: str, ours: MergeRequest | None) -> MergeRequest:
    """Open the MR, or update the open one in place (same source branch)."""
    req = plan.request
    title = promotion_mr.title(req.app, req.image.tag, t.env.name)
    labels = promotion_mr.labels(req.app, t.env.name)
    text = promotion_mr.description(_content(t, plan))
    if ours is not None:
        return t.gl.update_merge_request(
            t.project.path, ours.iid, title=title, description=text, labels=labels
        )
    return t.gl.create_merge_request(
        t.project.path,
        source=branch,
        target=t.env.branch,
        title=title,
        description=text,
        labels=labels,
    )


def _content(t: _Target, plan: Plan) -> promotion_mr.Content:
    req = plan.request
    trailer = promotion_mr.Trailer(
        target_env=t.env.name,
        apps={req.app: req.image},
        app_repo=req.origin,
        app_commit=req.commit,
        app_layer_sha256=plan.app_layer_sha256,
    )
    return promotion_mr.Content(
        app=req.app,
        env=t.env.name,
        image=req.image,
        old_image=plan.old_image,
        app_file=plan.app_file,
        app_layer_diff=plan.app_layer_diff,
        changes=plan.changes,
        kept=plan.kept,
        trailer=trailer,
        build_url=t.build_url,
        warnings=plan.warnings,
    )


def _close(t: _Target, mrs: list[MergeRequest], note: str) -> list[int]:
    """Close `mrs` with `note` (not in a dry run); return their iids."""
    if not t.dry_run:
        for mr in mrs:
            t.gl.close_merge_request(t.project.path, mr.iid, note)
    return [mr.iid for mr in mrs]


def _commit_message(plan: Plan, build_url: str | None) -> str:
    req = plan.request
    lines = [
        promotion_mr.title(req.app, req.image.tag, req.env.name),
        "",
        f"Image: {req.image.ref}",
        f"App layer: deployment/app.cue of {req.origin} at {req.commit or 'no commit'}",
    ]
    if build_url:
        lines.append(f"Build: {build_url}")
    return "\n".join(lines) + "\n"


def _result(
    t: _Target,
    plan: Plan,
    status: str,
    mr: MergeRequest | None,
    branch: str | None,
    superseded: list[int],
) -> PromoteResult:
    req = plan.request
    return PromoteResult(
        status=status,
        mr_iid=mr.iid if mr else None,
        mr_url=mr.url if mr else None,
        branch=branch,
        project=t.project.path,
        env=t.env.name,
        app=req.app,
        tag=req.image.tag,
        digest=req.image.digest,
        changed_files=plan.changed_files,
        dry_run=t.dry_run,
        superseded=superseded,
        warnings=plan.warnings,
        changes=plan.changes,
        app_layer_diff=plan.app_layer_diff,
    )
