"""`gitops-helper render`: write (or check) an environment's manifests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitops_helper.commands import Printer
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.checkout import DeploymentRepo, environment_tree
from jenkins_helpers.deployrepo.settings import Environment


@dataclass
class EnvRender:
    env: str
    in_checkout: bool  # False: read from the env branch in a temporary work tree
    files: int
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


def targets(repo: DeploymentRepo, env: str | None) -> list[Environment]:
    """The environments a command acts on: the one asked for, the checked-out one, or all."""
    if env is not None:
        return [repo.settings.environment(env)]
    here = repo.checked_out_env()
    if here is not None:
        return [repo.settings.environment(here)]
    return list(repo.settings.environments)


def run(repo_dir: Path, env: str | None, check: bool) -> list[EnvRender]:
    """Render each target environment; environments not checked out are only checked."""
    repo = DeploymentRepo.open(repo_dir)
    results = []
    for target in targets(repo, env):
        with environment_tree(repo, target) as (tree, in_checkout):
            if check or not in_checkout:
                expected, stale = render.compare(tree, target.name)
                results.append(EnvRender(target.name, in_checkout, len(expected), stale=stale))
            else:
                done = render.render(tree, target.name)
                results.append(
                    EnvRender(target.name, True, len(done.files), done.written, done.removed)
                )
    return results


def show(results: list[EnvRender], out: Printer) -> None:
    """Per environment: written and removed files, or the stale ones."""
    for r in results:
        where = "checkout" if r.in_checkout else "branch, not checked out"
        if r.stale:
            out(f"{r.env} ({where}): {len(r.stale)} manifest file(s) differ from the CUE:")
            for path in r.stale:
                out(f"  {path}")
            out("hint: run `gitops-helper render` on a checkout of the branch, commit the result")
        elif r.written or r.removed:
            out(f"{r.env}: {r.files} files, {len(r.written)} written, {len(r.removed)} removed")
            for path in r.written:
                out(f"  wrote   {path}")
            for path in r.removed:
                out(f"  removed {path}")
        else:
            out(f"{r.env} ({where}): {r.files} manifest files, up to date")
