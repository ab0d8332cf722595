"""Every command README.md shows runs, as a newcomer would paste it.

The ```sh blocks run in order under bash -eu, in a fresh temp dir: /tmp/ becomes
that dir, port 8929 a free port, `.venv/bin/` this venv's, $EDITOR a no-op. The
sandbox's `sandbox up` line starts it in the background, once, as the walkthrough's
first terminal does. `make demo` and `make test` are what CI and tests/demo run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers.ports import free_port

# slow: runs every command of the README
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUN_ELSEWHERE = {"make demo", "make test"}  # CI runs `make test`; tests/demo the use cases


def _commands(block: str) -> list[str]:
    """Lines joined where they end in a backslash, comments and blanks dropped."""
    joined = block.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_every_readme_command_runs(tmp_path: Path) -> None:
    port, venv_bin = free_port(), str(Path(sys.executable).parent) + "/"

    def localise(text: str) -> str:
        text = text.replace("/tmp/", f"{tmp_path}/").replace("8929", str(port))
        return text.replace(".venv/bin/", venv_bin)

    blocks = [localise(b) for b in BLOCK.findall((ROOT / "README.md").read_text())]
    env = {**os.environ, "EDITOR": "true", "SANDBOX_TOKEN": "sandbox-token"}
    env.pop("GITLAB_URL", None)
    sandbox, log = None, tmp_path / "sandbox.log"
    output = log.open("wb")
    try:
        for block in blocks:
            script = []
            for command in _commands(block):
                bare = command.split("#")[0].strip()
                if bare in RUN_ELSEWHERE:
                    continue
                if " sandbox up " in f" {bare} ":
                    if sandbox is None:
                        sandbox = subprocess.Popen(
                            ["bash", "-c", f"exec {bare}"],
                            cwd=tmp_path,
                            env=env,
                            stdout=output,
                            stderr=subprocess.STDOUT,
                        )
                        _wait_ready(port, sandbox, log)
                    continue
                script.append(command)
            done = subprocess.run(
                ["bash", "-euc", "\n".join(script)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}\n{_tail(log)}"
        assert sandbox is not None, "the README starts the sandbox"
        answer = requests.get(
            f"http://127.0.0.1:{port}/api/v4/projects/platform%2Fk8s-deployments/merge_requests",
            headers={"PRIVATE-TOKEN": "sandbox-token"},
            timeout=10,
        )
        titles = [mr["title"] for mr in answer.json()]
        assert "Promote example-app 1.1.0 to dev" in titles, "the walkthrough's MR"
        page = requests.get(  # the MR list the README names, as a browser opens it
            f"http://127.0.0.1:{port}/platform/k8s-deployments/-/merge_requests",
            auth=("me", "sandbox-token"),
            timeout=10,
        )
        assert page.status_code == 200 and "Promote example-app 1.1.0 to dev" in page.text
        assert "Status board   : http://127.0.0.1:" in log.read_text(), "sandbox up names it"
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=30)
        output.close()


def _wait_ready(port: int, sandbox: subprocess.Popen[bytes], log: Path) -> None:
    """Ready on `port`, and it is our sandbox answering: it is still running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert sandbox.poll() is None, f"the sandbox exited:\n{_tail(log)}"
        try:
            if requests.get(f"http://127.0.0.1:{port}/-/readiness", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError("the sandbox did not come up")


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "sandbox output:\n" + "\n".join(lines[-20:])
