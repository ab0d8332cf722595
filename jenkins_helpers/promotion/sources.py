"""Where an app version comes from: an app repository's build, or an environment branch.

A build (`promote`, from app CI) brings the app repo's checked `deployment/app.cue`
and the image just pushed. An environment branch (or any commit of the deployment
repo, e.g. an older one for a rollback) already holds both: the app's
`services/apps/<app>.cue` and its image in env.cue.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import git, inputs
from jenkins_helpers.cuesrc import applayer, editor
from jenkins_helpers.cuesrc.applayer import AppLayer
from jenkins_helpers.deployrepo import layout, render
from jenkins_helpers.errors import BadInput
from jenkins_helpers.promotion.model import AppVersion, ImageRef
from jenkins_helpers.secrets import mask

# The largest deployment/app.cue promote reads (docs/VALIDATION.md, "The app layer"): an
# app layer's largest legitimate part is its ConfigMap's data, at most 1 MiB in Kubernetes.
MAX_APP_LAYER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Build:
    """An app version from its CI: the checked app layer, where it came from, and the image."""

    version: AppVersion
    layer: AppLayer
    origin: str  # the app repository: its URL without credentials, or its path; masked
    commit: str | None  # its commit, when it is a git checkout


def from_app_repo(app_repo: Path, app: str, image: ImageRef) -> Build:
    """Read and check `<app_repo>/deployment/app.cue` for `app` promoting `image`."""
    _check_app_file(app_repo)
    layer = applayer.read(app_repo, app)
    applayer.check_repository(layer, image.repository)
    origin, commit = git.source_of(app_repo)
    # Recorded in the app file's header, the commit, the MR and its trailer, --json: no
    # credentials (clean_url, in any form git accepts), and no known secret in the path.
    origin = mask(origin)
    text = applayer.app_file_text(layer, origin, commit)
    return Build(AppVersion(app, text, image), layer, origin, commit)


def _check_app_file(app_repo: Path) -> None:
    """Refuse a deployment/app.cue that is no regular file (a FIFO would block the read
    forever, a device never end) or is over MAX_APP_LAYER_BYTES (CUE would take minutes
    and gigabytes): looked at with stat, which opens nothing. Where there is no such
    file, applayer.read says so."""
    if not app_repo.is_dir():
        return
    shown = str(app_repo / applayer.APP_FILE)
    try:
        found = inputs.repo_path(app_repo, applayer.APP_FILE).stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise BadInput(f"cannot read {shown}: {e.strerror or e}") from e
    if not stat.S_ISREG(found.st_mode):
        raise BadInput(
            f"{shown} is {_kind(found.st_mode)}, not a regular file",
            "deployment/app.cue must be the app layer itself: a file committed to the app "
            "repository",
        )
    if found.st_size > MAX_APP_LAYER_BYTES:
        raise BadInput(
            f"{shown} is {found.st_size} bytes, over the {MAX_APP_LAYER_BYTES} an app layer "
            "may have",
            "an app layer holds its app's settings; a ConfigMap's data, its largest part, "
            "is at most 1 MiB in Kubernetes (docs/VALIDATION.md)",
        )


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def apps_at(files: git.Files, rev: str) -> list[str]:
    """The apps `rev`'s env.cue has an entry for (those the environment deploys)."""
    text = files.text(rev, layout.ENV_FILE)
    return editor.child_labels(text, ("apps",)) if text else []


def app_files_at(tree: Path, rev: str) -> list[str]:
    """The apps with an app layer (`services/apps/<app>.cue`) at `rev`."""
    return sorted(
        path.removeprefix(layout.APPS_DIR + "/").removesuffix(".cue")
        for path in git.files_at(tree, rev, layout.APPS_DIR)
        if path.endswith(".cue")
    )


def from_revision(files: git.Files, rev: str, app: str) -> AppVersion | None:
    """`app` as revision `rev` of the deployment repo has it; None without an image there.

    The image is env.cue's tag and digest with the repository the rendered
    Deployment names (what the environment really runs), else the app layer's literal.
    """
    app_file = files.text(rev, layout.app_file(app))
    env_text = files.text(rev, layout.ENV_FILE)
    if app_file is None or env_text is None:
        return None
    image = editor.get_value(env_text, ("apps", app, "env", "deployment", "image")) or {}
    if not isinstance(image, dict) or not image.get("tag"):
        return None  # onboarded without an image yet: nothing to promote
    repository = _rendered_repository(files, rev, app, env_text) or editor.get_value(
        app_file, ("apps", app, "app", "deployment", "image", "repository")
    )
    if not isinstance(repository, str):
        return None
    digest = image.get("digest")
    return AppVersion(app, app_file, ImageRef(repository, str(image["tag"]), digest or None))


def _rendered_repository(files: git.Files, rev: str, app: str, env_text: str) -> str | None:
    env = _env_name(env_text)
    text = files.text(rev, layout.deployment_file(env, app)) if env else None
    image = render.deployment_image(text) if text is not None else None
    return ImageRef.parse(image).repository if image is not None else None


def _env_name(env_text: str) -> str | None:
    name = editor.get_value(env_text, ("environment", "name"))
    return name if isinstance(name, str) else None
