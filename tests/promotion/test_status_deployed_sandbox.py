"""Deployed beside desired, end to end: the sandbox's GitLab and its Argo CD stand-in.

gitops.yaml on main gets `argocd:` (the stand-in's URL, the token from ARGOCD_TOKEN);
example-app 1.1.0 is built into dev and merged (no webhook: nothing cascades), and
Argo CD syncs it. Then a fault rule makes stage's Application report OutOfSync: drift
Argo CD found in the cluster. `gitops-helper status` (a process, as a person runs it)
and the webhook's board show each app's desired tag beside what Argo CD reports, and
flag that drift; `promote-env` from dev says in stage's MR what runs in dev.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox
from jenkins_helpers.operations.between_envs import promote_env
from tests.helpers.chain import Hook, seeded, serve_webhook
from tests.helpers.dom import parse

TOKEN = "deployed-test-token-5e1b"  # noqa: S105 - the sandbox's test credential
APP = "example-app"


@dataclass(frozen=True)
class Scenario:
    sandbox: Sandbox
    project: Project
    hook: Hook
    heads: dict[str, str]  # env -> its branch head


def synced(sb: Sandbox, env: str, head: str, timeout: float = 30) -> None:
    """Until Argo CD reports `env`'s example-app Synced and Healthy at `head`."""
    headers = {"Authorization": f"Bearer {sb.token}"}
    url = f"{sb.argocd_url}/api/v1/applications/{env}-{APP}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(url, headers=headers, timeout=10).json().get("status", {})
        sync, health = status.get("sync", {}), status.get("health", {})
        if (sync.get("status"), sync.get("revision"), health.get("status")) == (
            "Synced",
            head,
            "Healthy",
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"{env}-{APP} not Synced+Healthy at {head} within {timeout} s")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    with seeded(TOKEN) as (sb, project, chain), pytest.MonkeyPatch.context() as env:
        env.setenv("ARGOCD_TOKEN", sb.token)
        settings = project.files.raw(file_path="gitops.yaml", ref="main").decode()
        project.commits.create(  # the platform team's MR into main (main is protected)
            {
                "branch": "argocd",
                "start_branch": "main",
                "commit_message": "Argo CD: read what runs",
                "actions": [
                    {
                        "action": "update",
                        "file_path": "gitops.yaml",
                        "content": f"{settings.rstrip()}\nargocd:\n  url: {sb.argocd_url}\n",
                    }
                ],
            }
        )
        chain.merge(
            project.mergerequests.create(
                {"source_branch": "argocd", "target_branch": "main", "title": "Argo CD"}
            ).iid
        )
        build = chain.build(APP, "1.1.0", chain.app_repo(APP)).mr_iid
        assert build is not None
        chain.merge(build)
        heads = {e: project.branches.get(e).commit["id"] for e in ("dev", "stage", "prod")}
        for name, head in heads.items():
            synced(sb, name, head)
        sb.argocd_fault(app=f"stage-{APP}", sync="OutOfSync")
        with serve_webhook(sb, tmp_path_factory.mktemp("webhook"), GITOPS_WORKERS=0) as hook:
            yield Scenario(sb, project, hook, heads)


def cli(scenario: Scenario, *args: str) -> subprocess.CompletedProcess[str]:
    sb = scenario.sandbox
    environ = {
        **os.environ,
        "GITLAB_URL": sb.gitlab_url,
        "GITLAB_TOKEN": sb.token,
        "ARGOCD_TOKEN": sb.token,
    }
    command = [sys.executable, "-m", "gitops_helper", "status", "--project", DEPLOYMENTS, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=environ, check=False)
    assert done.returncode == 0, done.stderr
    assert sb.token not in done.stdout + done.stderr
    return done


def cell(data: dict[str, Any], app: str, env: str) -> dict[str, Any]:
    [row] = [r for r in data["rows"] if r["app"] == app]
    [found] = [c for c in row["cells"] if c["env"] == env]
    return found


def test_status_json_shows_desired_and_deployed_side_by_side(scenario: Scenario) -> None:
    data = json.loads(cli(scenario, "--json").stdout)
    assert data["argocd"] == "read"
    dev, stage = cell(data, APP, "dev"), cell(data, APP, "stage")
    assert (dev["tag"], stage["tag"]) == ("1.1.0", "1.0.0")
    ran = dev["deployed"]
    assert (ran["application"], ran["sync_status"], ran["health"], ran["revision"]) == (
        f"dev-{APP}",
        "Synced",
        "Healthy",
        scenario.heads["dev"],
    )
    assert ran["drift"] == [] and ran["since"]
    assert stage["deployed"]["sync_status"] == "OutOfSync"
    assert stage["deployed"]["drift"] == ["out-of-sync"]
    assert cell(data, APP, "prod")["deployed"]["drift"] == []


def test_status_prints_a_running_row_and_the_drift(scenario: Scenario) -> None:
    lines = cli(scenario).stdout.splitlines()
    print("\n".join(lines))  # what a person sees: shown with pytest -s
    [row] = [i for i, line in enumerate(lines) if line.startswith(f"{APP} ")]
    running = lines[row + 1]
    assert running.startswith("  running")
    assert f"Synced Healthy {scenario.heads['dev'][:7]}" in running
    assert f"OutOfSync Healthy {scenario.heads['stage'][:7]} #" in running
    assert f"  {APP} in stage: OutOfSync: the cluster differs from the branch" in lines


def test_the_board_shows_both_and_the_drift_badge(scenario: Scenario) -> None:
    url = scenario.hook.url
    data = requests.get(f"{url}/status.json", timeout=30).json()
    assert cell(data, APP, "stage")["deployed"]["drift"] == ["out-of-sync"]
    root = parse(requests.get(url, timeout=30).text)
    stage = root.one("tr", data_app=APP).one("td", data_env="stage")
    assert stage.one("span", **{"class": "tag"}).text == "1.0.0"
    running = stage.one("div", **{"class": "deployed"})
    assert running.text.startswith(f"OutOfSync, Healthy at {scenario.heads['stage'][:7]}")
    [badge] = running.all("span", **{"class": "badge drift"})
    assert badge.text == "out-of-sync"
    dev = root.one("tr", data_app=APP).one("td", data_env="dev")
    assert dev.one("div", **{"class": "deployed"}).attrs["data-sync"] == "Synced"
    assert not dev.all("span", **{"class": "badge drift"})


def test_the_next_mr_says_what_runs_in_the_source(scenario: Scenario) -> None:
    """Last: it opens stage's MR."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ARGOCD_TOKEN", scenario.sandbox.token)
        result = promote_env(
            source="dev", target_env="stage", apps=[APP], project=DEPLOYMENTS, gitlab_url=None
        )
    [unit] = result.units
    assert unit.mr_iid is not None
    text = scenario.project.mergerequests.get(unit.mr_iid).description
    first = text.splitlines()[0]
    assert f"It is running in dev: Synced, Healthy at {scenario.heads['dev'][:7]} since " in first
