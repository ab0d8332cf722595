"""`decommission`: an app removed from every environment, last first, then from main (F3).

Production lets go of the app first, so no environment ever runs it without the
environments after it having done so too. One MR at a time: the removal from the
last environment that still holds the app (its env.cue entry, its app file, its
manifests and with them its ArgoCD Application, which ArgoCD then prunes). When it
merges, the webhook runs `advance` again: the next environment down, then main's
app file, then the app's Jenkins job and the push hook on its repository.

`advance` decides from what the branches hold, not from a record of progress, so
rerunning the command resumes where things stand and never opens a second MR.
Every step closes the app's other open MRs: a promotion merged meanwhile would
bring the app back.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from jenkins_helpers import git, gitlab, inputs, jenkins
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.promotion import target, trust
from jenkins_helpers.promotion.model import Outcome, Status
from jenkins_helpers.promotion.plan import apply_edits
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject, Target
from jenkins_helpers.promotion.trailer import Trailer

Step = Literal["remove", "cleanup", "done"]
# How many of the app's onboarding MRs (per state) are read to find its repository.
REPO_LOOKBACK = 20


@dataclass(frozen=True, kw_only=True)
class DecommissionResult(Outcome):
    """Where a decommission stands after one step."""

    # None: the step proposed no MR (cleanup, done). Not `noop`, which says an MR already
    # does it; the JSON has always said null there (vars/gitopsDecommission.txt).
    status: Status | None  # type: ignore[assignment]
    branch: str | None = None  # here the branch the removal MR is for, not the MR's own
    app: str
    project: str
    step: Step  # remove: an MR is open; cleanup: the Jenkins side was done; done
    remaining: list[str]  # branches still holding the app, in the order they let go
    closed: list[int] = field(default_factory=list)  # the app's other MRs, closed
    app_repo: str | None = None
    jenkins_job: str | None = None  # deleted, absent, or why it was left
    hooks_deleted: int = 0


def decommission(
    *,
    app: str,
    project: str,
    gitlab_url: str | None,
    repo: str | None = None,
    dry_run: bool = False,
) -> DecommissionResult:
    """Start (or resume) removing `app` everywhere; `repo` is its repository, if any."""
    app = inputs.app_name(app)
    project = inputs.project_path(project)
    repo = inputs.project_path(repo) if repo is not None else None
    server = jenkins.access_if_configured()
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        return advance(deployment, app, repo, server, dry_run=dry_run, check_name=True)


def advance(
    deployment: DeploymentProject,
    app: str,
    repo: str | None,
    server: jenkins.JenkinsAccess | None,
    *,
    dry_run: bool = False,
    check_name: bool = False,
) -> DecommissionResult:
    """The next step of removing `app`, from what the branches hold now. `check_name`:
    when nothing holds it, refuse a name that looks like a misspelt existing app."""
    remaining = holding(deployment, app)
    repo = repo or _app_repo(deployment, app)
    if remaining:
        branch = remaining[0]
        with deployment.checkout(branch) as clone:
            change = _removal(deployment, clone, app, repo, len(remaining))
            outcome = publish(clone, change, dry_run=dry_run)
        closed = [] if dry_run else _close_others(deployment, app, outcome.mr_iid)
        return DecommissionResult.of(
            outcome,
            branch=branch,
            dry_run=dry_run,
            app=app,
            project=deployment.project.path,
            step="remove",
            remaining=remaining,
            closed=closed,
            app_repo=repo,
        )
    if check_name:
        _not_misspelt(deployment, app)
    job, hooks = _cleanup(deployment, app, repo, server, dry_run)
    done = job in ("deleted", "absent")
    return DecommissionResult(
        status=None,
        dry_run=dry_run,
        app=app,
        project=deployment.project.path,
        step="done" if done and not dry_run else "cleanup",
        remaining=[],
        app_repo=repo,
        jenkins_job=job,
        hooks_deleted=hooks,
    )


def holding(deployment: DeploymentProject, app: str) -> list[str]:
    """The branches that still hold `app`: environments from the last, then main."""
    gl, path = deployment.gl, deployment.project.path
    found = []
    for env in reversed(deployment.settings.environments):
        text = gl.file_text(path, layout.ENV_FILE, env.branch) or ""
        if (
            _has_entry(text, app)
            or gl.file_text(path, layout.app_file(app), env.branch) is not None
            or gl.blob_ids(path, env.branch, layout.app_manifests(env.name, app))
        ):
            found.append(env.branch)
    main = deployment.settings.main_branch
    if gl.file_text(path, layout.app_file(app), main) is not None:
        found.append(main)
    return found


def _has_entry(text: str, app: str) -> bool:
    try:
        return app in editor.child_labels(text, ("apps",))
    except editor.EditError:
        return False


def _removal(
    deployment: DeploymentProject, clone: Target, app: str, repo: str | None, steps: int
) -> Change:
    """The MR removing `app` from the clone's branch: entry, app file, manifests."""
    settings = deployment.settings
    env = next((e for e in settings.environments if e.branch == clone.branch), None)
    app_file = layout.app_file(app)
    if env is None:  # main: the app file only
        (clone.tree / app_file).unlink(missing_ok=True)
        files = tuple(git.stage_all(clone.tree))
        where = settings.main_branch
    else:
        text = (clone.tree / layout.ENV_FILE).read_text("utf-8")
        edits = [((), editor.DELETE)] if _has_entry(text, app) else []
        files = apply_edits(clone.tree, env, app, edits, files={app_file: None}).changes
        where = env.name
    title = f"Decommission {app}: remove it from {where}"
    trailer = Trailer(target_env=where, apps={}, unit="decommission", app=app, app_repo=repo)
    then = (
        "When it merges, the removal from the next environment down follows."
        if steps > 1
        else "When it merges, the app's Jenkins job and its repository's push hook are deleted."
    )
    removed = "\n".join(f"- `{f.path}`" for f in files if f.status == "deleted")
    description = (
        f"Removes **{app}** from **{where}**: its env.cue entry, its app file and its "
        "manifests (its ArgoCD Application with them, so ArgoCD prunes what it deployed). "
        f"{then} Branches still holding it: {steps}.\n\n"
        f"{removed}\n\n{trailer.to_comment()}\n"
    )
    return Change(
        source_branch=f"decommission/{where}/{app}",
        title=title,
        description=description,
        labels=("gitops", "decommission", f"app::{app}", f"env::{where}"),
        identity=("decommission", f"app::{app}", f"env::{where}"),
        commit_message=f"{title}\n",
        files=files,
    )


