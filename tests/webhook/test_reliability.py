"""The webhook when things go wrong: duplicates, a killed worker, GitLab failing, a burst
of merges, missed deliveries. Each case asserts the MRs a user would see."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

import webhook.jobs
from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from tests.helpers.chain import EXAMPLE_IMAGE, HOOK_SECRET, Chain, Hook, serve_webhook
from tests.helpers.deployrepo import add_apps
from tests.helpers.ports import free_port

TOKEN = "reliability-token-9f3c"  # noqa: S105 - the sandbox's test credential


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh seeded sandbox per test: each case starts from the same state."""
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


def _chain(sb: Sandbox, project: str = DEPLOYMENTS) -> Chain:
    gl = gitlab.Gitlab(sb.gitlab_url, private_token=sb.token)
    return Chain(sb, gl.projects.get(project))


def _admin(sb: Sandbox, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(
        method,
        f"{sb.url}/-/sandbox/{path}",
        headers={"PRIVATE-TOKEN": sb.token},
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )


def _stage_mrs(chain: Chain, app: str = "example-app") -> list[int]:
    return [m.iid for m in chain.open_mrs("stage") if f"app::{app}" in m.labels]


def test_one_merge_delivered_three_times_opens_one_mr(sandbox: Sandbox, tmp_path: Path) -> None:
    chain = _chain(sandbox)
    with serve_webhook(sandbox, tmp_path / "data") as hook:
        built = chain.build("example-app", "5.1.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        assert built.mr_iid is not None
        chain.merge(built.mr_iid)
        chain.wait_mr("stage", chain.titled("Promote example-app 5.1.0 to stage"))
        hook.wait_idle()
        merges = [
            d
            for d in _admin(sandbox, "GET", "deliveries").json()
            if d["body"]["object_attributes"].get("action") == "merge"
        ]
        assert len(merges) == 1
        for _ in range(2):  # GitLab's "Resend request": the same body, the same Idempotency-Key
            assert _admin(sandbox, "POST", f"deliveries/{merges[0]['id']}/resend").ok
        sandbox.wait_for_deliveries()
        jobs = hook.wait_idle()
        assert len(_stage_mrs(chain)) == 1
        assert len([j for j in jobs if j["key"].startswith("merge:dev:")]) == 1


def test_five_gitlab_failures_in_a_row_are_ridden_out(sandbox: Sandbox, tmp_path: Path) -> None:
    chain = _chain(sandbox)
    with serve_webhook(sandbox, tmp_path / "data") as hook:
        built = chain.build("example-app", "5.2.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        assert built.mr_iid is not None
        # The job's first GitLab call reads gitops.yaml: it fails five times in a row.
        settings_file = r"/repository/files/gitops\.yaml/raw"
        rule = {"method": "GET", "route_regex": settings_file, "status": 500, "count": 5}
        assert _admin(sandbox, "POST", "faults", json=rule).ok
        chain.merge(built.mr_iid)
        chain.wait_mr("stage", chain.titled("Promote example-app 5.2.0 to stage"), timeout=180)
        job = next(j for j in hook.wait_idle() if j["key"].startswith("merge:dev:"))
        assert job["state"] == "done" and job["attempts"] == 2, job
        assert "HTTP 500" in job["last_error"]


def test_ten_merges_in_a_burst_each_get_a_mergeable_promotion(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst, made certain: the webhook's jobs wait at a gate until every merge is
    queued, so all ten promotions run after all ten merges (not one by one)."""
    apps = [f"svc-{n}" for n in range(10)]
    repo = add_apps(tmp_path / "ten", apps)
    sandbox.create_project("platform/k8s-ten", source_dir=repo, protected=["dev", "stage", "prod"])
    chain = _chain(sandbox, "platform/k8s-ten")
    builds = [chain.build(app, "2.0.0", chain.app_repo(app)) for app in apps]
    gate = threading.Event()
    run_job = webhook.jobs.Jobs._run

    def gated(self: webhook.jobs.Jobs, job_id: int) -> float | None:
        gate.wait(timeout=300)
        return run_job(self, job_id)

    monkeypatch.setattr(webhook.jobs.Jobs, "_run", gated)  # before the queue binds it
    with serve_webhook(sandbox, tmp_path / "data", project="platform/k8s-ten") as hook:
        try:
            for built in builds:
                assert built.mr_iid is not None
                chain.merge(built.mr_iid)
            deadline = time.monotonic() + 120
            while len(queued := [j for j in hook.jobs() if j["key"].startswith("merge:dev:")]) < 10:
                assert time.monotonic() < deadline, f"not every merge was delivered: {queued}"
                time.sleep(0.2)
            assert [j["state"] for j in queued] == ["queued"] * 10, "none ran before the last"
        finally:
            gate.set()
        for app in apps:
            chain.wait_mr("stage", chain.titled(f"Promote {app} 2.0.0 to stage"), timeout=300)
        hook.wait_idle(timeout=300)
        opened = chain.open_mrs("stage")
        assert sorted(m.title for m in opened) == sorted(
            f"Promote {app} 2.0.0 to stage" for app in apps
        )
        for mr in opened:
            state = chain.project.mergerequests.get(mr.iid).detailed_merge_status
            for _ in range(200):  # GitLab checks mergeability asynchronously: clients poll
                if state not in ("preparing", "checking", "unchecked"):
                    break
                time.sleep(0.05)
                state = chain.project.mergerequests.get(mr.iid).detailed_merge_status
            assert state == "mergeable", (mr.title, state)


# --- the webhook as its own process: killed, stopped, restarted --------------------------------


@contextlib.contextmanager
def webhook_process(
    sb: Sandbox, data_dir: Path, port: int, reconcile: float = 0
) -> Iterator[subprocess.Popen[bytes]]:
    """`gitops-helper webhook serve` as a deployment runs it; stopped (or killed) after.

    Its temporary clones go to the test's own directory: a worker killed with
    SIGKILL cannot remove its clone, and it must not stay in the machine's /tmp.
    """
    scratch = data_dir.with_name("tmp")
    scratch.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "TMPDIR": str(scratch),
        "GITOPS_WEBHOOK_SECRET": HOOK_SECRET,
        "GITLAB_URL": sb.gitlab_url,
        "GITLAB_TOKEN": sb.token,
        "GITOPS_DATA_DIR": str(data_dir),
        "GITOPS_RECONCILE_INTERVAL": str(reconcile),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "gitops_helper", "webhook", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            time.sleep(0.2)
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(30)


def _register(sb: Sandbox, port: int) -> None:
    with gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl:
        gl.projects.get(DEPLOYMENTS).hooks.create(
            {
                "url": f"http://127.0.0.1:{port}/hooks/gitlab",
                "token": HOOK_SECRET,
                "merge_requests_events": True,
                "push_events": False,
            }
        )


def test_a_worker_killed_mid_job_finishes_after_restart_with_one_mr(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """kill -9 after the promotion branch is pushed and before the MR exists."""
    chain, port, data = _chain(sandbox), free_port(), tmp_path / "data"
    _register(sandbox, port)
    built = chain.build("example-app", "5.3.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    slow = {
        "method": "POST",
        "route_regex": r"^/api/v4/projects/[^/]+/merge_requests$",
        "delay": 8,
        "count": 1,
    }
    with webhook_process(sandbox, data, port) as child:
        assert _admin(sandbox, "POST", "faults", json=slow).ok
        chain.merge(built.mr_iid)
        deadline = time.monotonic() + 120
        while not chain.project.branches.list(search="promote/stage/example-app"):
            assert time.monotonic() < deadline, "the job never pushed its branch"
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with webhook_process(sandbox, data, port):
        chain.wait_mr("stage", chain.titled("Promote example-app 5.3.0 to stage"), timeout=180)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # let the recovered job finish
            jobs = requests.get(
                f"http://127.0.0.1:{port}/jobs", headers={"X-Gitlab-Token": HOOK_SECRET}, timeout=10
            ).json()["jobs"]
            if all(j["state"] not in ("queued", "running") for j in jobs):
                break
            time.sleep(0.5)
        assert len(_stage_mrs(chain)) == 1


def test_a_merge_while_the_webhook_is_down_is_promoted_after_restart(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    chain, port, data = _chain(sandbox), free_port(), tmp_path / "data"
    _register(sandbox, port)
    built = chain.build("example-app", "5.4.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    chain.merge(built.mr_iid)  # nobody listens: GitLab retries, then gives up
    sandbox.wait_for_deliveries(timeout=30)
    assert _stage_mrs(chain) == []
    with webhook_process(sandbox, data, port, reconcile=5):
        chain.wait_mr("stage", chain.titled("Promote example-app 5.4.0 to stage"), timeout=60)
        jobs = requests.get(
            f"http://127.0.0.1:{port}/jobs", headers={"X-Gitlab-Token": HOOK_SECRET}, timeout=10
        ).json()["jobs"]
    (merge,) = [j for j in jobs if j["kind"] == "merge"]
    assert merge["delivery"] is None, "queued by a reconcile run, not by a delivery"


def test_a_failed_merge_job_is_run_again_by_the_next_reconcile(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A job that ended `failed` (here: gitops.yaml unreadable, which no retry cures) is
    not stranded: once the cause is gone, the next reconcile runs it again."""
    chain = _chain(sandbox)
    built = chain.build("example-app", "5.5.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    unreadable = {"method": "GET", "route_regex": r"/files/gitops\.yaml/raw", "status": 404}
    with serve_webhook(sandbox, tmp_path / "data", GITOPS_RECONCILE_INTERVAL=2) as hook:
        assert _admin(sandbox, "POST", "faults", json={**unreadable, "count": 10_000}).ok
        chain.merge(built.mr_iid)
        (job,) = _merge_jobs_ended(hook)
        assert job["state"] == "failed" and "gitops.yaml" in job["last_error"], job
        assert _stage_mrs(chain) == []

        assert _admin(sandbox, "DELETE", "faults").ok
        chain.wait_mr("stage", chain.titled("Promote example-app 5.5.0 to stage"), timeout=60)
        merges = _merge_jobs_ended(hook, ended=("done",))
    assert [(j["id"], j["state"]) for j in merges] == [(job["id"], "done")], "the same job, rerun"


def _merge_jobs_ended(
    hook: Hook, ended: tuple[str, ...] = ("failed", "done"), timeout: float = 120
) -> list[dict[str, Any]]:
    """The merge jobs into dev, once there are some and each is in an `ended` state. Not
    `wait_idle`: a reconcile every 2 s on a busy machine leaves the queue seldom idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        merges = [j for j in hook.jobs() if j["key"].startswith("merge:dev:")]
        if merges and all(j["state"] in ended for j in merges):
            return merges
        time.sleep(0.2)
    raise AssertionError(f"merge jobs not {' or '.join(ended)} within {timeout} s: {merges}")


def test_every_start_reconciles_even_within_the_interval(sandbox: Sandbox, tmp_path: Path) -> None:
    """A restart soon after the last start still looks for merges it missed while down."""
    chain, port, data = _chain(sandbox), free_port(), tmp_path / "data"
    _register(sandbox, port)
    with webhook_process(sandbox, data, port, reconcile=3600):
        pass  # its start reconciled: nothing was missing
    built = chain.build("example-app", "5.6.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    chain.merge(built.mr_iid)  # nobody listens
    sandbox.wait_for_deliveries(timeout=30)
    assert _stage_mrs(chain) == []
    with webhook_process(sandbox, data, port, reconcile=3600):
        chain.wait_mr("stage", chain.titled("Promote example-app 5.6.0 to stage"), timeout=60)
