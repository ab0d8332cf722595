"""Where an app version comes from: an app repository's build, or an environment branch.

A build (`promote`, from app CI) brings the app repo's checked `deployment/app.cue`
and the image just pushed. An environment branch (or any commit of the deployment
repo, e.g. an older one for a rollback) already holds both: the app's
`services/apps/<app>.cue` and its image in env.cue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import git
from jenkins_helpers.cuesrc import applayer
from jenkins_helpers.cuesrc.applayer import AppLayer
from jenkins_helpers.promotion.model import AppVersion, ImageRef


@dataclass(frozen=True)
class Build:
    """An app version from its CI: the checked app layer, where it came from, and the image."""

    version: AppVersion
    layer: AppLayer
    origin: str  # the app repository: its URL without credentials, or its path
    commit: str | None  # its commit, when it is a git checkout


def from_app_repo(app_repo: Path, app: str, image: ImageRef) -> Build:
    """Read and check `<app_repo>/deployment/app.cue` for `app` promoting `image`."""
    layer = applayer.read(app_repo, app)
    applayer.check_repository(layer, image.repository)
    origin, commit = git.source_of(app_repo)
    text = applayer.app_file_text(layer, origin, commit)
    return Build(AppVersion(app, text, image), layer, origin, commit)
