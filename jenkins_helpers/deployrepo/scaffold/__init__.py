"""`init-repo`: lay down a complete, working deployment repository."""

from __future__ import annotations

import contextlib
import copy
import shutil
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from jenkins_helpers import git, inputs
from jenkins_helpers.cue import CueEngine
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.settings import (
    SETTINGS_FILE,
    Environment,
    Settings,
    default_settings,
)
from jenkins_helpers.errors import BadInput

# Distinct settings per environment, by position in the promotion order: the first
# is a small dev, the last a production-sized one. The scaffold's apps get them, and
# so does every app onboarded later (`entry_settings`).
_PROFILES: dict[str, dict[str, Any]] = {
    "first": {
        "replicas": 1,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    },
    "middle": {
        "replicas": 2,
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
    },
    "last": {
        "replicas": 3,
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
    },
}


def entry_settings(settings: Settings, env: str) -> dict[str, Any]:
    """The env.cue settings a new app gets in `env`: replicas and resources by position."""
    names = settings.names
    return copy.deepcopy(_PROFILES[_position(names.index(env), len(names))])


def init_repo(target: Path, env_names: list[str], engine: CueEngine | None = None) -> Settings:
    """Create the deployment repository at `target`: main plus one branch per environment.

    Nothing is left behind when a step fails.
    """
    settings = default_settings(env_names)
    made = _make_directory(target)
    try:
        _lay_down(target, settings, engine)
    except BaseException as e:
        if made:
            shutil.rmtree(target, ignore_errors=True)
            _remove_empty(made[1:])
        elif target.is_dir():
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if isinstance(e, PermissionError | NotADirectoryError | FileExistsError):
            raise _cannot_create(target, e) from e
        raise
    return settings


def _make_directory(target: Path) -> list[Path]:
    """Create `target` (an empty directory may exist already); returns the directories it
    made, `target` first. BadInput, with nothing made, when the path cannot be one: a
    file or a non-empty directory there, a name too long, a place no directory can be
    made (/proc/x, a read-only file system...)."""
    made: list[Path] = []
    try:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise BadInput(
                f"{inputs.show(str(target))} already exists and is not empty",
                hint="pass a new directory",
            )
        made = [p for p in (target, *target.parents) if not p.exists()]
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(made)
        raise _cannot_create(target, e) from e
    return made


def _cannot_create(target: Path, e: OSError) -> BadInput:
    return BadInput(
        f"cannot create the repository at {inputs.show(str(target))}: {e.strerror or e}",
        "pass a directory you can write to",
    )


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories made on the way to a target (deepest first), if empty."""
    for directory in directories:
        with contextlib.suppress(OSError):  # not made after all, or not empty: not ours
            directory.rmdir()


def _lay_down(target: Path, settings: Settings, engine: CueEngine | None) -> None:
    template = resources.files("jenkins_helpers.deployrepo") / "scaffold"
    with resources.as_file(template) as source:
        shutil.copytree(source / "repo", target, dirs_exist_ok=True)
        env_template = Template((source / "env.cue.tmpl").read_text())
    (target / SETTINGS_FILE).write_text(settings.to_yaml())
    git.init(target, settings.main_branch)
    git.commit_all(target, "Platform layer, app catalog and repository settings")
    for env in settings.environments:
        git.switch(target, env.branch, create_from=settings.main_branch)
        (target / "env.cue").write_text(
            env_cue(env_template, env, entry_settings(settings, env.name))
        )
        render.render(target, env.name, engine)
        git.commit_all(target, f"{env.name}: environment settings and rendered manifests")
    git.switch(target, settings.main_branch)


def template(name: str) -> str:
    """A template shipped next to the scaffold (`env.cue.tmpl`, `third-party-app.cue.tmpl`)."""
    return (resources.files(__name__) / name).read_text("utf-8")


def env_cue(template: Template, env: Environment, profile: dict[str, Any]) -> str:
    """The env.cue text of one environment."""
    resources = profile["resources"]
    return template.substitute(
        name=env.name,
        branch=env.branch,
        namespace=env.namespace,
        replicas=profile["replicas"],
        cpu_request=resources["requests"]["cpu"],
        memory_request=resources["requests"]["memory"],
        cpu_limit=resources["limits"]["cpu"],
        memory_limit=resources["limits"]["memory"],
    )


def _position(index: int, count: int) -> str:
    if index == count - 1 and count > 1:
        return "last"
    return "first" if index == 0 else "middle"
