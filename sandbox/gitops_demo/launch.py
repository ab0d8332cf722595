"""The sandbox as a child process: its command line, and waiting until it is ready.

Used by the demo (world.py) and by `gitops-helper sandbox up`. The sandbox imports
nothing of the tool, nor the tool of it: it is started as any server would be
(`python -m gitops_sandbox up`) and talked to over HTTP.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jenkins_helpers import proc
from jenkins_helpers.errors import UserError

# What Jenkinsfiles load: @Library('jenkins-gitops-helpers') _
LIBRARY_NAME = "jenkins-gitops-helpers"
DEPLOYMENTS = "platform/k8s-deployments"  # the project the sandbox seeds
READY_TIMEOUT = 180.0
# This file in a checkout: <root>/sandbox/gitops_demo/launch.py
CHECKOUT = Path(__file__).resolve().parents[2]


def shared_library() -> Path | None:
    """This checkout's Jenkins shared library (the directory holding vars/), if there is one.

    An installed wheel carries no vars/: the sandbox's Jenkins then has no library.
    """
    return CHECKOUT if (CHECKOUT / "vars" / "gitopsPromote.groovy").is_file() else None


def sandbox_args(state_dir: Path | None, port: int, ready: Path) -> list[str]:
    """`python -m gitops_sandbox up` on `port`, writing its URLs to `ready` when seeded."""
    args = [sys.executable, "-m", "gitops_sandbox", "up", "--port", str(port)]
    args += ["--ready-file", str(ready)]
    if state_dir is not None:
        args += ["--dir", str(state_dir)]
    library = shared_library()
    if library is not None:
        args += ["--library", f"{LIBRARY_NAME}={library}"]
    return args


def wait_ready(child: proc.Process, ready: Path) -> dict[str, str]:
    """The sandbox's URLs, once `child` wrote them to `ready`; UserError if it stopped
    or took longer than READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if child.poll() is not None:
            raise UserError(f"the sandbox stopped with exit code {child.returncode} (see above)")
        if time.monotonic() > deadline:
            raise UserError(f"the sandbox was not ready within {READY_TIMEOUT:g} s")
        time.sleep(0.2)
    urls: dict[str, str] = json.loads(ready.read_text())
    return urls
