"""Seeding the default projects, `serve_forever`, and the sandbox's import boundary."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gitlab
import pytest

from gitops_sandbox import (
    DEPLOYMENTS,
    EXAMPLE_APP,
    Sandbox,
    SandboxError,
    init_repo_available,
    seed_default,
    serve_forever,
    write_example_app,
)
from gitops_sandbox.seed import APP_CUE
from tests.gitops_sandbox.sandbox_testing import git

TOKEN = "t0ken"  # noqa: S105 - a test value
# The seeded app repository carries the same app layer as the documented example.
SPEC_APP_CUE = (
    Path(__file__).parents[2] / "examples" / "example-app" / "deployment" / "app.cue"
).read_text()


def test_example_app_repo(tmp_path: Path) -> None:
    repo = write_example_app(tmp_path / "app")
    assert (repo / "deployment" / "app.cue").read_text() == SPEC_APP_CUE == APP_CUE
    jenkinsfile = (repo / "Jenkinsfile").read_text()
    call = (
        "gitopsPromote(app: 'example-app', image: 'registry.example.com/example-app', "
        "tag: env.IMAGE_TAG)"
    )
    assert call in jenkinsfile
    assert jenkinsfile.index("stage('Build')") < jenkinsfile.index(call)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"


@pytest.mark.skipif(
    not init_repo_available(),
    reason="`gitops-helper init-repo` is not available yet (being written in "
    "parallel); seeding runs it as a subprocess and is not faked",
)
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
