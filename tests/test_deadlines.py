"""Deadlines: a GitLab or Jenkins that drips its answers (a slow proxy: the headers, then
one byte every half second) fails every call within its documented time (issue 19).

Per-read timeouts never trip on a drip, so before the deadlines every call here hung
for minutes. Against the sandbox's drip fault, with GITOPS_HTTP_DEADLINE=1 (a call's
budget, GITOPS_HTTP_BUDGET, is then 2 s): our GitLab client, `gitops-helper status`,
the webhook's /readyz, status board and jobs, and our Jenkins client each fail with
a message naming the server and the deadline, never "unexpected". docs/SECURITY.md,
"Deadlines", lists them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from flask import Flask

import webhook
from gitops_sandbox import DEPLOYMENTS, Sandbox
from jenkins_helpers import http
from jenkins_helpers.errors import BadInput, TransientError, UserError
from jenkins_helpers.gitlab import Access, GitLab
from jenkins_helpers.http import Deadlines
from jenkins_helpers.jenkins import Jenkins, JenkinsAccess
from tests.helpers.apprepo import app_cue, make_app_repo
from tests.webhook.test_views import merge_event

TOKEN = "deadlines-test-token-7c2e"  # noqa: S105 - the sandbox's test credential
DRIP = 0.5  # seconds per byte: a GitLab answer of a few hundred bytes takes minutes
DEADLINE = 1.0  # GITOPS_HTTP_DEADLINE here
BUDGET = 2 * DEADLINE  # GITOPS_HTTP_BUDGET's default: twice the deadline
MARGIN = 5.0  # seconds for a loaded 2-core machine: start-up, scheduling
# The budget's 2 s as an error states it: the time really spent, 2.1 s on a busy machine.
TWO_SECONDS = r"2(\.\d)? s"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    source = make_app_repo(tmp_path_factory.mktemp("deployments") / "repo", app_cue("a", "r/a"))
    subprocess.run(["git", "branch", "-m", "main"], cwd=source, check=True)
    with Sandbox.start(token=TOKEN) as sb:
        sb.create_project(DEPLOYMENTS, source_dir=source)
        yield sb


@pytest.fixture(autouse=True)
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_HTTP_DEADLINE", f"{DEADLINE:g}")
    monkeypatch.delenv("GITOPS_HTTP_BUDGET", raising=False)


def add_fault(sandbox: Sandbox, **rule: Any) -> int:
    """A rule on every GitLab API call (until cleared); returns its id."""
    return sandbox.add_fault(**{"path_prefix": "/api/v4/", "count": None, **rule})


def timed(limit: float, func: Callable[[], Any]) -> tuple[Any, float]:
    """What `func` returned or raised, and how long it took; it must end within `limit`
    seconds (it runs on a thread, so a hang fails the test instead of stalling it)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(func())
        except Exception as e:
            outcome.append(e)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - started
    assert not thread.is_alive(), f"still waiting after {took:.1f} s (limit {limit:g} s)"
    return outcome[0], took


def gitlab_access(sandbox: Sandbox) -> Access:
    return Access(sandbox.gitlab_url, TOKEN)


# --- settings ---------------------------------------------------------------------------


def test_the_settings_and_their_defaults() -> None:
    assert Deadlines.from_environment({}) == Deadlines(30.0, 60.0)
    assert Deadlines.from_environment({"GITOPS_HTTP_DEADLINE": "5"}) == Deadlines(5.0, 10.0)
    both = {"GITOPS_HTTP_DEADLINE": " 2.5 ", "GITOPS_HTTP_BUDGET": "7"}
    assert Deadlines.from_environment(both) == Deadlines(2.5, 7.0)
    for name in ("GITOPS_HTTP_DEADLINE", "GITOPS_HTTP_BUDGET"):
        for bad in ("0", "-1", "soon", "inf", "nan", "1e999"):
            with pytest.raises(BadInput, match=f"{name} must be a positive number of seconds"):
                Deadlines.from_environment({name: bad})


