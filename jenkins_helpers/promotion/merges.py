"""What a merged MR changed: the apps whose layer or image moved, and the platform layer.

Read from GitLab (the MR's paths, env.cue at the merge commit and its parent), never
from the MR's text: the cascade promotes this when a trailer is not trusted, and
trust.judge_merge compares a trailer's claims with it (docs/PROMOTION.md, "What the
chain trusts"). Shared by the cascade and the provenance lookup of promote-env.
"""

from __future__ import annotations

from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.promotion.target import DeploymentProject


def changed(
    deployment: DeploymentProject, iid: int, merge_commit: str | None
) -> tuple[set[str], bool]:
    """Apps whose layer or image merge `iid` changed, and whether it changed the platform layer."""
    gl, path = deployment.gl, deployment.project.path
    paths = gl.merge_request_paths(path, iid)
    apps = {a for p in paths if (a := app_of(p))}
    if layout.ENV_FILE in paths and merge_commit:
        before = gl.commit_parents(path, merge_commit)[:1]
        old = gl.file_text(path, layout.ENV_FILE, before[0]) if before else None
        new = gl.file_text(path, layout.ENV_FILE, merge_commit)
        apps |= _image_changes(old or "", new or "")
    return apps, any(layout.is_platform_path(p) for p in paths)


def app_of(path: str) -> str | None:
    """The app whose layer `path` is (`services/apps/<app>.cue`), else None."""
    prefix = layout.APPS_DIR + "/"
    if path.startswith(prefix) and path.endswith(".cue") and "/" not in path[len(prefix) :]:
        return path[len(prefix) : -len(".cue")]
    return None


def _image_changes(old: str, new: str) -> set[str]:
    """Apps whose `deployment: image:` differs between two env.cue texts."""
    found = set()
    for app in set(_apps(old)) | set(_apps(new)):
        image = ("apps", app, "env", "deployment", "image")
        if _value(old, image) != _value(new, image):
            found.add(app)
    return found


def _apps(text: str) -> list[str]:
    try:
        return editor.child_labels(text, ("apps",)) if text else []
    except editor.EditError:
        return []


def _value(text: str, path: tuple[str, ...]) -> object:
    try:
        return editor.get_value(text, path) if text else None
    except editor.EditError:
        return "unreadable"
