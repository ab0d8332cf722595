"""`gitops-helper validate`: CUE, Kubernetes schemas and platform policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jenkins_helpers.commands.render import targets
from jenkins_helpers.cue import CueError, get_engine
from jenkins_helpers.deployrepo import checks, render
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
            findings = _cue_findings(tree)
            manifests = checks.load_manifests(tree, target.name)
            findings += checks.check_objects(
                manifests, env=target.name, namespace=target.namespace
            )
            results.append(EnvValidation(target.name, in_checkout, len(manifests), findings))
    return results


def _cue_findings(tree: Path) -> list[checks.Finding]:
    try:
        get_engine().vet([render.CUE_PACKAGE], cwd=tree, concrete=True)
    except CueError as e:
        return [checks.Finding("error", "env.cue", "cue-vet", e.message)]
    return []