def _close_others(deployment: DeploymentProject, app: str, keep: int | None) -> list[int]:
    """Close the app's open MRs other than its decommission's: none may bring it back."""
    gl, path = deployment.gl, deployment.project.path
    closed = []
    for mr in gl.merge_requests(path, labels=(f"app::{app}",), target_branch=None):
        if mr.iid == keep or "decommission" in mr.labels:
            continue
        note = f"Closed by gitops-helper: {app} is being decommissioned" + (
            f" (!{keep})." if keep else "."
        )
        gl.close_merge_request(path, mr.iid, note)
        closed.append(mr.iid)
    return closed


def _app_repo(deployment: DeploymentProject, app: str) -> str | None:
    """The app's GitLab repository, as its onboarding MRs recorded it (None: third party,
    or onboarded by hand: then pass --repo)."""
    gl, path = deployment.gl, deployment.project.path
    for state in ("merged", "opened"):
        for mr in gl.merge_requests(
            path,
            labels=("onboard", f"app::{app}"),
            target_branch=None,
            state=state,
            newest=REPO_LOOKBACK,
        ):
            trailer = trust.own_trailer(deployment, mr)
            if trailer is not None and trailer.app_repo:
                return trailer.app_repo
    return None


def _not_misspelt(deployment: DeploymentProject, app: str) -> None:
    """Nothing of `app` is left in the repository: a misspelt name must not pass as done,
    unless a merged decommission MR shows the app was there."""
    gl, path = deployment.gl, deployment.project.path
    if gl.merge_requests(
        path, labels=("decommission", f"app::{app}"), target_branch=None, state="merged", newest=1
    ):
        return
    first = deployment.settings.environments[0].branch
    try:
        known = editor.child_labels(gl.file_text(path, layout.ENV_FILE, first) or "", ("apps",))
    except editor.EditError:
        known = []
    close = difflib.get_close_matches(app, known, n=1)
    if close:
        raise BadInput(f"no app {app} in {path}", f"did you mean {close[0]}?")


def _cleanup(
    deployment: DeploymentProject,
    app: str,
    repo: str | None,
    server: jenkins.JenkinsAccess | None,
    dry_run: bool,
) -> tuple[str, int]:
    """Delete the app's Jenkins job and the push hooks on its repository that start it."""
    hooks = 0
    if repo is not None:
        gl = deployment.gl
        try:
            found = gl.hooks(repo)
        except UserError:
            found = []  # the repository itself is gone: so are its hooks
        ours = [h for h in found if h.url.rstrip("/").endswith(f"/project/{app}")]
        for hook in ours if not dry_run else []:
            gl.delete_hook(repo, hook.id)
        hooks = len(ours)
    if server is None:
        return "left: JENKINS_URL, JENKINS_USER and JENKINS_TOKEN are not set", hooks
    with jenkins.Jenkins(server) as jenkins_server:
        if dry_run:
            return ("deleted" if jenkins_server.job_exists(app) else "absent"), hooks
        return ("deleted" if jenkins_server.delete_job(app) else "absent"), hooks
