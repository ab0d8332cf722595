"""`promote`: an app's new build, from its CI to an MR on the first environment.

Order matters: every input is checked before the first network call, the
environment is changed and validated in a throw-away clone, and only a change that
validates is pushed (to `promote/<env>/<app>`) and proposed (docs/PROMOTION.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jenkins_helpers import git, gitlab, inputs
from jenkins_helpers.cue import CueError
from jenkins_helpers.cuesrc import applayer
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.promotion import groups, naming, ordering, proposal, sources, target, trust
from jenkins_helpers.promotion.model import AppVersion, ImageRef, Outcome, Status
from jenkins_helpers.promotion.plan import Explain, Plan, apply_versions
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.trailer import Provenance, Trailer


@dataclass(frozen=True, kw_only=True)
class BuildPromotion(Outcome):
    """What `promote` did: the CLI prints it, the Jenkins step reads its JSON.

    Status `superseded`: the build changed nothing, a pending MR proposes a newer
    version (or another run moved the branch while this one ran)."""

    project: str
    env: str
    app: str
    tag: str
    digest: str | None
    warnings: list[str] = field(default_factory=list)
    changes: list[git.FileChange] = field(default_factory=list)
    app_layer_diff: str = ""


def promote_build(
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
    group: str | None = None,
    with_apps: Sequence[str] = (),
) -> BuildPromotion:
    """Promote `app`'s image `image:tag` and its deployment/app.cue to `env` (default: first).

    With `group`, the apps of `with_apps` (`APP=TAG[@DIGEST]`, their app layers as the
    environment has them) move in the same MR: a coordinated release (groups.py).
    """
    app = inputs.app_name(app)
    ref = ImageRef(
        inputs.image_repository(image),
        inputs.image_tag(tag),
        inputs.image_digest(digest) if digest is not None else None,
    )
    project = inputs.project_path(project)
    env = inputs.environment_name(env) if env is not None else None
    build_url = inputs.server_url(build_url, "build URL") if build_url else None
    group = inputs.group_name(group) if group is not None else None
    others = [_member(text) for text in with_apps]
    if others and group is None:
        raise BadInput("--with needs --group", "name the release: --group release-2.0")
    if app in dict(others):
        raise BadInput(f"{app} is the app promoted: leave it out of --with")
    access = gitlab.access_from_environment(gitlab_url)
    build = sources.from_app_repo(app_repo, app, ref)
    with target.connect(project, access) as deployment:
        settings = deployment.settings
        environment = settings.environments[0] if env is None else settings.environment(env)
        # From here on the environment exists: what follows may fail, never on input.
        with deployment.checkout(environment.branch, [app, *dict(others)]) as clone:
            if group is None:
                held = _held_back(deployment, environment, clone.files, build, app_repo)
                if held is not None:
                    return held
            versions = [build.version, *(_version_here(clone.files, a, t) for a, t in others)]
            plan = apply_versions(clone.tree, environment, versions, explain=_explainer(build))
            proposed = (
                build_change(plan, build, build_url)
                if group is None
                else _group_change(plan, build, build_url, group)
            )
            outcome = publish(clone, proposed, dry_run=dry_run)
            if group is not None:
                members = [a.app for a in plan.apps]
                outcome = groups.supersede(deployment, outcome, environment.branch, group, members)
    change = next(a for a in plan.apps if a.app == app)
    status: Status = "superseded" if outcome.moved_by is not None else outcome.status
    warnings = list(plan.warnings)
    if outcome.moved_by is not None:
        warnings.append(
            f"superseded: another promotion moved {outcome.branch} to {outcome.moved_by[:12]} "
            f"while this one ran; !{outcome.mr_iid} describes that one"
        )
    return BuildPromotion.of(
        outcome,
        status=status,
        dry_run=dry_run,
        project=project,
        env=environment.name,
        app=app,
        tag=ref.tag,
        digest=ref.digest,
        warnings=warnings,
        changes=list(plan.changes),
        app_layer_diff=change.app_layer_diff,
    )


def _held_back(
    deployment: target.DeploymentProject,
    env: Environment,
    files: git.Files,
    build: sources.Build,
    app_repo: Path,
) -> BuildPromotion | None:
    """A build that must change nothing: the environment already runs it (what differs is
    only where it came from), or a pending MR proposes a newer version (ordering.py)."""
    app, image = build.version.app, build.version.image
    here = sources.from_revision(files, "HEAD", app)
    if (
        here is not None
        and here.image == image
        and applayer.without_header(here.app_file)
        == applayer.without_header(build.version.app_file)
    ):
        return _unchanged(deployment, env, build, "noop", None)
    branch = naming.source_branch(env.name, app)
    open_mrs = deployment.gl.merge_requests(
        deployment.project.path,
        labels=naming.identity_labels(app, env.name),
        target_branch=env.branch,
    )
    mr = next((m for m in open_mrs if m.source_branch == branch), None)
    trailer = trust.own_trailer(deployment, mr) if mr is not None else None
    pending = trailer.apps.get(app) if trailer is not None else None
    if mr is None or trailer is None or pending is None:
        return None
    why = ordering.older_than_pending(
        image.tag, build.commit, pending.tag, trailer.app_commit, app_repo
    )
    if why is None:
        return None
    warning = f"superseded: {why}; !{mr.iid} keeps proposing {app} {pending.tag}"
    return _unchanged(deployment, env, build, "superseded", mr, [warning])


def _unchanged(
    deployment: target.DeploymentProject,
    env: Environment,
    build: sources.Build,
    status: Status,
    mr: gitlab.MergeRequest | None,
    warnings: Sequence[str] = (),
) -> BuildPromotion:
    version = build.version
    return BuildPromotion(
        status=status,
        mr_iid=mr.iid if mr else None,
        mr_url=mr.url if mr else None,
        project=deployment.project.path,
        env=env.name,
        app=version.app,
        tag=version.image.tag,
        digest=version.image.digest,
        warnings=list(warnings),
    )


def _member(text: str) -> tuple[str, tuple[str, str | None]]:
    """`postgres=17-alpine` or `APP=TAG@sha256:...` of `--with`."""
    app, sep, ref = text.partition("=")
    if not sep:
        raise BadInput(
            f"--with {inputs.show(text)}: expected APP=TAG", "e.g. --with postgres=17-alpine"
        )
    tag, _, digest = ref.partition("@")
    return inputs.app_name(app), (
        inputs.image_tag(tag),
        inputs.image_digest(digest) if digest else None,
    )


def _version_here(files: git.Files, app: str, tag_digest: tuple[str, str | None]) -> AppVersion:
    """A group member at a new tag, with its app layer and repository as the target has them."""
    current = sources.from_revision(files, "HEAD", app)
    if current is None:
        raise BadInput(
            f"{app} is not deployed in the target yet: a group moves apps it already runs",
            f"onboard {app} first",
        )
    tag, digest = tag_digest
    return AppVersion(app, current.app_file, ImageRef(current.image.repository, tag, digest))


def _group_change(plan: Plan, build: sources.Build, build_url: str | None, group: str) -> Change:
    trailer = Trailer(
        target_env=plan.env.name,
        apps={a.app: a.image for a in plan.apps},
        unit="group",
        group=group,
        app_repo=build.origin,
        app_commit=build.commit,
        build_url=build_url,
        provenance=_origin(build, build_url),
    )
    return proposal.group_change(plan, trailer, group, build_url)


def build_change(plan: Plan, build: sources.Build, build_url: str | None) -> Change:
    """The MR that proposes a build's plan: title, labels, description and trailer."""
    (app,) = plan.apps
    trailer = Trailer(
        target_env=plan.env.name,
        apps={app.app: app.image},
        app_repo=build.origin,
        app_commit=build.commit,
        app_layer_sha256=app.app_layer_sha256,
        build_url=build_url,
        provenance=_origin(build, build_url),
    )
    lines = [f"App layer: deployment/app.cue of {build.origin} at {build.commit or 'no commit'}"]
    if build_url:
        lines.append(f"Build: {build_url}")
    return proposal.app_change(plan, trailer, lines, build_url)


def _origin(build: sources.Build, build_url: str | None) -> dict[str, Provenance]:
    """The built app's provenance, which the chain carries on to every environment (the
    members of a group that --with names have no build here: none for them)."""
    return {build.version.app: Provenance(build_url, build.origin, build.commit)}


def _explainer(build: sources.Build) -> Explain:
    """CUE errors of the new state, pointed at the app repo's own deployment/app.cue."""

    def explain(error: CueError, env: Environment) -> UserError:
        return UserError(
            f"{build.version.app}'s app layer does not evaluate with the platform layer of "
            f"{env.name}:\n{applayer.map_positions(error.message, build.layer)}",
            f"fix {build.layer.shown}; if it needs a platform change, promote that to "
            f"{env.name} first",
        )

    return explain
