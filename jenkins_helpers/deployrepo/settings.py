"""The deployment repository's settings file, `gitops.yaml`: environments, branches and
the policy checks of `validate` (docs/VALIDATION.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput, UserError

SETTINGS_FILE = "gitops.yaml"
# Where the deployment repository lives on GitLab unless --project / GITOPS_PROJECT says.
DEFAULT_PROJECT = "platform/k8s-deployments"
T = TypeVar("T")

# The first part of every branch the tool pushes for an MR: `promote/<env>/<app>` (and
# `promote/<env>/_platform`, `_main`, `_group-<group>`), `set/`, `rollback/`, `onboard/`,
# `decommission/<env>/<app>` and `revert/<env>/<commit>`. git cannot have a branch
# `promote` beside `promote/dev/app` (a ref is a file or a directory, not both), so no
# branch of gitops.yaml may start with one of them and no environment is named after one.
RESERVED_BRANCH_PREFIXES = ("promote", "set", "rollback", "onboard", "decommission", "revert")

# An environment's name goes into `<env>-<app>`: the `app.kubernetes.io/instance` label
# of every object of every app, and the ArgoCD Application's name. A Kubernetes label
# value has at most 63 characters; a name of at most 20 leaves 42 for the app's.
LABEL_VALUE_MAX = 63
ENV_NAME_MAX = 20
APP_ROOM = LABEL_VALUE_MAX - ENV_NAME_MAX - 1

# The policy checks gitops.yaml can relax (docs/VALIDATION.md): each is an error unless
# turned off, or allowed for an app.
POLICY_RULES = ("run-as-root", "apparmor-unconfined", "foreign-secret")


@dataclass(frozen=True)
class Policies:
    """gitops.yaml's `policies`: which checks are off, and which apps each one allows."""

    disabled: frozenset[str] = frozenset()
    allowed: frozenset[tuple[str, str]] = frozenset()  # (rule, app)

    def applies(self, rule: str, app: str | None) -> bool:
        """Whether `rule` holds for `app` (None: an object of no app)."""
        return rule not in self.disabled and (rule, app) not in self.allowed

    def to_yaml(self) -> str:
        """The `policies:` section, every rule listed (with its defaults when unset)."""
        lines = []
        for rule in POLICY_RULES:
            apps = sorted(app for r, app in self.allowed if r == rule)
            enabled = "false" if rule in self.disabled else "true"
            lines.append(f"  {rule}: {{enabled: {enabled}, allow: [{', '.join(apps)}]}}")
        return "policies:\n" + "\n".join(lines) + "\n"


DEFAULT_POLICIES = Policies()  # every check on, for every app

ARGOCD_KEYS = {"url", "token_env", "timeout", "poll", "project", "environments"}
ARGOCD_DEFAULT_TIMEOUT = 15 * 60.0  # seconds a merged promotion may take to turn healthy
ARGOCD_DEFAULT_POLL = 10.0  # seconds between two looks at a waiting promotion
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class ArgoCDSettings:
    """gitops.yaml's `argocd:`: where Argo CD is, and which environments gate the next
    MR on it (docs/ARGOCD.md). The token is read from `token_env`, never from here."""

    url: str
    token_env: str = "ARGOCD_TOKEN"  # noqa: S105 - a variable name
    timeout: float = ARGOCD_DEFAULT_TIMEOUT
    project: str | None = None
    poll: float = ARGOCD_DEFAULT_POLL
    off: frozenset[str] = frozenset()  # environments whose merges are not gated

    def gates(self, env: str) -> bool:
        """Whether a merge into `env` waits for Argo CD before the next MR opens."""
        return env not in self.off


@dataclass(frozen=True)
class Environment:
    name: str
    branch: str
    namespace: str
    policies: Policies = DEFAULT_POLICIES  # the repository's, from gitops.yaml on main


@dataclass(frozen=True)
class Settings:
    main_branch: str
    environments: tuple[Environment, ...]
    policies: Policies = DEFAULT_POLICIES
    # gitops.yaml's `gitlab: {deployments: false}` turns off recording a GitLab
    # deployment for each merge into an environment (operations/deployments.py).
    deployments: bool = True
    # gitops.yaml's `argocd:`; None: no health gate, the chain goes on at each merge.
    argocd: ArgoCDSettings | None = None

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
            + "# Policy checks of `gitops-helper validate`, each an error (gitops-helper's\n"
            "# docs/VALIDATION.md lists them).\n"
            "# To let one app off a check, list it under `allow` and say why in a comment;\n"
            "# `enabled: false` turns the check off for every app.\n"
            + self.policies.to_yaml()
            + ("" if self.deployments else "gitlab:\n  deployments: false\n")
            + (_argocd_yaml(self.argocd) if self.argocd else "")
        )


