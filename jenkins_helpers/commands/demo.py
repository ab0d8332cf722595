"""`gitops-helper demo`: the scaffold, rendered, summarised per environment."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.checkout import DeploymentRepo, environment_tree
from jenkins_helpers.deployrepo.scaffold import init_repo


def run(echo: Callable[[str], None]) -> None:
    """Create the default deployment repo in a temp dir and show what each environment deploys."""
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as tmp:
        repo_dir = Path(tmp) / "k8s-deployments"
        settings = init_repo(repo_dir, ["dev", "stage", "prod"])
        echo(f"deployment repository laid down in {repo_dir}")
        repo = DeploymentRepo.open(repo_dir)
        for env in settings.environments:
            with environment_tree(repo, env) as (tree, _):
                objects = render.evaluate(tree)
                stale = render.diff_files(
                    render.manifest_files(env.name, objects), render.existing_files(tree, env.name)
                )
            echo(
                f"\n{env.name} (branch {env.branch}, namespace {env.namespace}):"
                f" manifests {'up to date' if not stale else 'STALE'}"
            )
            for app, objs in sorted(objects.items()):
                echo("  " + _summary(app, objs))


def _summary(app: str, objects: list[dict[str, Any]]) -> str:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    limits = container["resources"]["limits"]
    kinds = ", ".join(sorted(o["kind"] for o in objects))
    return (
        f"{app:<12} {container['image']:<45} replicas={deployment['spec']['replicas']}"
        f" cpu={limits.get('cpu')} memory={limits.get('memory')}  [{kinds}]"
    )
