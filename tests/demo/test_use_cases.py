"""The 28 use cases end to end: `gitops-helper demo`'s scenarios, one test each.

One sandbox (a child process, its Jenkins running this library) for the module; each
use case starts from the same state (`World.reset`), so the tests are independent
of their order. A FAIL shows the evidence: what was checked and what differed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_demo import catalog, runner, world
from gitops_demo.catalog import UseCase
from gitops_demo.world import World


@pytest.fixture(scope="module")
def demo_world() -> Iterator[World]:
    with world.started(os.urandom(16).hex(), None, None) as w:
        yield w


@pytest.mark.parametrize("case", catalog.USE_CASES, ids=lambda c: c.id)
def test_use_case(demo_world: World, case: UseCase) -> None:
    result = runner.run_case(demo_world, case)
    assert result.outcome == "PASS", "\n".join(result.evidence)
    assert result.evidence, "a use case must say what it checked"


def test_a_difference_fails_with_what_differed(demo_world: World) -> None:
    """The check a scenario makes, made false: FAIL, with the got/want of the fact."""

    def wrong(w: World) -> list[str]:
        from gitops_demo.evidence import Evidence, deployment

        ev = Evidence()
        replicas = deployment(w.deployed("prod"), "example-app")["spec"]["replicas"]
        ev.expect("prod replicas", replicas, 99)
        return ev.lines

    result = runner.run_case(demo_world, UseCase("X1", "a false claim", "-", wrong))
    assert result.outcome == "FAIL"
    assert result.evidence == ["differs: prod replicas: got 3, want 99"]


def test_unknown_use_cases_are_refused() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gitops-helper"), "demo", "A1", "Z9", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown use case Z9" in done.stderr
    assert "A1 A2" in done.stderr


def test_the_demo_command_reports_as_json(tmp_path: Path) -> None:
    """`gitops-helper demo A1 --json --keep DIR --no-argocd-gate`: the result as data,
    the state kept, and gitops.yaml naming no Argo CD (the chain as without one)."""
    keep = tmp_path / "kept"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "gitops-helper"),
            "demo",
            "a1",
            "--json",
            "--keep",
            str(keep),
            "--no-argocd-gate",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["passed"], data["failed"]) == (1, 0)
    (case,) = data["use_cases"]
    assert case["id"] == "A1" and "dev replicas: 2" in case["evidence"]
    rows = {(r["app"], r["env"]): r for r in data["final_state"]}
    assert rows[("example-app", "dev")]["replicas"] == 2
    assert rows[("example-app", "prod")]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert any(keep.iterdir()), "the sandbox's state is kept"
    assert case["gates"] == []
    deployments = keep / "repos/platform/k8s-deployments.git"
    settings = subprocess.run(
        ["git", "--git-dir", str(deployments), "show", "main:gitops.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "environments:" in settings and "argocd:" not in settings
