"""`onboard`: a new app, registered everywhere it will run (F1, F2).

A first-party app (its own repository and Jenkinsfile) gets its Jenkins job, made
from the `app-pipeline.xml` template, and a push hook on its repository that starts
that job; then an entry in every environment's env.cue with the environment's
settings (replicas, resources) and no image, by a `[no-promote]` MR each: an entry
without an image renders nothing, so the app appears in an environment when its
first promotion sets the tag there.

A third-party app (no repository, no CI) gets its app file from a template, on
main and, with the first environment's entry and image, in that environment's MR:
merging it starts the chain like a build would. The other environments get their
entries as for a first-party app.

Every step looks before it acts, so a rerun after a failure finishes the work and a
rerun after success changes nothing. An entry that a promotion created first gets
only the settings it lacks.
"""

from __future__ import annotations

import json
import secrets as random
from dataclasses import dataclass, field
from string import Template
from typing import Any

from jenkins_helpers import git, gitlab, inputs, jenkins
from jenkins_helpers.cuesrc import editor, literals
from jenkins_helpers.deployrepo import layout, scaffold
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import BadInput
from jenkins_helpers.forge import Forge
from jenkins_helpers.jenkins import JobChange, job_config
from jenkins_helpers.promotion import naming, target
from jenkins_helpers.promotion.model import Outcome
from jenkins_helpers.promotion.plan import apply_edits, literals_dotted
from jenkins_helpers.promotion.proposal import operation_change
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject, Target
from jenkins_helpers.promotion.trailer import Trailer

# The Jenkins credential the app's job fetches its repository with (docs/JENKINS.md).
DEFAULT_GIT_CREDENTIALS = "gitlab-git"
HookChange = str  # "created", "updated" or "unchanged"


@dataclass(frozen=True, kw_only=True)
class Registration(Outcome):
    """One branch's MR: the app's entry in an environment (or its app file on main)."""

    # Here the deployment repository's branch the MR targets, not the MR's own branch:
    # the CLI and the JSON have always named the registration by it.
    branch: str
    added: list[str] = field(default_factory=list)  # what the MR adds, e.g. `replicas`


@dataclass(frozen=True)
class OnboardResult:
    """What `onboard` did (or, in a dry run, would do)."""

    app: str
    project: str
    third_party: bool
    repo: str | None
    jenkins_job: str | None
    job: JobChange | None
    hook: HookChange | None
    hook_url: str | None
    registrations: list[Registration]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


def onboard(
    *,
    app: str,
    project: str,
    gitlab_url: str | None,
    repo: str | None = None,
    branch: str | None = None,
    git_credentials: str = DEFAULT_GIT_CREDENTIALS,
    third_party: bool = False,
    image: str | None = None,
    tag: str | None = None,
    port: int | None = None,
    dry_run: bool = False,
) -> OnboardResult:
    """Register `app`: its Jenkins job and push hook (first party), its app file (third
    party), and its entry in every environment, by MRs."""
    app = inputs.app_name(app)
    project = inputs.project_path(project)
    first_env_image = _check_kind(third_party, repo, image, tag, port)
    repo = inputs.project_path(repo) if repo is not None else None
    git_credentials = inputs.credentials_id(git_credentials, "--git-credentials")
    branch = inputs.branch_name(branch) if branch is not None else None
    server = jenkins.access_from_environment() if repo is not None else None
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        warnings: list[str] = []
        job = hook = hook_url = None
        if repo is not None and server is not None:
            app_repo = _app_repository(deployment.gl, repo, branch, warnings)
            job, hook, hook_url = _pipeline(
                deployment.gl, server, app, app_repo, git_credentials, dry_run
            )
        app_file = _app_file(app, image, port) if first_env_image else None
        registrations = []
        if app_file is not None:
            registrations.append(_on_main(deployment, app, app_file, dry_run))
        for index, env in enumerate(deployment.settings.environments):
            tagged = first_env_image if index == 0 else None
            registrations.append(
                _register(deployment, env, app, repo, tagged, app_file if tagged else None, dry_run)
            )
    return OnboardResult(
        app,
        deployment.project.path,
        third_party,
        repo,
        app if repo is not None else None,
        job,
        hook,
        hook_url,
        registrations,
        dry_run,
        warnings,
    )


