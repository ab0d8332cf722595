"""The Argo CD gate through the webhook, in the sandbox with its Argo CD stand-in (issue 23).

gitops.yaml on main gets `argocd:` (the sandbox's /argocd, the token in ARGOCD_TOKEN).
A build's MR merged into dev: while dev-example-app reports Progressing no stage MR
opens and the job is `waiting`, also across a restart of the webhook; once it turns
Healthy, exactly one. Then 1.2.0 merged
into a Degraded dev: the job is `degraded` (GET /jobs, the board), the merged MR says
why, and turning dev Healthy continues with exactly one stage MR, now at 1.2.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.helpers.chain import EXAMPLE_IMAGE, HOOK_SECRET, Chain, Hook, seeded, serve_webhook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKEN = "health-gate-test-token-7c1d"  # noqa: S105 - the sandbox's test credential
APP = "dev-example-app"


def gate_on(chain: Chain) -> None:
    """`argocd:` in gitops.yaml, through an MR into main (main is protected): the
    sandbox's Argo CD, looked at every 0.3 s."""
    project = chain.project
    current = yaml.safe_load(project.files.raw(file_path="gitops.yaml", ref="main"))
    current["argocd"] = {"url": chain.sb.argocd_url, "poll": "0.3s", "timeout": "10m"}
    action = {
        "action": "update",
        "file_path": "gitops.yaml",
        "content": yaml.safe_dump(current, sort_keys=False),
    }
    project.commits.create(
        {
            "branch": "argocd",
            "start_branch": "main",
            "commit_message": "Gate promotions on Argo CD",
            "actions": [action],
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": "argocd", "target_branch": "main", "title": "Argo CD gate"}
    )
    chain.merge(mr.iid)


def until(what: str, found: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def job_of(hook: Hook, iid: int) -> dict[str, Any] | None:
    return next((j for j in hook.jobs() if (j.get("merge") or {}).get("iid") == iid), None)


def in_state(hook: Hook, iid: int, state: str) -> dict[str, Any]:
    return until(  # type: ignore[no-any-return]
        f"!{iid}'s job {state}", lambda: (j := job_of(hook, iid)) and j["state"] == state and j
    )


def gitops(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """gitops-helper as a process, GITLAB_* and ARGOCD_TOKEN from this one's environment."""
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def gitops_status(hook_url: str) -> dict[str, Any]:
    """`status --webhook-url --json`: the board with the webhook's failed and gated jobs."""
    done = gitops("status", "--webhook-url", hook_url, "--json", GITOPS_WEBHOOK_SECRET=HOOK_SECRET)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def stage_titles(chain: Chain) -> list[str]:
    return [mr.title for mr in chain.open_mrs("stage")]


def test_stage_mr_waits_for_dev_to_run_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with seeded(TOKEN) as (sb, project, chain):
        monkeypatch.setenv("ARGOCD_TOKEN", sb.token)
        gate_on(chain)
        repo = chain.app_repo("example-app")

        # Progressing: no stage MR while the job waits, across a webhook restart.
        sb.argocd_fault(app=APP, health="Progressing")
        with serve_webhook(sb, data) as hook:
            first = chain.build("example-app", "1.1.0", repo, EXAMPLE_IMAGE).mr_iid
            chain.merge(first)
            waiting = in_state(hook, first, "waiting")
            assert "dev-example-app" in waiting["result"]["gate"]["verdict"]["reason"]
            time.sleep(1.5)  # five polls
            assert stage_titles(chain) == [] and job_of(hook, first)["state"] == "waiting"  # type: ignore[index]
        for registered in project.hooks.list(get_all=True):
            registered.delete()  # the stopped webhook's

        with serve_webhook(sb, data) as hook:
            assert job_of(hook, first)["state"] == "waiting"  # type: ignore[index]
            # Healthy: exactly one stage MR.
            sb.clear_argocd_faults()
            chain.wait_mr("stage", chain.titled("Promote example-app 1.1.0 to stage"), timeout=30)
            done = in_state(hook, first, "done")
            assert done["result"]["gate"]["waited"] >= 1.5
            hook.wait_idle()
            assert stage_titles(chain) == ["Promote example-app 1.1.0 to stage"]

            # Degraded: blocked, a note on the merged MR, the board shows it.
            sb.argocd_fault(app=APP, health="Degraded", message="Back-off restarting container")
            second = chain.build("example-app", "1.2.0", repo, EXAMPLE_IMAGE).mr_iid
            chain.merge(second)
            degraded = in_state(hook, second, "degraded")
            reason = degraded["result"]["gate"]["verdict"]["reason"]
            assert "Back-off restarting container" in reason
            notes = [n.body for n in project.mergerequests.get(second).notes.list(get_all=True)]
            assert any("No merge request to stage" in n and "Degraded" in n for n in notes), notes
            board = requests.get(f"{hook.url}/status.json", timeout=30).json()
            gated = [(j["merge_iid"], j["state"]) for j in board["gated_jobs"]]
            assert gated == [(second, "degraded")]
            assert "degraded" in requests.get(hook.url, timeout=30).text
            listed = gitops_status(hook.url)
            assert [(j["merge_iid"], j["state"]) for j in listed["gated_jobs"]] == [
                (second, "degraded")
            ]
            assert "Back-off restarting container" in listed["gated_jobs"][0]["reason"]
            assert stage_titles(chain) == ["Promote example-app 1.1.0 to stage"]

            sb.clear_argocd_faults()
            chain.wait_mr("stage", chain.titled("Promote example-app 1.2.0 to stage"), timeout=30)
            in_state(hook, second, "done")
            hook.wait_idle()
            assert stage_titles(chain) == ["Promote example-app 1.2.0 to stage"]


def test_reconcile_from_the_command_line_holds_what_does_not_run_healthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No webhook: `gitops-helper reconcile` finds the missed merge into dev and holds
    stage's MR while dev-example-app is Progressing, saying why; once it runs
    Healthy, the next reconcile opens exactly one."""
    with seeded(TOKEN) as (sb, _project, chain):
        monkeypatch.setenv("ARGOCD_TOKEN", sb.token)
        gate_on(chain)
        sb.argocd_fault(app=APP, health="Progressing")
        chain.merge(chain.build("example-app", "1.1.0", chain.app_repo("example-app")).mr_iid)

        held = gitops("reconcile")
        assert held.returncode == 0, held.stderr
        assert "held example-app from dev to stage" in held.stdout
        assert f"Argo CD: waiting for dev: {APP} Synced, Progressing" in held.stdout
        assert stage_titles(chain) == []

        sb.clear_argocd_faults()
        done = gitops("reconcile")
        assert done.returncode == 0, done.stderr
        assert "promoted example-app from dev to stage" in done.stdout, done.stdout
        assert stage_titles(chain) == ["Promote example-app 1.1.0 to stage"]
