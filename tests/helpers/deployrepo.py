"""Build real deployment repositories and read what each environment deploys."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from jenkins_helpers import git
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.scaffold import init_repo
from tests.helpers.apprepo import app_cue

ENVS = ("dev", "stage", "prod")


def make_scaffold(path: Path) -> Path:
    """`gitops-helper init-repo` at `path` with dev, stage and prod."""
    init_repo(path, list(ENVS))
    return path


def copy_repo(template: Path, path: Path) -> Path:
    """A private copy of a prepared repository (cheaper than laying one down again)."""
    shutil.copytree(template, path, symlinks=True)
    return path


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a file as a person would, failing loudly if `old` is not there exactly once."""
    text = path.read_text()
    if text.count(old) != 1:
        raise AssertionError(f"{old!r} occurs {text.count(old)} times in {path}")
    path.write_text(text.replace(old, new))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def on_each_branch(repo: Path, envs: tuple[str, ...], edit: Any) -> None:
    """Apply `edit(repo)` on each env branch and commit (what a merged MR chain leaves)."""
    for env in envs:
        git.switch(repo, env)
        edit(repo)
        git.commit_all(repo, f"{env}: test change")


def deployed(repo: Path, env: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Render `env` on its branch and read back its manifests, by (app, kind, name)."""
    git.switch(repo, env)
    render.render(repo, env)
    git.commit_all(repo, f"{env}: render")
    objects = {}
    for file in sorted((repo / "manifests" / env).rglob("*.yaml")):
        obj = yaml.safe_load(file.read_text())
        objects[(file.parent.name, obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def container(objects: dict[tuple[str, str, str], dict[str, Any]], app: str) -> dict[str, Any]:
    """The app's (only) container in its Deployment."""
    return objects[(app, "Deployment", app)]["spec"]["template"]["spec"]["containers"][0]


def env_vars(
    objects: dict[tuple[str, str, str], dict[str, Any]], app: str
) -> list[tuple[str, str]]:
    return [(e["name"], e.get("value", "<ref>")) for e in container(objects, app)["env"]]


def add_apps(path: Path, apps: list[str]) -> Path:
    """A fresh deployment repository whose every branch also deploys `apps` (tag 1.0.0):
    their app layers on main and each environment, an entry in each env.cue, rendered."""
    make_scaffold(path)
    layers = {
        app: app_cue(
            app,
            f"registry.example.com/{app}",
            "port: 8080",
            'readinessProbe: httpGet: {path: "/ready", port: "http"}',
            "podSecurityContext: runAsNonRoot: true",
        )
        for app in apps
    }
    for branch in ("main", *ENVS):
        git.switch(path, branch)
        for app, text in layers.items():
            (path / "services" / "apps" / f"{app}.cue").write_text(text)
        if branch != "main":
            entries = "".join(
                f'\napps: "{app}": env: {{\n\tdeployment: image: tag: "1.0.0"\n\treplicas: 1\n}}\n'
                for app in apps
            )
            append(path / "env.cue", entries)
            render.render(path, branch)
        git.commit_all(path, f"{branch}: {len(apps)} more apps")
    git.switch(path, "main")
    return path
