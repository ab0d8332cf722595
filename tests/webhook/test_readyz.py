"""GET /readyz against the sandbox GitLab: only check names and states, and GitLab asked
at most once per cache window, however many probes come (issue 19).

/readyz is unauthenticated: an error body from GitLab or a proxy in front of it may
carry a database URL with its password, so the answer says `failed` and the reason
goes to the log. The sandbox counts the GitLab calls (its fault rules count hits).
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import webhook
from gitops_sandbox import DEPLOYMENTS, Sandbox
from tests.helpers.apprepo import app_cue, make_app_repo
from webhook import logs, views

TOKEN = "readyz-test-token-5d1e"  # noqa: S105 - the sandbox's test credential
DB_PASSWORD = "hunter2-db-pw"  # noqa: S105 - what a proxy's error page gives away
PROXY_ERROR = {
    "message": "502 Bad Gateway: upstream failed: could not connect to "
    f"postgres://gitlab:{DB_PASSWORD}@db.internal:5432/gitlabhq_production"
}
FAILING = {"status": "unavailable", "checks": {"queue": "ok", "gitlab": "failed"}}
READY = {"status": "ok", "checks": {"queue": "ok", "gitlab": "ok"}}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    source = make_app_repo(tmp_path_factory.mktemp("deployments") / "repo", app_cue("a", "r/a"))
    subprocess.run(["git", "branch", "-m", "main"], cwd=source, check=True)
    with Sandbox.start(token=TOKEN) as sb:
        sb.create_project(DEPLOYMENTS, source_dir=source)
        yield sb


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[Flask]:
    created = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": "readyz-webhook-secret",
            "GITLAB_URL": sandbox.gitlab_url,
            "GITLAB_TOKEN": TOKEN,
            "GITOPS_PROJECT": DEPLOYMENTS,
            "GITOPS_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_WORKERS": 0,
        }
    )
    yield created
    webhook.shutdown(created)


def add_fault(sandbox: Sandbox, **rule: Any) -> int:
    """A rule on every GitLab API call (count None: until cleared); returns its id."""
    return sandbox.add_fault(**{"path_prefix": "/api/v4/", "count": None, **rule})


def probe(app: Flask) -> tuple[int, str]:
    answer = app.test_client().get("/readyz")
    return answer.status_code, answer.get_data(as_text=True)


class LogLines(logging.Handler):
    """The webhook's log lines as its handler writes them (logs.JsonFormatter)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    handler = LogLines()
    logging.getLogger("webhook").addHandler(handler)
    yield handler
    logging.getLogger("webhook").removeHandler(handler)


def test_a_failing_gitlab_gives_only_names_and_states_and_is_asked_once(
    app: Flask, faults: Sandbox, log_lines: LogLines
) -> None:
    failing = add_fault(faults, status=502, body=PROXY_ERROR)
    answers = [probe(app) for _ in range(10)]
    for status, body in answers:
        assert status == 503
        assert json.loads(body) == FAILING
        for detail in (DB_PASSWORD, "postgres", "502", "Bad Gateway", "HTTP", "Error"):
            assert detail not in body
    assert faults.fault_hits(failing) == 1, "one GitLab call for ten probes"
    log = "\n".join(log_lines.lines)
    assert "readiness check gitlab failed" in log, "the reason is in the log"
    assert DB_PASSWORD not in log


def test_concurrent_probes_ask_gitlab_once_and_recovery_is_seen_within_the_window(
    app: Flask, faults: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "GITLAB_FAILED_CHECK_SECONDS", 0.5)
    slow = add_fault(faults, status=503, delay=0.5, body=PROXY_ERROR)
    answers: list[tuple[int, str]] = []
    threads = [threading.Thread(target=lambda: answers.append(probe(app))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _ in answers] == [503] * 8
    assert faults.fault_hits(slow) == 1, "eight probes at once, one GitLab call"

    faults.clear_faults()
    counter = add_fault(faults, delay=0.01)  # passes every call through, counting it
    time.sleep(0.6)  # the failure's window is over: GitLab is asked again
    answers = [probe(app) for _ in range(5)]
    assert [a[0] for a in answers] == [200] * 5
    assert json.loads(answers[0][1]) == READY
    assert faults.fault_hits(counter) == 1, "an answer that is ok is kept too"