def test_a_bad_setting_is_bad_input_before_any_request(
    sandbox: Sandbox, faults: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = add_fault(faults, path_prefix="/", delay=0.01)  # counts every call
    monkeypatch.setenv("GITOPS_HTTP_DEADLINE", "never")
    with pytest.raises(BadInput, match="GITOPS_HTTP_DEADLINE must be a positive number"):
        GitLab(gitlab_access(sandbox))
    with pytest.raises(BadInput, match="GITOPS_HTTP_DEADLINE must be a positive number"):
        Jenkins(JenkinsAccess(sandbox.jenkins_url, "admin", TOKEN))
    assert faults.fault_hits(counter) == 0


# --- GitLab ---------------------------------------------------------------------------


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_gitlab_call_fails_within_its_deadline_when_gitlab_drips(
    sandbox: Sandbox, faults: Sandbox, drip_headers: bool
) -> None:
    """One request (no retries, as /readyz asks): cut off at the deadline, whether the
    body drips or the status line and headers do."""
    add_fault(faults, drip=DRIP, drip_headers=drip_headers)

    def call() -> object:
        with GitLab(gitlab_access(sandbox), retries=False) as gl:
            return gl.project(DEPLOYMENTS)

    error, took = timed(DEADLINE + MARGIN, call)
    assert isinstance(error, TransientError), error
    assert error.message == (
        f"cannot reach GitLab at {sandbox.gitlab_url} (no complete answer within 1 s) "
        f"while reading project {DEPLOYMENTS}"
    )
    assert error.hint is not None
    assert "GITOPS_HTTP_DEADLINE" in error.hint and "GITOPS_HTTP_BUDGET" in error.hint
    assert took >= DEADLINE * 0.9


def test_retries_stop_at_the_calls_budget(sandbox: Sandbox, faults: Sandbox) -> None:
    rule = add_fault(faults, drip=DRIP)

    def call() -> object:
        with GitLab(gitlab_access(sandbox)) as gl:
            return gl.project(DEPLOYMENTS)

    error, took = timed(BUDGET + MARGIN, call)
    assert isinstance(error, TransientError), error
    assert error.message.startswith(
        f"cannot reach GitLab at {sandbox.gitlab_url} (no complete answer within "
    )
    assert re.search(
        f"while reading project {DEPLOYMENTS}; gave up after {TWO_SECONDS} and 2 attempts",
        error.message,
    )
    assert "(GITOPS_HTTP_BUDGET: 2 s per call)" in error.message
    assert took >= BUDGET * 0.9
    assert faults.fault_hits(rule) == 2, "the first attempt, and the retry the budget had room for"


def test_a_silent_gitlab_fails_within_the_deadline(sandbox: Sandbox, faults: Sandbox) -> None:
    """No byte at all: the deadline, not the 30 s per read it used to be."""
    add_fault(faults, delay=15)

    def call() -> object:
        with GitLab(gitlab_access(sandbox), retries=False) as gl:
            return gl.project(DEPLOYMENTS)

    error, _ = timed(DEADLINE + MARGIN, call)
    assert isinstance(error, TransientError), error
    assert "(no complete answer within 1 s)" in error.message


def test_a_client_works_on_after_a_request_was_cut_off(sandbox: Sandbox, faults: Sandbox) -> None:
    """The cut-off connection is not reused, and no watchdog is left running."""
    add_fault(faults, drip=DRIP, count=1)
    with GitLab(gitlab_access(sandbox), retries=False) as gl:
        error, _ = timed(DEADLINE + MARGIN, lambda: gl.project(DEPLOYMENTS))
        assert isinstance(error, TransientError)
        assert "no complete answer within 1 s" in error.message
        for _ in range(20):
            assert gl.project(DEPLOYMENTS).path == DEPLOYMENTS
            assert gl.file_text(DEPLOYMENTS, "deployment/app.cue", "main")
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "gitops-http-deadline"]


