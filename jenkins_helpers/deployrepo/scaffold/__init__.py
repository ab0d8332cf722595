"""`init-repo`: lay down a complete, working deployment repository."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from string import Template

from jenkins_helpers import git
from jenkins_helpers.cue import CueEngine
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.settings import (
    SETTINGS_FILE,
    Environment,
    Settings,
    default_settings,
)
from jenkins_helpers.errors import BadInput

# Distinct settings per environment, by position in the promotion order:
# the first is a small dev, the last a production-sized one.
_PROFILES = {
    "first": {
        "replicas": 1,
        "cpu_request": "100m",
        "memory_request": "128Mi",
        "cpu_limit": "500m",
        "memory_limit": "256Mi",
    },
    "middle": {
        "replicas": 2,
        "cpu_request": "250m",
        "memory_request": "256Mi",
        "cpu_limit": "1",
        "memory_limit": "512Mi",
    },
    "last": {
        "replicas": 3,
        "cpu_request": "500m",
        "memory_request": "512Mi",
        "cpu_limit": "2",
        "memory_limit": "1Gi",
    },
}


def init_repo(target: Path, env_names: list[str], engine: CueEngine | None = None) -> Settings:
    """Create the deployment repository at `target`: main plus one branch per environment.

    Nothing is left behind when a step fails.
    """
    settings = default_settings(env_names)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput(f"{target} already exists and is not empty", hint="pass a new directory")
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        _lay_down(target, settings, engine)
    except BaseException as e:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        elif target.is_dir():
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if isinstance(e, PermissionError | NotADirectoryError | FileExistsError):
            raise BadInput(
                f"cannot create the repository at {target}: {e.strerror or e}",
                "pass a directory you can write to",
            ) from e
        raise
    return settings


def _lay_down(target: Path, settings: Settings, engine: CueEngine | None) -> None:
    template = resources.files("jenkins_helpers.deployrepo") / "scaffold"
    with resources.as_file(template) as source:
        shutil.copytree(source / "repo", target, dirs_exist_ok=True)
        env_template = Template((source / "env.cue.tmpl").read_text())
    (target / SETTINGS_FILE).write_text(settings.to_yaml())
    git.init(target, settings.main_branch)
    git.commit_all(target, "Platform layer, app catalog and repository settings")
    for index, env in enumerate(settings.environments):
        git.switch(target, env.branch, create_from=settings.main_branch)
        (target / "env.cue").write_text(
            env_cue(env_template, env, _profile(index, len(settings.environments)))
        )
        render.render(target, env.name, engine)
        git.commit_all(target, f"{env.name}: environment settings and rendered manifests")
    git.switch(target, settings.main_branch)


def env_cue(template: Template, env: Environment, profile: dict[str, object]) -> str:
    """The env.cue text of one environment."""
    return template.substitute(name=env.name, branch=env.branch, namespace=env.namespace, **profile)


def _profile(index: int, count: int) -> dict[str, object]:
    if index == count - 1 and count > 1:
        return _PROFILES["last"]
    return _PROFILES["first"] if index == 0 else _PROFILES["middle"]
