"""`gitops-helper validate`: CUE, Kubernetes schemas and platform policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitops_helper.commands import Printer
from gitops_helper.commands.render import targets
from jenkins_helpers.deployrepo import checks
from jenkins_helpers.deployrepo.checkout import DeploymentRepo, environment_tree


@dataclass
class EnvValidation:
    env: str
    in_checkout: bool
    manifests: int
    findings: list[checks.Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[checks.Finding]:
        return [f for f in self.findings if f.severity == "error"]


def run(repo_dir: Path, env: str | None) -> list[EnvValidation]:
    """Validate each target environment as committed on its branch (or checked out)."""
    repo = DeploymentRepo.open(repo_dir)
    results = []
    for target in targets(repo, env):
        with environment_tree(repo, target) as (tree, in_checkout):
            findings = checks.check_environment(tree, target)
            manifests = len(checks.load_manifests(tree, target.name))
            results.append(EnvValidation(target.name, in_checkout, manifests, findings))
    return results


def show(results: list[EnvValidation], out: Printer) -> None:
    """Per environment: counts, then every finding."""
    for r in results:
        errors = len(r.errors)
        warnings = len(r.findings) - errors
        out(f"{r.env}: {r.manifests} manifests, {errors} error(s), {warnings} warning(s)")
        for f in r.findings:
            out(f"  {f.severity}: {f.path}: [{f.rule}] {f.message}")