def test_status_exits_within_the_budget_when_gitlab_drips(
    sandbox: Sandbox, faults: Sandbox, tmp_path: Path
) -> None:
    add_fault(faults, drip=DRIP)
    env = {
        **os.environ,
        "GITLAB_URL": sandbox.gitlab_url,
        "GITLAB_TOKEN": TOKEN,
        "GITOPS_PROJECT": DEPLOYMENTS,
        "GITOPS_HTTP_DEADLINE": f"{DEADLINE:g}",
        "TMPDIR": str(tmp_path),  # where a crash log would go
    }
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET + 2 * MARGIN,
        check=False,
    )
    took = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    assert "unexpected" not in run.stderr
    assert not list(tmp_path.glob("gitops-helper-crash-*"))
    assert f"error: cannot reach GitLab at {sandbox.gitlab_url} (no complete answer" in run.stderr
    assert re.search(
        rf"gave up after {TWO_SECONDS} and 2 attempts \(GITOPS_HTTP_BUDGET: 2 s per call\)",
        run.stderr,
    )
    assert "hint: GitLab, or a proxy in front of it, answers too slowly" in run.stderr
    assert took < BUDGET + 2 * MARGIN


# --- the webhook ------------------------------------------------------------------------


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[Flask]:
    created = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": "deadlines-webhook-secret",
            "GITLAB_URL": sandbox.gitlab_url,
            "GITLAB_TOKEN": TOKEN,
            "GITOPS_PROJECT": DEPLOYMENTS,
            "GITOPS_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_WORKERS": 0,
        }
    )
    yield created
    webhook.shutdown(created)


def test_readyz_answers_within_the_deadline_while_gitlab_drips(app: Flask, faults: Sandbox) -> None:
    rule = add_fault(faults, drip=DRIP)
    answer, took = timed(DEADLINE + MARGIN, lambda: app.test_client().get("/readyz"))
    assert answer.status_code == 503
    assert answer.get_json() == {
        "status": "unavailable",
        "checks": {"queue": "ok", "gitlab": "failed"},
    }
    assert took >= DEADLINE * 0.9
    again, _ = timed(MARGIN, lambda: app.test_client().get("/readyz"))
    assert again.status_code == 503
    assert faults.fault_hits(rule) == 1, "the failure is cached: GitLab is not asked again at once"


def test_deliveries_jobs_and_liveness_answer_at_once_while_gitlab_drips(
    app: Flask, faults: Sandbox
) -> None:
    """The webhook's other endpoints never wait on GitLab (they do not call it): a merge
    event is queued, the job list and /healthz answer."""
    rule = add_fault(faults, drip=DRIP)
    client = app.test_client()
    event = merge_event()
    event["project"]["path_with_namespace"] = DEPLOYMENTS
    token = {"X-Gitlab-Token": "deadlines-webhook-secret"}
    headers = {**token, "X-Gitlab-Event": "Merge Request Hook", "Idempotency-Key": "drip-1"}
    answer, _ = timed(MARGIN, lambda: client.post("/hooks/gitlab", json=event, headers=headers))
    assert (answer.status_code, answer.get_json()["status"]) == (202, "queued")
    assert timed(MARGIN, lambda: client.get("/jobs", headers=token))[0].status_code == 200
    assert timed(MARGIN, lambda: client.get("/healthz"))[0].status_code == 200
    assert faults.fault_hits(rule) == 0


def test_the_board_answers_within_the_budget_while_gitlab_drips(
    app: Flask, faults: Sandbox
) -> None:
    add_fault(faults, drip=DRIP)
    answer, _ = timed(BUDGET + MARGIN, lambda: app.test_client().get("/status.json"))
    assert answer.status_code == 503, "no board yet: GitLab never answered"
    assert answer.get_json()["refresh_failed_at"]


