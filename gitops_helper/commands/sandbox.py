"""`gitops-helper sandbox up`: the local GitLab and Jenkins stand-in, with the webhook wired in.

The sandbox is its own package and imports nothing of the tool (nor the tool of
it), so the tool starts it as it would start any server (a child process) and
talks to it over HTTP. The webhook runs in this process on the next port and is
registered as the deployment project's hook, so merges cascade by themselves.

The sandbox and the demo are a distribution of their own (sandbox/pyproject.toml),
not part of the tool's: `require_sandbox` says so, before anything starts, when it
is not installed. The commands import the demo's package only after that check.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jenkins_helpers import inputs, proc, secrets
from jenkins_helpers.errors import BadInput
from jenkins_helpers.gitlab import Access, GitLab

MIN_TOKEN_CHARS = 8
MAX_TOKEN_CHARS = 1024  # an HTTP header, as servers and proxies take one
DISTRIBUTION = "jenkins-gitops-helpers-sandbox"
# Its packages: the demo (imported by `demo` and `sandbox up`) and the sandbox (run as
# `python -m gitops_sandbox`, never imported).
SANDBOX_PACKAGES = ("gitops_demo", "gitops_sandbox")


def require_sandbox(command: str, packages: Sequence[str] | None = None) -> None:
    """BadInput (exit 2) unless every one of `packages` (SANDBOX_PACKAGES) can be imported.

    Looked up, not imported: finding a top-level package runs none of its code."""
    packages = SANDBOX_PACKAGES if packages is None else packages
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise BadInput(
            f"`gitops-helper {command}` needs the sandbox, which is not installed "
            f"({DISTRIBUTION}: no {', '.join(missing)})",
            "from a checkout of jenkins-gitops-helpers: `pip install ./sandbox` "
            "(or `make demo`, which installs it)",
        )


def up(
    state_dir: Path | None,
    port: int,
    token: str,
    webhook_secret: str | None,
    echo: Callable[[str], None],
) -> None:
    """Run the sandbox (a child) and the webhook (here) until Ctrl-C.

    Everything is checked before anything starts: that the sandbox is installed, the
    token and the webhook's secret, then the state directory (made if need be)."""
    require_sandbox("sandbox up")
    from gitops_demo import launch

    token = _checked_token(token, "--token")
    webhook_secret = _checked_token(webhook_secret or token, "--webhook-secret")
    if state_dir is not None:
        state_dir = inputs.directory_to_use(state_dir, "--dir", empty=False)
    with tempfile.TemporaryDirectory(prefix="gitops-sandbox-up-") as tmp:
        ready = Path(tmp) / "ready.json"
        args = launch.sandbox_args(state_dir, port, ready)
        child = proc.spawn(args, env={"SANDBOX_TOKEN": token})
        try:
            urls = launch.wait_ready(child, ready)
            _serve_webhook(urls, port, token, webhook_secret, echo, launch.DEPLOYMENTS)
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


def _serve_webhook(
    urls: dict[str, str],
    port: int,
    token: str,
    secret: str,
    echo: Callable[[str], None],
    deployments: str,
) -> None:
    from gitops_helper.commands import webhook

    hook_port = port + 1 if port else 0
    config: dict[str, Any] = {
        "GITOPS_WEBHOOK_SECRET": secret,
        "GITLAB_URL": urls["gitlab_url"],
        "GITLAB_TOKEN": token,
        "GITOPS_PROJECT": deployments,
        "GITOPS_DATA_DIR": str(Path(urls["state_dir"]) / "webhook"),
        "GITOPS_RECONCILE_INTERVAL": 60,
    }

    def register(hook_url: str) -> None:
        with GitLab(Access(urls["gitlab_url"], token)) as gl:
            done = gl.ensure_hook(deployments, hook_url, secret)
        echo(f"Webhook        : {hook_url}   ({done} as {deployments}'s hook)")

    webhook.serve("127.0.0.1", hook_port, register, config)
