"""Seeding the default projects, `serve_forever`, and the sandbox's import boundary."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import gitlab
import pytest
import requests

from gitops_sandbox import (
    DEPLOYMENTS,
    EXAMPLE_APP,
    Sandbox,
    SandboxError,
    seed_default,
    serve_forever,
    write_example_app,
)
from gitops_sandbox.seed import APP, APP_CUE
from tests.gitops_sandbox.sandbox_testing import git
from tests.helpers.ports import free_port

TOKEN = "t0ken"  # noqa: S105 - a test value
# The seeded app repository carries the same app layer as the documented example.
SPEC_APP_CUE = (
    Path(__file__).parents[2] / "examples" / "example-app" / "deployment" / "app.cue"
).read_text()


def test_example_app_repo(tmp_path: Path) -> None:
    repo = write_example_app(tmp_path / "app")
    assert (
        (repo / "deployment" / "app.cue").read_text()
        == SPEC_APP_CUE
        == APP_CUE.replace(APP, "example-app")
    )
    jenkinsfile = (repo / "Jenkinsfile").read_text()
    call = (
        "gitopsPromote(app: 'example-app', image: 'registry.example.com/example-app', "
        "tag: env.IMAGE_TAG)"
    )
    assert call in jenkinsfile
    assert jenkinsfile.index("stage('Build')") < jenkinsfile.index(call)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"


def test_seed_default(sandbox: Sandbox, gl: gitlab.Gitlab) -> None:
    seeded = seed_default(sandbox)
    assert set(seeded) == {DEPLOYMENTS, EXAMPLE_APP}
    deployments = gl.projects.get(DEPLOYMENTS)
    branches = {b.name: b for b in deployments.branches.list(get_all=True)}
    assert {"main", "dev", "stage", "prod"} <= set(branches)
    assert all(branches[name].protected for name in ("main", "dev", "stage", "prod"))
    assert deployments.files.raw(file_path="gitops.yaml", ref="main")
    app = gl.projects.get(EXAMPLE_APP)
    assert app.files.raw(file_path="deployment/app.cue", ref="main").decode() == SPEC_APP_CUE


def test_serve_forever_prints_urls_and_serves(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with Sandbox.start(state_dir=state_dir) as sb:  # not new: serve_forever will not seed
        sb.create_project("apps/example-app", source_dir=write_example_app(tmp_path / "app"))
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_forever, args=(state_dir, 0, TOKEN, lines.append), kwargs={"stop": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any("Press Ctrl-C" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.02)
        banner = "\n".join(lines)
        url = banner.split("GitLab sandbox : ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert f"{url}/jenkins" in banner
        assert 'private_token="t0ken"' in banner
        assert 'curl -H "PRIVATE-TOKEN: t0ken"' in banner
        assert f"oauth2:t0ken@{url.removeprefix('http://')}/{DEPLOYMENTS}.git" in banner
        assert "Seeding" not in banner
        with gitlab.Gitlab(url, private_token=TOKEN) as gl:
            assert gl.projects.get(EXAMPLE_APP).default_branch == "main"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_busy_port_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="cannot listen") as err:
        Sandbox.start(port=sandbox.port)
    assert err.value.hint


def _status(url: str, **headers: str) -> int | str:
    try:
        return requests.get(url, headers=headers, timeout=5).status_code
    except requests.ConnectionError:
        return "refused"


def test_up_holds_traffic_with_503_until_seeded(tmp_path: Path) -> None:
    """`python -m gitops_sandbox up`: refused or 503, then 200; never a seeded project's 404."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen(
        [sys.executable, "-m", "gitops_sandbox", "up", "--port", str(port), "--dir", str(tmp_path)],
        env={**os.environ, "SANDBOX_TOKEN": TOKEN * 3},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stdout or []), daemon=True)
    reader.start()
    seen: list[tuple[bool, int | str, int | str]] = []  # (banner printed, readiness, project)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and child.poll() is None:
            banner = any("Press Ctrl-C" in line for line in lines)
            ready = _status(f"{url}/-/readiness")
            project = _status(
                f"{url}/api/v4/projects/{DEPLOYMENTS.replace('/', '%2F')}",
                **{"PRIVATE-TOKEN": TOKEN * 3},
            )
            seen.append((banner, ready, project))
            if project == 200 and banner:
                break
            time.sleep(0.05)
        health = _status(f"{url}/-/health")
    finally:
        child.terminate()
        child.wait(30)
        reader.join(10)
        if child.stdout:
            child.stdout.close()
    output = "".join(lines)
    assert seen[-1][1:] == (200, 200), output
    projects = [p for _, _, p in seen]
    assert set(projects) <= {"refused", 503, 200}, projects
    assert 503 in projects and projects[projects.index(200) :] == [200] * projects.count(200)
    readiness = [r for _, r, _ in seen if r != "refused"]
    assert readiness[0] == 503 and readiness[readiness.index(200) :].count(503) == 0
    assert not any(banner and ready == 503 for banner, ready, _ in seen), "banner before ready"
    assert health == 200
    assert child.returncode == 0, output


def test_probes_answer_as_gitlabs(tmp_path: Path) -> None:
    """health_check.md: /-/health, /-/liveness, /-/readiness (503 until ready)."""
    with Sandbox.start(state_dir=tmp_path / "state", ready=False) as sb:
        auth = {"PRIVATE-TOKEN": sb.token}
        waiting = requests.get(f"{sb.url}/-/readiness", timeout=5)
        assert waiting.status_code == 503
        assert waiting.json()["status"] == "failed"
        assert waiting.json()["master_check"][0]["status"] == "failed"
        assert requests.get(f"{sb.url}/api/v4/projects", headers=auth, timeout=5).status_code == 503
        assert requests.get(f"{sb.url}/jenkins/", timeout=5).status_code == 503
        health = requests.get(f"{sb.url}/-/health", timeout=5)
        assert (health.status_code, health.text) == (200, "GitLab OK")
        liveness = requests.get(f"{sb.url}/-/liveness", timeout=5)
        assert (liveness.status_code, liveness.json()) == (200, {"status": "ok"})
        sb.mark_ready()
        ready = requests.get(f"{sb.url}/-/readiness", timeout=5)
        assert ready.json() == {"status": "ok", "master_check": [{"status": "ok"}]}
        assert requests.get(f"{sb.url}/api/v4/projects", headers=auth, timeout=5).json() == []
