"""`gitops-helper sandbox up`: the local GitLab and Jenkins stand-in, with the webhook wired in.

The sandbox is its own package and imports nothing of the tool (nor the tool of
it), so the tool starts it as it would start any server (a child process) and
talks to it over HTTP. The webhook runs in this process on the next port and is
registered as the deployment project's hook, so merges cascade by themselves.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jenkins_helpers import inputs, proc, secrets
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.gitlab import Access, GitLab

MIN_TOKEN_CHARS = 8
MAX_TOKEN_CHARS = 1024  # an HTTP header, as servers and proxies take one
# What Jenkinsfiles load: @Library('jenkins-gitops-helpers') _
LIBRARY_NAME = "jenkins-gitops-helpers"
DEPLOYMENTS = "platform/k8s-deployments"  # the project the sandbox seeds
READY_TIMEOUT = 180.0


def shared_library() -> Path | None:
    """This checkout's Jenkins shared library (the directory holding vars/), if there is one.

    An installed wheel carries no vars/: the sandbox's Jenkins then has no library.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "vars" / "gitopsPromote.groovy").is_file() else None


def up(
    state_dir: Path | None,
    port: int,
    token: str,
    webhook_secret: str | None,
    echo: Callable[[str], None],
) -> None:
    """Run the sandbox (a child) and the webhook (here) until Ctrl-C.

    Every input is checked before anything starts: the token and the webhook's
    secret, then the state directory (made if need be)."""
    token = _checked_token(token, "--token")
    webhook_secret = _checked_token(webhook_secret or token, "--webhook-secret")
    if state_dir is not None:
        state_dir = inputs.directory_to_use(state_dir, "--dir", empty=False)
    with tempfile.TemporaryDirectory(prefix="gitops-sandbox-up-") as tmp:
        ready = Path(tmp) / "ready.json"
        child = proc.spawn(sandbox_args(state_dir, port, ready), env={"SANDBOX_TOKEN": token})
        try:
            urls = wait_ready(child, ready)
            _serve_webhook(urls, port, token, webhook_secret, echo)
        finally:
            proc.stop(child)


def _checked_token(value: str, what: str) -> str:
    """A token as HTTP headers carry it (secrets.checked_token: no control characters,
    ASCII only), of MIN_TOKEN_CHARS to MAX_TOKEN_CHARS characters."""
    token = secrets.checked_token(value, what)
    if not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
        raise BadInput(
            f"{what} must have {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} characters, not {len(token)}",
            f"e.g. {what} sandbox-token",
        )
    return token


def sandbox_args(state_dir: Path | None, port: int, ready: Path) -> list[str]:
    args = [sys.executable, "-m", "gitops_sandbox", "up", "--port", str(port)]
    args += ["--ready-file", str(ready)]
    if state_dir is not None:
        args += ["--dir", str(state_dir)]
    library = shared_library()
    if library is not None:
        args += ["--library", f"{LIBRARY_NAME}={library}"]
    return args


def wait_ready(child: proc.Process, ready: Path) -> dict[str, str]:
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if child.poll() is not None:
            raise UserError(f"the sandbox stopped with exit code {child.returncode} (see above)")
        if time.monotonic() > deadline:
            raise UserError(f"the sandbox was not ready within {READY_TIMEOUT:g} s")
        time.sleep(0.2)
    urls: dict[str, str] = json.loads(ready.read_text())
    return urls


def _serve_webhook(
    urls: dict[str, str], port: int, token: str, secret: str, echo: Callable[[str], None]
) -> None:
    from gitops_helper.commands import webhook

    hook_port = port + 1 if port else 0
    config: dict[str, Any] = {
        "GITOPS_WEBHOOK_SECRET": secret,
        "GITLAB_URL": urls["gitlab_url"],
        "GITLAB_TOKEN": token,
        "GITOPS_PROJECT": DEPLOYMENTS,
        "GITOPS_DATA_DIR": str(Path(urls["state_dir"]) / "webhook"),
        "GITOPS_RECONCILE_INTERVAL": 60,
    }

    def register(hook_url: str) -> None:
        with GitLab(Access(urls["gitlab_url"], token)) as gl:
            done = gl.ensure_hook(DEPLOYMENTS, hook_url, secret)
        echo(f"Webhook        : {hook_url}   ({done} as {DEPLOYMENTS}'s hook)")

    webhook.serve("127.0.0.1", hook_port, register, config)
