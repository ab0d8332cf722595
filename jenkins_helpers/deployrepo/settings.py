"""The deployment repository's settings file, `gitops.yaml`: environments and branches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput, UserError

SETTINGS_FILE = "gitops.yaml"
# Where the deployment repository lives on GitLab unless --project / GITOPS_PROJECT says.
DEFAULT_PROJECT = "platform/k8s-deployments"


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
        name = inputs.environment(name, self.names)
        return next(env for env in self.environments if env.name == name)

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
        inputs.environment_name(name)
    if len(set(env_names)) != len(env_names) or not env_names:
        raise BadInput(
            f"environments must be distinct and at least one: {env_names!r}",
            hint="for example --envs dev,stage,prod",
        )
    settings = Settings("main", tuple(Environment(n, n, n) for n in env_names))
    return _distinct_branches(settings, "--envs")


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
        name = _checked(inputs.environment_name, item["name"], path)
        branch = _checked(inputs.branch_name, item.get("branch", name), path)
        namespace = _checked(
            lambda v: inputs.dns_label(v, "namespace", "use the Kubernetes namespace"),
            item.get("namespace", name),
            path,
        )
        envs.append(Environment(name, branch, namespace))
    if not envs or len({e.name for e in envs}) != len(envs):
        raise UserError(f"{path}: environments must be distinct and at least one")
    main = _checked(inputs.branch_name, data.get("mainBranch", "main"), path)
    return _distinct_branches(Settings(main, tuple(envs)), path)


def _distinct_branches(settings: Settings, where: Path | str) -> Settings:
    """Every environment needs its own branch, and none may be the main branch."""
    branches = [settings.main_branch, *(e.branch for e in settings.environments)]
    if len(set(branches)) != len(branches):
        raise BadInput(
            f"{where}: the main branch and the environments' branches must all differ: "
            f"{', '.join(branches)}",
            "each environment deploys from its own branch; main holds the platform layer",
        )
    return settings


def _checked(check: Callable[[object], str], value: object, where: Path | str) -> str:
    """Run an inputs check on a value of gitops.yaml, naming the file in the error."""
    try:
        return check(value)
    except BadInput as e:
        raise BadInput(f"{where}: {e.message}", e.hint) from e
