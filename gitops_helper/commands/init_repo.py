"""`gitops-helper init-repo`: lay down a deployment repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_helper.commands import Printer
from jenkins_helpers.deployrepo.scaffold import init_repo


@dataclass(frozen=True)
class InitResult:
    directory: str
    main_branch: str
    environments: list[str]


def run(directory: Path, envs: str) -> InitResult:
    """Create the repository at `directory` with the comma-separated environments `envs`."""
    settings = init_repo(directory, [e.strip() for e in envs.split(",") if e.strip()])
    return InitResult(str(directory), settings.main_branch, settings.names)


def show(r: InitResult, out: Printer) -> None:
    """One line: which branches were made."""
    out(
        f"created {r.directory}: branch {r.main_branch} (platform layer and apps) "
        f"and {', '.join(r.environments)} (env.cue and manifests)"
    )
