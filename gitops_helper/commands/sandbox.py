"""`gitops-helper sandbox up`: the local GitLab and Jenkins stand-in, with the webhook wired in.

The sandbox is its own package and imports nothing of the tool (nor the tool of
it), so the tool starts it as it would start any server (a child process) and
talks to it over HTTP. The webhook runs in this process on the next port and is
registered as the deployment project's hook, so merges cascade by themselves. Once
both run, it prints what to open: the webhook's status board, the MR list, Jenkins.

The sandbox and the demo are a distribution of their own (sandbox/pyproject.toml),
not part of the tool's: `require_sandbox` says so, before anything starts, when it
is not installed. The commands import the demo's package only after that check.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
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
HOST = "127.0.0.1"  # the sandbox and its webhook listen on loopback only
MAX_PORT = 65535
HOOK_PATH = "/hooks/gitlab"  # the webhook's (webhook/views.py); its board is at /


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
    """Run the sandbox (a child) and the webhook (here) until Ctrl-C, SIGTERM or SIGHUP.

    Everything is checked before anything starts: that the sandbox is installed, the
    token and the webhook's secret, both ports, then the state directory (made if need
    be). The child's stdin is a pipe only this process holds: however this process
    ends, SIGKILL included, the child reads end-of-file and stops (`--stop-on-stdin-eof`).
    """
    require_sandbox("sandbox up")
    from gitops_demo import launch

    token = _checked_token(token, "--token")
    webhook_secret = _checked_token(webhook_secret or token, "--webhook-secret")
    hook_port = port + 1 if port else 0
    for number, what in ((port, "GitLab and Jenkins"), (hook_port, "the webhook")):
        _check_free(number, what)
    if state_dir is not None:
        state_dir = inputs.directory_to_use(state_dir, "--dir", empty=False)
    with _stopped_by_signals(), tempfile.TemporaryDirectory(prefix="gitops-sandbox-up-") as tmp:
        ready = Path(tmp) / "ready.json"
        args = [*launch.sandbox_args(state_dir, port, ready), "--stop-on-stdin-eof"]
        child = proc.spawn(args, env={"SANDBOX_TOKEN": token}, stdin_pipe=True)
        try:
            urls = launch.wait_ready(child, ready)
            _serve_webhook(urls, hook_port, token, webhook_secret, echo, launch.DEPLOYMENTS)
        finally:
            proc.stop(child)


def _check_free(port: int, what: str) -> None:
    """BadInput naming the port and --port when `port` (0: any) cannot be listened on,
    before anything is printed or written. Bound as the servers bind (SO_REUSEADDR)."""
    if port == 0:
        return
    if port > MAX_PORT:
        raise BadInput(
            f"--port {port - 1}: the webhook would listen on {port}, above {MAX_PORT}",
            f"choose --port {MAX_PORT - 1} or less",
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as e:
            raise BadInput(
                f"port {port} ({what}) is busy on {HOST}: {e.strerror or e}",
                "choose another with --port P (GitLab and Jenkins on P, the webhook on P+1), "
                "--port 0 for free ones, or stop what listens there",
            ) from None


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop `sandbox up` as Ctrl-C does, so the
    child and the webhook are stopped (by default both end the process at once). The
    webhook's own SIGTERM handler takes over while it serves."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    hook_port: int,
    token: str,
    secret: str,
    echo: Callable[[str], None],
    deployments: str,
) -> None:
    from gitops_helper.commands import webhook

    data_dir = Path(urls["state_dir"]) / "webhook"
    config: dict[str, Any] = {
        "GITOPS_WEBHOOK_SECRET": secret,
        "GITLAB_URL": urls["gitlab_url"],
        "GITLAB_TOKEN": token,
        "GITOPS_PROJECT": deployments,
        "GITOPS_DATA_DIR": str(data_dir),
        "GITOPS_RECONCILE_INTERVAL": 60,
    }

    def register(hook_url: str) -> None:
        with GitLab(Access(urls["gitlab_url"], token)) as gl:
            done = gl.ensure_hook(deployments, hook_url, secret)
        echo(_summary(urls, hook_url, done, deployments, token, data_dir))

    webhook.serve(HOST, hook_port, register, config)


def _summary(
    urls: dict[str, str], hook_url: str, done: str, deployments: str, token: str, data: Path
) -> str:
    """What to open once everything runs: the board, the MR list, Jenkins, Argo CD, the
    token."""
    board = hook_url.removesuffix(HOOK_PATH) + "/"
    return f"""
Open in a browser (the sandbox's pages: any user name, the token as password):
Status board   : {board}   (the webhook's; status.json beside it)
Merge requests : {urls["url"]}/{deployments}/-/merge_requests
Jenkins        : {urls["jenkins_url"]}   (user admin)
Argo CD        : {urls["argocd_url"]}   (API only, under /api/v1; Authorization: Bearer the token)
Token          : {token}
Webhook        : {hook_url}   ({done} as {deployments}'s hook; GitLab POSTs events there)
Webhook data   : {data}
Press Ctrl-C to stop both (docs/SANDBOX.md: restarting only the webhook)."""
