"""Reconcile: merges whose cascade never happened, found from trailers and branch state.

GitLab gives up on a webhook that keeps failing (and may disable it), and events are
not delivered while it is disabled: a promotion system must not trust every event
to arrive. For each branch that feeds another (main, and every environment but the
last), the recently merged MRs are read newest first; for each unit the newest one
carried, the merge was missed when the unit still differs in the next environment
and no open MR there carries it as the source has it now. That is read from the
branches, not from MR text: an open promotion MR whose branch still proposes an
older version (1.2.0 merged into dev while stage's MR carries 1.1.0) counts as
missing, and the cascade updates that MR in place. Running the cascade for a missed
merge is what the webhook would have done; it is idempotent, so a merge handled
meanwhile costs a noop.
"""

from __future__ import annotations

from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.forge import Forge
from jenkins_helpers.operations.cascade import Merged, Step, next_step
from jenkins_helpers.promotion import naming, trust
from jenkins_helpers.promotion.target import DeploymentProject

RECENT = 20  # merged MRs read per branch


def missed(deployment: DeploymentProject, recent: int = RECENT) -> list[tuple[Merged, Step]]:
    """The merges whose promotion is missing downstream, oldest first."""
    settings = deployment.settings
    feeding = [settings.main_branch, *(e.branch for e in settings.environments[:-1])]
    found = []
    for branch in feeding:
        seen: set[str] = set()
        merges = deployment.gl.merge_requests(
            deployment.project.path, labels=(), target_branch=branch, state="merged", newest=recent
        )
        for mr in merges:
            merged = Merged(
                mr.iid,
                mr.title,
                mr.description,
                mr.labels,
                branch,
                mr.merged_commit,
                mr.merged_at,
                mr.author_id,
            )
            step = next_step(deployment, merged)
            if isinstance(step, str):
                continue
            units = set(step.selection.apps or ()) | (
                {"platform"} if step.selection.platform else set()
            )
            fresh = units - seen
            seen |= units
            if (
                fresh
                and not _overruled(deployment, step, merged, fresh)
                and _missing(deployment, step, fresh)
            ):
                found.append((merged, step))
    return list(reversed(found))


def _missing(deployment: DeploymentProject, step: Step, units: set[str]) -> bool:
    """Whether some unit differs between source and target with no open MR carrying it."""
    settings = deployment.settings
    source = (
        settings.main_branch
        if step.source == settings.main_branch
        else settings.environment(step.source).branch
    )
    target = settings.environment(step.target).branch
    carriers = _carriers(deployment, target)
    images = source != settings.main_branch
    for unit in sorted(units):
        wanted = _state(deployment, source, unit, images)
        if wanted != _state(deployment, target, unit, images) and all(
            wanted != _state(deployment, branch, unit, images) for branch in carriers.get(unit, ())
        ):
            return True
    return False


def _overruled(deployment: DeploymentProject, step: Step, merged: Merged, units: set[str]) -> bool:
    """Whether someone changed one of `units` in the target deliberately since (a revert,
    rollback or hotfix marked `[no-promote]`): then an older merge upstream is not
    promoted over it. A deliberate change to another app overrules nothing."""
    target = deployment.settings.environment(step.target).branch
    gl, path = deployment.gl, deployment.project.path
    recent = gl.merge_requests(path, labels=(), target_branch=target, state="merged", newest=RECENT)
    for mr in recent:
        if not naming.no_promote_reason(mr.title, mr.description, mr.labels) or (
            mr.merged_at or ""
        ) <= (merged.merged_at or ""):
            continue
        landed = mr.merged_commit
        if landed is None:
            return True  # what it changed cannot be read: stay on the safe side
        before = gl.commit_parents(path, landed)[0]
        if any(
            _state(deployment, before, unit, True) != _state(deployment, landed, unit, True)
            for unit in units
        ):
            return True
    return False


def _carriers(deployment: DeploymentProject, target: str) -> dict[str, list[str]]:
    """unit -> source branches of the tool's own open promotion MRs into `target` that
    name it (anyone else's trailer is no evidence that a promotion is on its way; what
    the branch proposes is compared by the caller)."""
    found: dict[str, list[str]] = {}
    gl, path = deployment.gl, deployment.project.path
    for mr in gl.merge_requests(path, labels=("promotion",), target_branch=target):
        trailer = trust.own_trailer(deployment, mr)
        if trailer is not None:
            for unit in set(trailer.apps) | ({"platform"} if trailer.platform else set()):
                found.setdefault(unit, []).append(mr.source_branch)
    return found


def _state(deployment: DeploymentProject, ref: str, unit: str, images: bool) -> object:
    """What a promotion would move for `unit` at `ref`: the platform layer's files, or an
    app's layer and (between environments) its image."""
    gl, path = deployment.gl, deployment.project.path
    return _platform(gl, path, ref) if unit == "platform" else _app(gl, path, ref, unit, images)


def _platform(gl: Forge, path: str, ref: str) -> dict[str, str]:
    files = gl.blob_ids(path, ref, recursive=False)
    for directory in layout.PLATFORM_PATHS:
        if directory not in files:  # not a file at the root: a directory
            files |= gl.blob_ids(path, ref, directory)
    return {p: i for p, i in files.items() if layout.is_platform_path(p)}


def _app(gl: Forge, path: str, ref: str, app: str, images: bool) -> tuple[object, ...]:
    """What a promotion would move for `app`: its app layer, and (between environments)
    its image."""
    app_file = gl.file_text(path, layout.app_file(app), ref)
    if not images:
        return (app_file,)
    env_text = gl.file_text(path, layout.ENV_FILE, ref) or ""
    try:
        image = editor.get_value(env_text, ("apps", app, "env", "deployment", "image"))
    except editor.EditError:
        image = "unreadable"
    return (app_file, image)