def _check_kind(
    third_party: bool, repo: str | None, image: str | None, tag: str | None, port: int | None
) -> dict[str, str] | None:
    """Refuse a mix of first- and third-party options; the third party's first image."""
    if not third_party:
        extra = [f"--{n}" for n, v in (("image", image), ("tag", tag), ("port", port)) if v]
        if repo is None:
            raise BadInput(
                "--repo is required: the app's repository on GitLab (GROUP/NAME)",
                "or, for an app without a repository of its own, --third-party --image --tag",
            )
        if extra:
            raise BadInput(f"{', '.join(extra)} only go with --third-party")
        return None
    if repo is not None:
        raise BadInput("--third-party has no --repo", "a third-party app has no repository or CI")
    if image is None or tag is None:
        raise BadInput(
            "--third-party needs --image and --tag",
            "e.g. --image docker.io/library/redis --tag 7.2.4",
        )
    if port is not None and not 0 < port < 65536:
        raise BadInput(f"--port {port}: expected 1-65535")
    inputs.image_repository(image)
    return {"tag": inputs.image_tag(tag)}


# --- Jenkins: the app's job and the push hook that starts it -----------------------------


def _app_repository(gl: Forge, repo: str, branch: str | None, warnings: list[str]) -> Any:
    """The app's project, checked: its pipeline is the Jenkinsfile on `branch`."""
    found = gl.project(repo)
    ref = branch or found.default_branch
    if gl.file_text(repo, "Jenkinsfile", ref) is None:
        raise BadInput(
            f"{repo} has no Jenkinsfile on {ref}: the app's Jenkins job runs it",
            "add one that ends with gitopsPromote (see the example app), or pass --branch",
        )
    if gl.file_text(repo, "deployment/app.cue", ref) is None:
        warnings.append(
            f"{repo} has no deployment/app.cue on {ref} yet: its first gitopsPromote needs it"
        )
    return found, ref


def _pipeline(
    gl: Forge,
    access: jenkins.JenkinsAccess,
    app: str,
    app_repo: Any,
    git_credentials: str,
    dry_run: bool,
) -> tuple[JobChange, HookChange, str]:
    """The app's Jenkins job and its repository's push hook, with one fresh secret.

    Jenkins keeps the job's push secret encrypted and GitLab never shows a hook's,
    so a job and hook already in place are left alone; when either must change,
    both get a new secret.
    """
    project, ref = app_repo
    with jenkins.Jenkins(access) as server:
        hook_url = f"{server.url}/project/{app}"
        secret = random.token_urlsafe(32)
        config = job_config(
            "app-pipeline",
            repository_url=project.http_url_to_repo,
            branch=ref,
            credentials_id=git_credentials,
            push_token=secret,
        )
        job = server.job_change(app, config)
        hooked = any(h.url == hook_url and "push" in h.events for h in gl.hooks(project.path))
        if job == "unchanged" and hooked:
            return "unchanged", "unchanged", hook_url
        if dry_run:
            return job, ("updated" if hooked else "created"), hook_url
        job = server.ensure_job(app, config, new_secrets=True)
    hook = gl.ensure_hook(project.path, hook_url, secret, events=("push",))
    return job, hook, hook_url


# --- the deployment repository: app file and entries ---------------------------------


def _app_file(app: str, image: str | None, port: int | None) -> str:
    """A third-party app's app file, from the template docs/OPERATIONS.md shows."""
    text = scaffold.template("third-party-app.cue.tmpl")
    return Template(text).substitute(
        app=app,
        label=literals.label_chain(("apps", app, "app")),
        repository=json.dumps(image),
        port=port or 8080,
    )