def default_settings(env_names: list[str]) -> Settings:
    """Settings for environments named `env_names`, each on a branch and namespace of its name."""
    for name in env_names:
        environment_name(name)
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
    except (FileNotFoundError, NotADirectoryError) as e:
        raise BadInput(
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


def environment_name(value: object) -> str:
    """Check the name of an environment to create (init-repo) or read from gitops.yaml:
    a DNS label of at most ENV_NAME_MAX characters that is no word of the branch scheme."""
    name = inputs.environment_name(value)
    if len(name) > ENV_NAME_MAX:
        raise BadInput(
            f"invalid environment {inputs.show(name)}: at most {ENV_NAME_MAX} characters "
            f"({len(name)} given)",
            f"the name goes into the label `app.kubernetes.io/instance: <env>-<app>`, which "
            f"Kubernetes limits to {LABEL_VALUE_MAX} characters: {ENV_NAME_MAX} leave "
            f"{APP_ROOM} for the app's name; use a shorter name, e.g. 'prod-eu'",
        )
    if name in RESERVED_BRANCH_PREFIXES:
        raise BadInput(
            f"invalid environment {inputs.show(name)}: reserved, the tool's own branches "
            f"start with {', '.join(RESERVED_BRANCH_PREFIXES)}",
            f"name it otherwise, e.g. '{name}-env'",
        )
    return name


def branch(value: object) -> str:
    """Check the branch of an environment or main: a git branch name whose first part is
    none of the tool's branch prefixes (`promote` beside `promote/dev/app` cannot exist)."""
    name = inputs.branch_name(value)
    first = name.split("/", 1)[0]
    if first.lower() in RESERVED_BRANCH_PREFIXES:
        raise BadInput(
            f"invalid branch {inputs.show(name)}: the tool pushes its merge requests' "
            f"branches as {first.lower()}/<env>/..., and git cannot hold both",
            f"branches may not start with {', '.join(RESERVED_BRANCH_PREFIXES)}; "
            "use e.g. 'env/prod'",
        )
    return name


def _parse(data: object, path: Path | str) -> Settings:
    if not isinstance(data, dict) or not isinstance(data.get("environments"), list):
        raise UserError(f"{path}: expected a mapping with an `environments` list")
    policies = _checked(_policies, data.get("policies"), path)
    envs = []
    for item in data["environments"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UserError(f"{path}: every environment needs a `name`: {item!r}")
        name = _checked(environment_name, item["name"], path)
        env_branch = _checked(branch, item.get("branch", name), path)
        namespace = _checked(
            lambda v: inputs.dns_label(v, "namespace", "use the Kubernetes namespace"),
            item.get("namespace", name),
            path,
        )
        envs.append(Environment(name, env_branch, namespace, policies))
    if not envs or len({e.name for e in envs}) != len(envs):
        raise UserError(f"{path}: environments must be distinct and at least one")
    main = _checked(branch, data.get("mainBranch", "main"), path)
    deployments = _checked(_gitlab_deployments, data.get("gitlab"), path)
    argocd = _checked(_argocd, data.get("argocd"), path)
    if argocd and not argocd.off <= {e.name for e in envs}:
        unknown = ", ".join(sorted(argocd.off - {e.name for e in envs}))
        raise BadInput(f"{path}: `argocd.environments` names unknown environments: {unknown}")
    settings = Settings(main, tuple(envs), policies, deployments, argocd)
    return _distinct_branches(settings, path)


def _argocd(value: object) -> ArgoCDSettings | None:
    """gitops.yaml's `argocd: {url, token_env, timeout, project, environments}`."""
    if value is None:
        return None
    hint = (
        "write e.g. `argocd: {url: https://argocd.example.com, timeout: 15m, "
        "environments: {prod: false}}` (docs/ARGOCD.md)"
    )
    if not isinstance(value, dict) or not set(value) <= ARGOCD_KEYS:
        raise BadInput(f"`argocd` may only set {', '.join(sorted(ARGOCD_KEYS))}", hint)
    url = inputs.server_url(value.get("url"), "`argocd.url`")
    token_env = value.get("token_env", ArgoCDSettings.token_env)
    if not isinstance(token_env, str) or not token_env.isidentifier():
        raise BadInput("`argocd.token_env` must name an environment variable", hint)
    project = value.get("project")
    if project is not None:
        project = inputs.dns_label(project, "`argocd.project`", "the Applications' project")
    timeout = _duration(value, "timeout", ARGOCD_DEFAULT_TIMEOUT, hint)
    poll = _duration(value, "poll", ARGOCD_DEFAULT_POLL, hint)
    return ArgoCDSettings(url, token_env, timeout, project, poll, _gate_off(value, hint))


def _duration(section: dict[str, Any], key: str, default: float, hint: str) -> float:
    """`argocd.<key>`: seconds, or a number with s, m or h (`15m`); `default` when unset."""
    value = section.get(key)
    if value is None:
        return default
    text = str(value).strip()
    unit = _UNITS.get(text[-1:], 0)
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds <= 7 * 86400:
        raise BadInput(f"`argocd.{key}` must be a duration such as 15m, got {text[:40]!r}", hint)
    return seconds


def _gate_off(value: dict[str, Any], hint: str) -> frozenset[str]:
    """`argocd.environments: {<env>: false}`: the environments not gated."""
    envs = value.get("environments") or {}
    if not isinstance(envs, dict) or not all(isinstance(v, bool) for v in envs.values()):
        raise BadInput("`argocd.environments` maps environments to true or false", hint)
    return frozenset(str(name) for name, on in envs.items() if not on)


def _argocd_yaml(argocd: ArgoCDSettings) -> str:
    """The `argocd:` section, as `_argocd` reads it back."""
    body: dict[str, Any] = {"url": argocd.url, "token_env": argocd.token_env}
    body["timeout"] = f"{argocd.timeout:g}s"
    body["poll"] = f"{argocd.poll:g}s"
    if argocd.project:
        body["project"] = argocd.project
    if argocd.off:
        body["environments"] = {env: False for env in sorted(argocd.off)}
    return yaml.safe_dump({"argocd": body}, sort_keys=False)


def _gitlab_deployments(value: object) -> bool:
    """gitops.yaml's `gitlab: {deployments: true|false}`: whether each merge into an
    environment is recorded as a GitLab deployment (on when unset)."""
    if value is None:
        return True
    hint = "write `gitlab: {deployments: false}` to stop recording GitLab deployments"
    if not isinstance(value, dict) or not set(value) <= {"deployments"}:
        raise BadInput("`gitlab` may only set `deployments`", hint)
    enabled = value.get("deployments", True)
    if not isinstance(enabled, bool):
        raise BadInput("`gitlab.deployments` must be true or false", hint)
    return enabled


def _policies(value: object) -> Policies:
    """gitops.yaml's `policies`: `{<rule>: {enabled: bool, allow: [<app>, ...]}}`."""
    if value is None:
        return DEFAULT_POLICIES
    hint = (
        "write e.g. `policies: {run-as-root: {allow: [legacy-app]}}`; the rules are "
        + ", ".join(POLICY_RULES)
    )
    if not isinstance(value, dict):
        raise BadInput(f"`policies` must be a mapping, not {type(value).__name__}", hint)
    disabled, allowed = set(), set()
    for rule, spec in value.items():
        if rule not in POLICY_RULES:
            raise BadInput(f"`policies` names an unknown rule {inputs.show(rule)}", hint)
        spec = {} if spec is None else spec
        if not isinstance(spec, dict) or not set(spec) <= {"enabled", "allow"}:
            raise BadInput(f"`policies.{rule}` may only set `enabled` and `allow`", hint)
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise BadInput(f"`policies.{rule}.enabled` must be true or false", hint)
        apps: Any = spec.get("allow") or []
        if not isinstance(apps, list):
            raise BadInput(f"`policies.{rule}.allow` must be a list of app names", hint)
        if not enabled:
            disabled.add(rule)
        allowed |= {(rule, inputs.app_name(app)) for app in apps}
    return Policies(frozenset(disabled), frozenset(allowed))


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


def _checked(check: Callable[[object], T], value: object, where: Path | str) -> T:
    """Run an inputs check on a value of gitops.yaml, naming the file in the error."""
    try:
        return check(value)
    except BadInput as e:
        raise BadInput(f"{where}: {e.message}", e.hint) from e
