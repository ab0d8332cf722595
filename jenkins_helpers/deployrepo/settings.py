"""The deployment repository's settings file, `gitops.yaml`: environments and branches."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from jenkins_helpers.errors import BadInput, UserError

SETTINGS_FILE = "gitops.yaml"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Environment:
    name: str
    branch: str
    namespace: str


@dataclass(frozen=True)
class Settings:
    main_branch: str
    environments: tuple[Environment, ...]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.environments]

    def environment(self, name: str) -> Environment:
        """The environment called `name`; BadInput naming the known ones otherwise."""
        for env in self.environments:
            if env.name == name:
                return env
        raise BadInput(
            f"unknown environment {name!r}",
            hint=f"environments of this repository (gitops.yaml): {', '.join(self.names)}",
        )

    def to_yaml(self) -> str:
        envs = [
            {"name": e.name, "branch": e.branch, "namespace": e.namespace}
            for e in self.environments
        ]
        body = yaml.safe_dump(
            {"mainBranch": self.main_branch, "environments": envs}, sort_keys=False
        )
        return (
            "# Settings of this deployment repository, read by gitops-helper.\n"
            "# Environments in promotion order: changes flow from the first to the last.\n"
            "# Each one deploys from its own branch, which changes only through merge requests.\n"
            + body
        )


def default_settings(env_names: list[str]) -> Settings:
    """Settings for environments named `env_names`, each on a branch and namespace of its name."""
    for name in env_names:
        _check_name(name, "environment name")
    if len(set(env_names)) != len(env_names) or not env_names:
        raise BadInput(
            f"environments must be distinct and at least one: {env_names!r}",
            hint="for example --envs dev,stage,prod",
        )
    return Settings("main", tuple(Environment(n, n, n) for n in env_names))


def load_settings(repo: Path) -> Settings:
    """Read `gitops.yaml` of the deployment repository at `repo`."""
    path = repo / SETTINGS_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise UserError(
            f"{path} not found: {repo} is not a deployment repository",
            hint="create one with `gitops-helper init-repo DIR`, or pass --repo",
        ) from e
    except yaml.YAMLError as e:
        raise UserError(f"{path} is not valid YAML: {e}") from e
    return _parse(data, path)


def parse_settings(text: str, where: str) -> Settings:
    """Read `gitops.yaml` content fetched from elsewhere (e.g. the GitLab API); `where` names it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{where} is not valid YAML: {e}") from e
    return _parse(data, where)


def _parse(data: object, path: Path | str) -> Settings:
    if not isinstance(data, dict) or not isinstance(data.get("environments"), list):
        raise UserError(f"{path}: expected a mapping with an `environments` list")
    envs = []
    for item in data["environments"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UserError(f"{path}: every environment needs a `name`: {item!r}")
        name = _check_name(item["name"], f"{path}: environment name")
        branch = str(item.get("branch", name))
        namespace = _check_name(str(item.get("namespace", name)), f"{path}: namespace")
        envs.append(Environment(name, branch, namespace))
    if not envs or len({e.name for e in envs}) != len(envs):
        raise UserError(f"{path}: environments must be distinct and at least one")
    return Settings(str(data.get("mainBranch", "main")), tuple(envs))


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise BadInput(
            f"{what} {value!r} is not a DNS-1123 label",
            hint="use lowercase letters, digits and '-', first and last with a letter or digit",
        )
    return value
