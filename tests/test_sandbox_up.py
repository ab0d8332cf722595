"""`gitops-helper sandbox up` as a newcomer runs it: a busy port refused before anything
is printed or written; once up, what to open (the status board, the MR list, Jenkins,
the token); and however it is stopped, SIGKILL included, its child sandbox stops too."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.ports import free_port

pytestmark = pytest.mark.e2e  # starts the sandbox (as a command: no import puts it here)

CLI = str(Path(sys.executable).parent / "gitops-helper")
TOKEN = "sandbox-up-token"  # noqa: S105 - made up
READY = "Press Ctrl-C to stop both"


def _env(tmp: Path) -> dict[str, str]:
    """Our own TMPDIR, to see what a run leaves there."""
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "SANDBOX_TOKEN": TOKEN}


@pytest.fixture
def busy() -> Iterator[int]:
    """A port something listens on, and the one after it free."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as other:
            if other.connect_ex(("127.0.0.1", port + 1)) != 0:
                break
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        yield port


@pytest.mark.parametrize("which", ["sandbox", "webhook"])
def test_a_busy_port_is_one_line_before_anything_is_written(
    tmp_path: Path, busy: int, which: str
) -> None:
    port = busy if which == "sandbox" else busy - 1  # the webhook listens on --port + 1
    state = tmp_path / "state"
    done = subprocess.run(
        [CLI, "sandbox", "up", "--port", str(port), "--dir", str(state)],
        env=_env(tmp_path / "tmp"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    what = "GitLab and Jenkins" if which == "sandbox" else "the webhook"
    assert done.stderr.startswith(f"error: port {busy} ({what}) is busy on 127.0.0.1")
    assert "--port P" in done.stderr and "Traceback" not in done.stderr
    assert not state.exists() and not any((tmp_path / "tmp").iterdir())


def test_the_sandboxs_own_command_leaves_no_temp_dir_on_a_busy_port(
    tmp_path: Path, busy: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitops_sandbox", "up", "--port", str(busy)],
        env=_env(tmp_path / "tmp"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{busy}" in done.stderr
    assert not any((tmp_path / "tmp").iterdir())


def _start(tmp_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """`sandbox up` on free ports, state in tmp_path/state, output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [CLI, "sandbox", "up", "--port", "0", "--dir", str(tmp_path / "state")],
            env=_env(tmp_path / "tmp"),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _summary(up: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """The `Name : value` lines `sandbox up` printed last, once it printed READY."""
    deadline = time.monotonic() + 120
    while READY not in (text := log.read_text(errors="replace")):
        assert up.poll() is None, text
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    tail = text.split("Open in a browser", 1)[1]
    return {m[1].strip(): m[2] for m in re.finditer(r"^([A-Z][\w ]+?)\s*: (\S+)", tail, re.M)}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _gone(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def test_sandbox_up_prints_what_to_open_and_every_stop_stops_its_child(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        up, children = _start(tmp_path, log), []
        try:
            urls = _summary(up, log)
            children = _children(up.pid)
            assert len(children) == 1, children
            if sig == signal.SIGTERM:  # the first start: what a newcomer opens
                _opens(urls)
            up.send_signal(sig)
            up.wait(timeout=30)
            assert _gone(children[0]), f"{sig!r}: the sandbox (pid {children[0]}) lives on"
        finally:
            up.kill()
            up.wait()
            for pid in filter(_alive, children):  # after a failure: no sandbox left running
                os.kill(pid, signal.SIGKILL)
    assert "Stopping the sandbox." in log.read_text()  # the SIGKILL'd parent's child


def _opens(urls: dict[str, str]) -> None:
    assert urls["Token"] == TOKEN
    board = requests.get(urls["Status board"], timeout=30)
    assert board.status_code == 200 and "example-app" in board.text
    mrs = requests.get(urls["Merge requests"], auth=("me", TOKEN), timeout=10)
    assert mrs.status_code == 200 and "There are no open merge requests" in mrs.text
    jenkins = requests.get(f"{urls['Jenkins']}/api/json", auth=("admin", TOKEN), timeout=10)
    assert jenkins.status_code == 200 and "jobs" in jenkins.json()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    apps = requests.get(f"{urls['Argo CD']}/api/v1/applications", headers=bearer, timeout=10)
    assert "dev-example-app" in {a["metadata"]["name"] for a in apps.json()["items"]}
    assert urls["Webhook"].endswith("/hooks/gitlab")
