"""`gitops-helper webhook serve` on a newcomer's first start (issue 22).

Missing settings are named all at once with the options the command has; a busy port
is refused before anything is written; a start removes the clones a killed webhook
left behind, and only those. Each runs the real command in a fresh directory.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.ports import free_port

# slow: starts `gitops-helper` processes, one of them a server
pytestmark = pytest.mark.slow

SETTINGS = {
    "GITOPS_WEBHOOK_SECRET": "hook-secret",
    "GITLAB_URL": "http://127.0.0.1:9",  # never reached: no job is queued
    "GITLAB_TOKEN": "glpat-webhook-serve-test",
    "GITOPS_WORKERS": "0",
    "GITOPS_RECONCILE_INTERVAL": "0",
}


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The caller's environment without any webhook, GitLab or Jenkins setting."""
    names = ("GITOPS_", "GITLAB_", "JENKINS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**env, "TMPDIR": str(tmp_path / "tmp"), **values}


def _serve(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gitops_helper", "webhook", "serve", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_missing_settings_are_named_at_once_with_real_options(tmp_path: Path) -> None:
    done = _serve(tmp_path, _env(tmp_path))
    assert done.returncode == 2, done.stderr
    for name in ("GITOPS_WEBHOOK_SECRET", "GITLAB_URL", "GITLAB_TOKEN"):
        assert f"  {name}: " in done.stderr
    assert "--gitlab-url" not in done.stderr, "webhook serve has no such option"
    assert "Jenkins" not in done.stderr and "JENKINS" not in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_the_jenkins_executor_names_jenkins_settings_too(tmp_path: Path) -> None:
    env = _env(tmp_path, GITOPS_EXECUTOR="jenkins", GITOPS_WEBHOOK_SECRET="s")  # noqa: S106
    done = _serve(tmp_path, env)
    assert done.returncode == 2, done.stderr
    named = [line.split(":")[0].strip() for line in done.stderr.splitlines()[1:-1]]
    assert named == ["GITLAB_URL", "GITLAB_TOKEN", "JENKINS_URL", "JENKINS_USER", "JENKINS_TOKEN"]


def test_a_busy_port_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _serve(tmp_path, _env(tmp_path, **SETTINGS), "--port", str(port))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[0] == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert list(tmp_path.iterdir()) == [], "no gitops-data, no queue"


def test_a_start_removes_the_clones_of_dead_webhooks_only(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = scratch / f"gitops-target-{dead.pid}-abc123"
    (stale / "k8s-deployments").mkdir(parents=True)
    live = scratch / f"gitops-target-{os.getpid()}-def456"
    live.mkdir()
    foreign = scratch / "gitops-target-xyz789"  # no pid: an older version's, or not ours
    foreign.mkdir()
    port = free_port()
    with _running(tmp_path, port):
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        assert not stale.exists()
        assert live.is_dir() and foreign.is_dir()


@contextlib.contextmanager
def _running(cwd: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """The webhook served on `port` until the block ends; it must stop cleanly on SIGTERM."""
    command = [sys.executable, "-m", "gitops_helper", "webhook", "serve", "--port", str(port)]
    env = _env(cwd, **SETTINGS)
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == f"webhook listening on http://127.0.0.1:{port}/hooks/gitlab\n"
            yield child
        finally:
            child.terminate()
            assert child.wait(30) == 0