def _on_main(deployment: DeploymentProject, app: str, app_file: str, dry_run: bool) -> Registration:
    """A third-party app's app file on main, where it is edited from then on."""
    main = deployment.settings.main_branch
    with deployment.checkout(main) as clone:
        path = layout.app_file(app)
        added = []
        if not (clone.tree / path).exists():
            (clone.tree / path).write_text(app_file, "utf-8")
            added.append(path)
        files = tuple(git.stage_all(clone.tree))
        title = f"Onboard {app}: its app file {naming.NO_PROMOTE_MARK}"
        trailer = Trailer(target_env=main, apps={}, unit="onboard", app=app)
        change = Change(
            source_branch=f"onboard/{main}/{app}",
            title=title,
            description=(
                f"Adds `{path}`, the app layer of the third-party app **{app}**, to {main}: "
                f"edit it here from now on. The first environment gets the same file with "
                f"its own onboarding merge request. {naming.NO_PROMOTE_MARK}\n\n"
                f"{trailer.to_comment()}\n"
            ),
            labels=("gitops", "onboard", f"app::{app}", naming.NO_PROMOTE),
            identity=("onboard", f"app::{app}"),
            commit_message=f"{title}\n",
            files=files,
        )
        return _published(clone, change, added, dry_run)


def _register(
    deployment: DeploymentProject,
    env: Environment,
    app: str,
    repo: str | None,
    image: dict[str, str] | None,
    app_file: str | None,
    dry_run: bool,
) -> Registration:
    """`app`'s entry in `env` with the environment's settings (and, for a third-party
    app's first environment, its app file and image): what the entry still lacks."""
    with deployment.checkout(env.branch) as clone:
        text = (clone.tree / layout.ENV_FILE).read_text("utf-8")
        wanted = scaffold.entry_settings(deployment.settings, env.name)
        if image is not None:
            wanted["deployment"] = {"image": image}
        edits = _missing(text, app, wanted)
        files: dict[str, str | None] = {}
        if app_file is not None and not (clone.tree / layout.app_file(app)).exists():
            files[layout.app_file(app)] = app_file
        added = [literals_dotted(p) or "entry" for p, _ in edits] + list(files)
        plan = apply_edits(clone.tree, env, app, edits, files=files)
        moves = image is not None and plan.image is not None
        verb = "Onboard" if not _has_entry(text, app) else "Complete the entry of"
        title = f"{verb} {app} in {env.name}" + ("" if moves else f" {naming.NO_PROMOTE_MARK}")
        change = operation_change(plan, title, "onboard", "onboard", moves, app_repo=repo)
        return _published(clone, change, added, dry_run)


def _missing(text: str, app: str, wanted: dict[str, Any]) -> list[tuple[editor.CuePath, Any]]:
    """The edits that give `app`'s entry what it lacks of `wanted`: the whole entry if
    there is none, else each missing value (values already there are the team's)."""
    if not _has_entry(text, app):
        return [((), wanted)]
    entry = editor.get_value(text, ("apps", app, "env")) or {}
    return [(path, value) for path, value in _leaves(wanted, ()) if _lookup(entry, path) is None]


def _has_entry(text: str, app: str) -> bool:
    return app in editor.child_labels(text, ("apps",)) and "env" in editor.child_labels(
        text, ("apps", app)
    )


def _leaves(value: dict[str, Any], prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, item in value.items():
        if isinstance(item, dict):
            found += _leaves(item, (*prefix, key))
        else:
            found.append(((*prefix, key), item))
    return found


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _published(clone: Target, change: Change, added: list[str], dry_run: bool) -> Registration:
    outcome = publish(clone, change, dry_run=dry_run)
    if outcome.status == "noop" and not change.files and not dry_run:
        _close_stale(clone, change)
    return Registration.of(outcome, branch=clone.branch, added=added)


def _close_stale(clone: Target, change: Change) -> None:
    """An onboarding MR left open although the branch has everything: close it."""
    gl, path = clone.gl, clone.project.path
    for mr in gl.merge_requests(path, labels=change.identity, target_branch=clone.branch):
        gl.close_merge_request(
            path, mr.iid, f"Closed by gitops-helper: {clone.branch} already has all of it."
        )
