"""Where things live in the deployment repository: the one owner of its file layout.

gitops.yaml                        settings (settings.py)
cue.mod/, deployments.cue,         the platform layer (main; promoted as a unit)
platform/
services/apps/<app>.cue            an app's app layer
env.cue                            an environment branch's env layer
manifests/<env>/<app>/<kind>-<name>.yaml   rendered, one object per file
"""

from __future__ import annotations

from collections.abc import Collection

ENV_FILE = "env.cue"
APPS_DIR = "services/apps"
MANIFESTS_DIR = "manifests"
# The package holding every app: it includes the repo root's files (platform
# wiring, env.cue) and services/apps/*.cue. See the deployment repo's README.
CUE_PACKAGE = "./services/apps"
# Paths (files, or directories with everything below) that make up the platform layer.
PLATFORM_PATHS = ("cue.mod", "deployments.cue", "platform")


def app_file(app: str) -> str:
    """`services/apps/<app>.cue`: the app layer of `app`."""
    return f"{APPS_DIR}/{app}.cue"


def env_manifests(env: str) -> str:
    """`manifests/<env>`: everything ArgoCD syncs for `env`."""
    return f"{MANIFESTS_DIR}/{env}"


def app_manifests(env: str, app: str) -> str:
    """`manifests/<env>/<app>`: one app's objects (its ArgoCD Application included)."""
    return f"{env_manifests(env)}/{app}"


def manifest_file(env: str, app: str, kind: str, name: str) -> str:
    """The file of one object: `<kind>-<name>.yaml`, the kind in lower case."""
    return f"{app_manifests(env, app)}/{kind.lower()}-{name}.yaml"


def deployment_file(env: str, app: str) -> str:
    """The file of the app's Deployment (named like the app)."""
    return manifest_file(env, app, "Deployment", app)


def sparse_patterns(apps: Collection[str]) -> list[str]:
    """What a change of `apps` alone reads and writes, as sparse-checkout patterns.

    Everything but the other apps' app files and manifests: at 1000 apps, 5 of
    every 6 files of an environment branch, and most of the time of checking it out.
    """
    patterns = ["/*", f"!/{MANIFESTS_DIR}/", f"!/{APPS_DIR}/"]
    for app in sorted(apps):
        patterns += [f"/{MANIFESTS_DIR}/*/{app}/", f"/{app_file(app)}"]
    return patterns


def is_platform_path(path: str) -> bool:
    """Whether `path` (relative, with /) belongs to the platform layer."""
    return any(path == p or path.startswith(p + "/") for p in PLATFORM_PATHS)
