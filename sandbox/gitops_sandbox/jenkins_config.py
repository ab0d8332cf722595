"""The sandbox Jenkins' configuration: libraries, credentials, global environment, agent.

What a Jenkins administrator sets up once, given when the sandbox starts (never
stored in the state directory: credentials are secrets, and paths belong to the
machine):

- `libraries`: Global Pipeline Libraries, name -> directory holding vars/ and
  resources/ (`@Library('name') _` loads one);
- `credentials`: Secret text credentials, id -> secret; `gitlab-api-token` holds
  the sandbox's token unless given;
- `env`: global environment properties every build sees; `GITLAB_URL` is the
  sandbox's own URL unless given;
- `agent_path`: the agent's PATH (default: the sandbox's own PATH with the
  directory of the running Python first, so the venv's `gitops-helper` is found
  even when the venv is not activated);
- `executors`: how many builds run at once (Jenkins' default for the built-in
  node: 2).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_sandbox.errors import SandboxError

DEFAULT_CREDENTIAL = "gitlab-api-token"  # a credential id, not a secret
# The plugins of the Pipeline controller the sandbox stands in for (docs/JENKINS.md's
# "Plugins" and what they depend on), as pluginManager/api/json lists them: (short
# name, long name, version). The versions are those of jenkinsci/bom's
# bom-2.462.x/pom.xml, the plugin set tested with Jenkins 2.462.x; of the two not in
# it, plain-credentials is bom-weekly's then and workflow-aggregator its July 2024
# release.
PLUGINS: tuple[tuple[str, str, str], ...] = (
    ("credentials", "Credentials Plugin", "1384.vf0a_2ed06f9c6"),
    ("credentials-binding", "Credentials Binding Plugin", "681.vf91669a_32e45"),
    ("durable-task", "Durable Task Plugin", "581.v299a_5609d767"),
    ("git", "Git plugin", "5.5.2"),
    ("git-client", "Git client plugin", "5.0.3"),
    ("gitlab-plugin", "GitLab Plugin", "1.8.2"),
    ("junit", "JUnit Plugin", "1312.v1a_235a_b_94a_31"),
    ("pipeline-groovy-lib", "Pipeline: Groovy Libraries", "749.v70084559234a_"),
    ("pipeline-model-definition", "Pipeline: Declarative", "2.2218.v56d0cda_37c72"),
    ("plain-credentials", "Plain Credentials Plugin", "183.va_de8f1dd5a_2b_"),
    ("scm-api", "SCM API Plugin", "696.v778d637b_a_762"),
    ("script-security", "Script Security Plugin", "1369.v9b_98a_4e95b_2d"),
    ("structs", "Structs Plugin", "338.v848422169819"),
    ("workflow-aggregator", "Pipeline", "600.vb_57cdd26fdd7"),
    ("workflow-api", "Pipeline: API", "1358.vfb_5780da_64cb_"),
    ("workflow-basic-steps", "Pipeline: Basic Steps", "1058.vcb_fc1e3a_21a_9"),
    ("workflow-cps", "Pipeline: Groovy", "4009.v0089238351a_9"),
    ("workflow-durable-task-step", "Pipeline: Nodes and Processes", "1378.v6a_3e903058a_3"),
    ("workflow-job", "Pipeline: Job", "1436.vfa_244484591f"),
    ("workflow-scm-step", "Pipeline: SCM Step", "427.v4ca_6512e7df1"),
    ("workflow-step-api", "Pipeline: Step API", "678.v3ee58b_469476"),
    ("workflow-support", "Pipeline: Supporting APIs", "943.v8b_0d01a_7b_a_08"),
)
# Variables of the sandbox process that builds must not inherit.
_PRIVATE = ("SANDBOX_TOKEN", "SANDBOX_DEVELOPER_TOKEN")


@dataclass(frozen=True)
class JenkinsSettings:
    """How the sandbox's Jenkins is set up (see the module docstring)."""

    libraries: Mapping[str, Path] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    agent_path: str | None = None
    executors: int = 2

    def __post_init__(self) -> None:
        for name, directory in self.libraries.items():
            if not (Path(directory) / "vars").is_dir():
                raise SandboxError(
                    f"library {name!r}: {directory} has no vars/ directory",
                    "point it at a shared library checkout (vars/, resources/)",
                )
        if self.executors < 1:
            raise SandboxError("Jenkins needs at least one executor", "use 1 or more")

    def credential_store(self, token: str) -> dict[str, str]:
        """Every Secret text credential: the default one, then the configured ones."""
        return {DEFAULT_CREDENTIAL: token, **self.credentials}

    def global_env(self, gitlab_url: str) -> dict[str, str]:
        """The global environment properties: GITLAB_URL, then the configured ones."""
        return {"GITLAB_URL": gitlab_url, **self.env}

    def agent_env(self, token: str) -> dict[str, str]:
        """The agent's environment: the sandbox's own, minus its secrets, with the PATH.

        Secrets reach builds only through withCredentials (masked), never as a plain
        variable: SANDBOX_TOKEN and any variable holding a credential's value are left out.
        """
        secrets = set(self.credential_store(token).values())
        env = {k: v for k, v in os.environ.items() if k not in _PRIVATE and v not in secrets}
        env["PATH"] = self.agent_path if self.agent_path is not None else default_path()
        return env


def default_path() -> str:
    """The sandbox's PATH with the running Python's directory (a venv's bin) first."""
    beside = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != beside]
    return os.pathsep.join([beside, *rest])


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """`NAME=VALUE` command-line values as a dict (a bad one is a SandboxError)."""
    found = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SandboxError(f"{what} {item!r} is not NAME=VALUE", f"e.g. {what} NAME=VALUE")
        found[name] = value
    return found