def test_a_webhook_job_fails_with_a_clear_error_while_gitlab_drips(
    sandbox: Sandbox, faults: Sandbox, tmp_path: Path
) -> None:
    """The reconcile every start runs: each attempt fails within the budget, and the job
    ends failed, its error naming GitLab and the deadline."""
    add_fault(faults, drip=DRIP)
    hook = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": "deadlines-webhook-secret",
            "GITLAB_URL": sandbox.gitlab_url,
            "GITLAB_TOKEN": TOKEN,
            "GITOPS_PROJECT": DEPLOYMENTS,
            "GITOPS_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_WORKERS": 1,
            "GITOPS_RECONCILE_INTERVAL": 3600,
            "GITOPS_RETRY_DELAYS": "0.1",
        }
    )
    try:
        store = hook.extensions["gitops"]["store"]

        def failed() -> Any:
            while not (jobs := store.jobs(state="failed")):
                time.sleep(0.1)
            return jobs[0]

        job, _ = timed(2 * BUDGET + 2 * MARGIN, failed)
    finally:
        # Stopping waits for a running job: bounded, so a job hanging on a drip fails
        # this test instead of stalling it.
        stopping = threading.Thread(target=webhook.shutdown, args=(hook,), daemon=True)
        stopping.start()
        stopping.join(BUDGET + MARGIN)
    assert (job.kind, job.attempts) == ("reconcile", 2)
    assert job.last_error.startswith(
        f"cannot reach GitLab at {sandbox.gitlab_url} (no complete answer within "
    )
    assert "unexpected" not in job.last_error


# --- Jenkins ------------------------------------------------------------------------------


def test_a_jenkins_call_fails_within_its_budget_when_jenkins_drips(
    sandbox: Sandbox, faults: Sandbox
) -> None:
    rule = add_fault(faults, path_prefix="/jenkins/", drip=DRIP)

    def call() -> object:
        with Jenkins(JenkinsAccess(sandbox.jenkins_url, "admin", TOKEN)) as server:
            return server.job_exists("gitops-promote-env")

    error, took = timed(BUDGET + MARGIN, call)
    assert isinstance(error, UserError), error
    assert error.message.startswith(
        f"cannot reach Jenkins at {sandbox.jenkins_url} (no complete answer within "
    )
    assert re.search(
        f"while looking up job gitops-promote-env; gave up after {TWO_SECONDS} and 2 attempts",
        error.message,
    )
    assert error.hint is not None and "GITOPS_HTTP_DEADLINE" in error.hint
    assert took >= BUDGET * 0.9
    assert faults.fault_hits(rule) == 2


# --- the adapter itself ---------------------------------------------------------------


def test_urllib3s_total_timeout_does_not_bound_a_drip(sandbox: Sandbox, faults: Sandbox) -> None:
    """Why the adapter exists: urllib3.Timeout(total=1) waits for the whole drip (each
    read gets its time anew), where the adapter's 1 s deadline ends it."""
    slow = {"status": 200, "body": {"pad": "x" * 20}, "drip": 0.1, "count": 1}
    add_fault(faults, **slow)
    started = time.monotonic()
    answer = requests.get(
        f"{sandbox.url}/api/v4/user",
        headers={"PRIVATE-TOKEN": TOKEN},
        timeout=urllib3.Timeout(total=DEADLINE),  # type: ignore[arg-type]
    )
    assert answer.json() == {"pad": "x" * 20}
    assert time.monotonic() - started >= 3 * DEADLINE
    add_fault(faults, **slow)
    with http.session(DEADLINE) as session, pytest.raises(http.DeadlineExceeded):
        session.get(f"{sandbox.url}/api/v4/user", headers={"PRIVATE-TOKEN": TOKEN})


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_the_adapter_cuts_off_a_drip(sandbox: Sandbox, faults: Sandbox, drip_headers: bool) -> None:
    add_fault(faults, drip=0.2, drip_headers=drip_headers)
    with http.session(DEADLINE) as session:
        error, took = timed(
            DEADLINE + MARGIN,
            lambda: session.get(f"{sandbox.url}/api/v4/user", headers={"PRIVATE-TOKEN": TOKEN}),
        )
    assert isinstance(error, http.DeadlineExceeded), error
    assert isinstance(error, requests.Timeout)
    assert error.reason == "no complete answer within 1 s"
    assert took >= DEADLINE * 0.9
