"""`gitops-helper sandbox up`: run a sandbox in the foreground until Ctrl-C.

The CLI command calls `serve_forever`; it seeds a new state directory, prints
where everything is and how to talk to it, and keeps the state directory so a
restart with `--dir` finds the same projects, merge requests and jobs.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitops_sandbox.context import DEFAULT_DEVELOPER_TOKEN, DEVELOPER_USER
from gitops_sandbox.jenkins_pipeline import username_passwords
from gitops_sandbox.seed import DEPLOYMENTS, seed_default
from gitops_sandbox.server import Sandbox, check_port
from gitops_sandbox.state import STATE_FILE


def banner(sb: Sandbox) -> str:
    """URLs, the two users' tokens and copy-paste examples for a running sandbox."""
    settings = sb.services.builds.settings
    libraries = ", ".join(f"{n}={p}" for n, p in settings.libraries.items()) or "none"
    logins = username_passwords(settings, sb.token)
    credentials = ", ".join(
        [f"{c} (Secret text)" for c in sorted(settings.credential_store(sb.token))]
        + [
            f"{c} (Username with password, user {u}: for git)"
            for c, (u, _) in sorted(logins.items())
        ]
    )
    developer = DEVELOPER_USER["username"]
    return f"""\
GitLab sandbox : {sb.gitlab_url}   (REST API v4 under {sb.url}/api/v4)
Jenkins        : {sb.jenkins_url}   (user admin, password = the token)
Argo CD        : {sb.argocd_url}   (Authorization: Bearer the token; the developer's: read-only)
Token          : {sb.token}   (user root, an administrator)
Developer      : {sb.developer_token}   (user {developer}, Developer role on every project)
State          : {sb.state_dir}   (restart with --dir {sb.state_dir} to keep it)
Merge requests : {sb.url}/{DEPLOYMENTS}/-/merge_requests   (any user name, the token as password)
Admin          : {sb.url}/-/sandbox/deliveries, /-/sandbox/faults, /-/sandbox/jenkins/builds
Libraries      : {libraries}   (for @Library('name') _)
Credentials    : {credentials}

python-gitlab:
    import gitlab
    gl = gitlab.Gitlab("{sb.gitlab_url}", private_token="{sb.token}")
    project = gl.projects.get("{DEPLOYMENTS}")
    print(project.mergerequests.list(state="opened", get_all=True))

curl:
    curl -H "PRIVATE-TOKEN: {sb.token}" {sb.url}/api/v4/projects/{DEPLOYMENTS.replace("/", "%2F")}

git:
    git clone {sb.clone_url(DEPLOYMENTS)}
"""


def serve_forever(
    state_dir: Path | None,
    port: int,
    token: str,
    echo: Callable[[str], None],
    *,
    stop: threading.Event | None = None,
    ready_file: Path | None = None,
    developer_token: str = DEFAULT_DEVELOPER_TOKEN,
    **jenkins: Any,
) -> None:
    """Start (seeding a new state dir), print the banner, serve until Ctrl-C (or `stop`).

    The banner comes only once the sandbox is ready (seeded): what it names exists.
    `jenkins` holds `Sandbox.start`'s Jenkins keywords (`libraries`, `credentials`,
    `jenkins_env`, `agent_path`, `executors`). `ready_file`, when given, receives the
    URLs as JSON once ready: how a program that started the sandbox learns its port.
    `developer_token` authenticates the developer, as `token` does the admin.
    """
    check_port(port)  # before the temporary directory: a busy port leaves nothing
    root = Path(tempfile.mkdtemp(prefix="gitops-sandbox-")) if state_dir is None else state_dir
    new = not (root / STATE_FILE).exists()
    seeded = not new
    try:
        with Sandbox.start(
            state_dir=root,
            port=port,
            token=token,
            developer_token=developer_token,
            ready=not new,
            **jenkins,
        ) as sb:
            if new:
                # The port is open: requests get 503 (and /-/readiness says so) until
                # the projects exist, so nobody sees a seeded project missing.
                echo(f"Seeding {root} ... ({sb.url} answers 503 until ready)")
                seed_default(sb)
                seeded = True
                sb.mark_ready()
            if ready_file is not None:
                _write_ready(ready_file, sb)
            echo(banner(sb))
            echo("Press Ctrl-C to stop.")
            _wait(stop or threading.Event())
            echo("Stopping the sandbox.")
    finally:
        if not seeded:  # half-seeded: forget it, so the next start seeds again
            (root / STATE_FILE).unlink(missing_ok=True)
            shutil.rmtree(root / "repos", ignore_errors=True)


def _write_ready(path: Path, sb: Sandbox) -> None:
    """The sandbox's URLs as JSON, written whole (rename) so a reader never sees half."""
    urls = {
        "url": sb.url,
        "gitlab_url": sb.gitlab_url,
        "jenkins_url": sb.jenkins_url,
        "argocd_url": sb.argocd_url,
        "state_dir": str(sb.state_dir),
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(urls))
    partial.replace(path)


def run(state_dir: Path | None, port: int, token: str) -> None:
    """`serve_forever` printing to stdout."""
    serve_forever(state_dir, port, token, print)


def _wait(stop: threading.Event) -> None:
    """Wait for `stop`, Ctrl-C, SIGTERM (process managers stop with SIGTERM) or SIGHUP
    (its terminal closed: the whole foreground group gets it), then stop as on Ctrl-C."""
    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGTERM, signal.SIGHUP) if in_main else ()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
