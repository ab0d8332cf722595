"""`gitops-helper sandbox up`: the local GitLab and Jenkins stand-in, as a child process.

The sandbox is its own package and imports nothing of the tool (nor the tool of
it), so the tool starts it as it would start any server and talks to it over HTTP.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jenkins_helpers import proc
from jenkins_helpers.errors import BadInput, UserError

MIN_TOKEN_CHARS = 8
# What Jenkinsfiles load: @Library('jenkins-gitops-helpers') _
LIBRARY_NAME = "jenkins-gitops-helpers"


def shared_library() -> Path | None:
    """This checkout's Jenkins shared library (the directory holding vars/), if there is one.

    An installed wheel carries no vars/: the sandbox's Jenkins then has no library.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "vars" / "gitopsPromote.groovy").is_file() else None


def up(state_dir: Path | None, port: int, token: str) -> None:
    """Run `python -m gitops_sandbox up` in the foreground until Ctrl-C."""
    if len(token) < MIN_TOKEN_CHARS:
        raise BadInput(
            f"--token must have at least {MIN_TOKEN_CHARS} characters",
            "e.g. --token sandbox-token",
        )
    args = [sys.executable, "-m", "gitops_sandbox", "up", "--port", str(port)]
    if state_dir is not None:
        args += ["--dir", str(state_dir)]
    library = shared_library()
    if library is not None:
        args += ["--library", f"{LIBRARY_NAME}={library}"]
    code = proc.call(args, env={"SANDBOX_TOKEN": token})
    if code not in (0, 130, -2):  # -2 / 130: stopped by Ctrl-C
        raise UserError(f"the sandbox stopped with exit code {code} (its message is above)")
