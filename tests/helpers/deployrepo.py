"""Build real deployment repositories and read what each environment deploys."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from jenkins_helpers import git
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.scaffold import init_repo

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
