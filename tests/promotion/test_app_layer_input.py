"""`promote` reads an app repository's deployment/app.cue only when it is a regular file
of at most 1 MiB (docs/VALIDATION.md, "The app layer"): anything else is bad input,
refused at once (exit 2), before CUE or GitLab is asked anything.

A FIFO used to block the read forever, and a 50 MB file to keep CUE busy for minutes
with gigabytes of memory. The CLI runs as Jenkins runs it, against a seeded sandbox.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.promotion.sources import MAX_APP_LAYER_BYTES
from tests.helpers.apprepo import app_cue, make_app_repo
from tests.helpers.operator import project_state

TOKEN = "app-layer-input-token-2b7c"  # noqa: S105 - the sandbox's test credential
APP = "input-app"
IMAGE = f"registry.example.com/{APP}"
DEADLINE = 60  # seconds: a refusal is immediate; a hang would be forever


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def project(sandbox: Sandbox) -> Iterator[Project]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def promote(sandbox: Sandbox, repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": TOKEN}
    args = ["--app", APP, "--image", IMAGE, "--tag", "1.0.0", "--app-repo", str(repo)]
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", "promote", *args, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def app_file(repo: Path) -> Path:
    return repo / "deployment" / "app.cue"


def fifo(repo: Path) -> str:
    os.mkfifo(app_file(repo))
    return "a FIFO"


def fifo_behind_a_symlink(repo: Path) -> str:
    os.mkfifo(repo / "deployment" / "pipe")
    app_file(repo).symlink_to("pipe")
    return "a FIFO"


def directory(repo: Path) -> str:
    app_file(repo).mkdir()
    return "a directory"


def unix_socket(repo: Path) -> str:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(app_file(repo)))
    server.close()  # the socket file stays
    return "a socket"


SPECIAL: dict[str, Callable[[Path], str]] = {
    "fifo": fifo,
    "fifo-behind-a-symlink": fifo_behind_a_symlink,
    "directory": directory,
    "socket": unix_socket,
}


def repo_without_app_file(tmp_path: Path) -> Path:
    repo = make_app_repo(tmp_path / APP, app_cue(APP, IMAGE, "port: 8080"))
    app_file(repo).unlink()
    return repo


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_special_file_as_the_app_layer_is_refused_at_once(
    sandbox: Sandbox, project: Project, tmp_path: Path, kind: str
) -> None:
    repo = repo_without_app_file(tmp_path)
    what = SPECIAL[kind](repo)
    before = project_state(project)
    done = promote(sandbox, repo)
    assert done.returncode == 2, done.stderr
    assert f"deployment/app.cue is {what}, not a regular file" in done.stderr
    assert "unexpected" not in done.stderr
    assert project_state(project) == before


def padded(size: int) -> str:
    """A valid app layer of exactly `size` bytes: comment lines after its fields."""
    text = app_cue(APP, IMAGE, "port: 8080")
    line = "// " + "x" * 76 + "\n"
    pad = size - len(text)
    return text + line * (pad // len(line)) + "/" * (pad % len(line))


@pytest.mark.parametrize(
    "size", [MAX_APP_LAYER_BYTES + 1, 2 * MAX_APP_LAYER_BYTES, 50 * MAX_APP_LAYER_BYTES]
)
@pytest.mark.parametrize("content", ["comments", "sparse"])
def test_an_app_layer_over_1_mib_is_refused_before_it_is_evaluated(
    sandbox: Sandbox, project: Project, tmp_path: Path, size: int, content: str
) -> None:
    repo = repo_without_app_file(tmp_path)
    if content == "sparse":
        with app_file(repo).open("wb") as f:
            f.truncate(size)  # holes: no disk used, as big as any
    else:
        app_file(repo).write_text(padded(size))
    assert app_file(repo).stat().st_size == size
    before = project_state(project)
    done = promote(sandbox, repo)
    assert done.returncode == 2, done.stderr
    assert f"is {size} bytes, over the {MAX_APP_LAYER_BYTES} an app layer may have" in (done.stderr)
    assert project_state(project) == before


def test_an_app_layer_of_exactly_1_mib_is_promoted(sandbox: Sandbox, tmp_path: Path) -> None:
    repo = make_app_repo(tmp_path / APP, padded(MAX_APP_LAYER_BYTES))
    assert app_file(repo).stat().st_size == MAX_APP_LAYER_BYTES
    done = promote(sandbox, repo, "--dry-run", "--env", "dev")
    assert "over the" not in done.stderr
    assert "not a regular file" not in done.stderr
    assert done.returncode == 0, done.stderr
