"""Running a sandbox on a loopback port in a background thread: the Python API.

`Sandbox.start()` binds 127.0.0.1 (port 0 picks a free one), serves with
Werkzeug's threaded server (git fetches and API calls overlap: a webhook receiver
may call the API back while a push is streaming), and `stop()` shuts the server,
the webhook worker and, for a temporary state directory, the files down.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from gitops_sandbox import projects, users
from gitops_sandbox.admin_api import list_deliveries
from gitops_sandbox.app import create_app, shutdown_app
from gitops_sandbox.context import DEFAULT_DEVELOPER_TOKEN, Services, check_tokens
from gitops_sandbox.errors import SandboxError
from gitops_sandbox.jenkins_config import JenkinsSettings

HOST = "127.0.0.1"  # loopback only: the sandbox accepts two fixed tokens
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - a documented test credential, not a secret


def check_port(port: int) -> None:
    """Fail with a clear error if the port is taken (Werkzeug would print and exit);
    before anything is written, so a busy port leaves nothing behind."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((HOST, port))
        except OSError as e:
            raise SandboxError(
                f"cannot listen on {HOST}:{port}: {e.strerror or e}",
                "choose another port (--port P), or 0 for a free one",
            ) from e


class _QuietHandler(WSGIRequestHandler):
    """No access log lines on stderr (tests and the demo have their own output)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Drop the access log line."""


class Sandbox:
    """A running sandbox; use as a context manager so it always stops."""

    def __init__(
        self,
        app: Flask,
        server: BaseWSGIServer,
        state_dir: Path,
        *,
        owns_dir: bool,
        token: str,
        developer_token: str,
    ) -> None:
        self.app = app
        self.state_dir = state_dir
        self.token = token  # the admin's (`root`), also Jenkins' password
        self.developer_token = developer_token  # the developer's (`developer`)
        self.port = server.port
        self.url = f"http://{HOST}:{self.port}"
        self._server = server
        self._owns_dir = owns_dir
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @classmethod
    def start(
        cls,
        state_dir: Path | str | None = None,
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        *,
        developer_token: str = DEFAULT_DEVELOPER_TOKEN,
        hook_timeout: float = 5.0,
        hook_retry_delays: Sequence[float] = (0.2, 0.5, 1.0),
        merge_status_delay: float = 0.1,
        argocd_sync_delay: float = 0.3,
        log_requests: bool = False,
        ready: bool = True,
        libraries: Mapping[str, Path | str] | None = None,
        credentials: Mapping[str, str] | None = None,
        jenkins_env: Mapping[str, str] | None = None,
        agent_path: str | None = None,
        executors: int = 2,
    ) -> Sandbox:
        """Start a sandbox; without `state_dir`, in a temporary directory removed on stop.

        `token` authenticates the administrator, `developer_token` the developer
        (an ordinary user with the Developer role on every project; see users.py);
        they must differ. With `ready=False` the port is open but every request
        except the health probes answers 503 until `mark_ready()` (seeding happens
        in between).
        The Jenkins side (`jenkins_config.JenkinsSettings`): `libraries` (name ->
        directory with vars/, for `@Library('name') _`), `credentials` (Secret
        text by id; `gitlab-api-token` is the token unless given), `jenkins_env`
        (global environment; `GITLAB_URL` is the sandbox's URL unless given),
        `agent_path` (the builds' PATH) and `executors`.
        `merge_status_delay`: how long GitLab's asynchronous mergeability check takes
        (mergeability.py; `checking` until then).
        `argocd_sync_delay`: how long an Argo CD sync operation runs after a push before
        the Application is Synced at the new head (argocd.py).
        """
        jenkins = JenkinsSettings(
            libraries={name: Path(path) for name, path in (libraries or {}).items()},
            credentials=dict(credentials or {}),
            env=dict(jenkins_env or {}),
            agent_path=agent_path,
            executors=executors,
        )
        check_tokens(token, developer_token)
        check_port(port)
        owns = state_dir is None
        root = Path(tempfile.mkdtemp(prefix="gitops-sandbox-")) if owns else Path(str(state_dir))
        root.mkdir(parents=True, exist_ok=True)
        app = create_app(
            root,
            token,
            developer_token=developer_token,
            settings={
                "hook_timeout": hook_timeout,
                "hook_retry_delays": tuple(hook_retry_delays),
                "merge_status_delay": merge_status_delay,
                "argocd_sync_delay": argocd_sync_delay,
                "ready": ready,
                "jenkins": jenkins,
            },
        )
        try:
            server = make_server(
                HOST,
                port,
                app,
                threaded=True,
                request_handler=None if log_requests else _QuietHandler,
            )
        except BaseException:
            shutdown_app(app)
            if owns:
                shutil.rmtree(root, ignore_errors=True)
            raise
        svc: Services = app.extensions["sandbox"]
        svc.external_url = f"http://{HOST}:{server.port}"
        return cls(app, server, root, owns_dir=owns, token=token, developer_token=developer_token)

    # ---- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving, stop webhook delivery, remove a temporary state directory."""
        if self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._thread = None  # type: ignore[assignment]
        shutdown_app(self.app)
        if self._owns_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def mark_ready(self) -> None:
        """Take traffic: `/-/readiness` turns 200 and requests stop getting 503."""
        self.services.ready.set()

    # ---- addresses ---------------------------------------------------------------------

    @property
    def gitlab_url(self) -> str:
        """The base URL python-gitlab takes (`gitlab.Gitlab(sb.gitlab_url, private_token=...)`)."""
        return self.url

    @property
    def jenkins_url(self) -> str:
        """The URL python-jenkins takes (`jenkins.Jenkins(sb.jenkins_url, "admin", token)`)."""
        return f"{self.url}/jenkins"

    @property
    def argocd_url(self) -> str:
        """Argo CD's server URL (its API under `/api/v1`; the admin's token as a Bearer
        token does everything, the developer's is read-only)."""
        return f"{self.url}/argocd"

    def clone_url(
        self, path_with_namespace: str, *, with_token: bool = True, token: str | None = None
    ) -> str:
        """A project's git URL, with `oauth2:TOKEN@` credentials unless told otherwise.

        `token` picks whose (`sb.developer_token` to push as the developer); the admin's
        by default.
        """
        auth = f"oauth2:{token or self.token}@" if with_token else ""
        return f"http://{auth}{HOST}:{self.port}/{path_with_namespace}.git"

    @property
    def services(self) -> Services:
        """The app's state, hook dispatcher and fault rules (for white-box checks)."""
        svc: Services = self.app.extensions["sandbox"]
        return svc

    # ---- seeding and inspection --------------------------------------------------------

    def create_project(
        self,
        path_with_namespace: str,
        source_dir: Path | None = None,
        protected: Sequence[str] = ("main",),
        *,
        default_branch: str = "main",
    ) -> dict[str, Any]:
        """Create a project, pushing every branch of `source_dir` (bypassing protection)."""
        svc = self.services
        rec = projects.create(
            svc,
            path_with_namespace,
            source_dir=source_dir,
            protected=protected,
            default_branch=default_branch,
        )
        with svc.state.read() as data:
            return projects.to_json(svc, data, rec, users.ADMIN)

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded webhook deliveries (filters: hook_id, project_id, event, status)."""
        with self.services.state.read() as data:
            return [dict(d) for d in list_deliveries(data, filters)]

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook delivery is pending."""
        return self.services.hooks.wait_idle(timeout)

    def wait_for_builds(self, timeout: float = 60.0) -> bool:
        """Wait until no Jenkins build is queued or running."""
        return self.services.builds.wait_idle(timeout)

    def add_fault(self, **rule: Any) -> int:
        """Add a fault rule, as `POST /-/sandbox/faults` does (docs/SANDBOX.md: method,
        path_prefix, route_regex, status, body, delay, drip, drip_headers, count);
        its id."""
        return int(self.services.faults.add(rule)["id"])

    def fault_hits(self, rule: int | None = None) -> int:
        """How many requests one active rule (by id), or every active rule together, has
        answered (a rule with a `count` is gone once spent: see `faults`)."""
        return sum(r["hits"] for r in self.faults() if rule in (None, r["id"]))

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules, as `GET /-/sandbox/faults` lists them."""
        return self.services.faults.list()

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.services.faults.clear()

    def argocd_fault(self, **rule: Any) -> int:
        """Add an Argo CD fault rule, as `POST /-/sandbox/argocd/faults` does (app, health,
        message, sync, sync_failed, seconds; argocd_faults.py), e.g.
        `sb.argocd_fault(app="dev-example-app", health="Progressing", seconds=3)`; its id."""
        return int(self.services.argocd.faults.add(rule)["id"])

    def argocd_faults(self) -> list[dict[str, Any]]:
        """The Argo CD fault rules in force, as `GET /-/sandbox/argocd/faults` lists them."""
        return self.services.argocd.faults.list()

    def clear_argocd_faults(self) -> None:
        """Remove every Argo CD fault rule (the Applications report what they are again)."""
        self.services.argocd.faults.clear()

    def jenkins_builds(self, job: str | None = None) -> list[dict[str, Any]]:
        """Jenkins builds with their parameters, `building`, `result`, `description`."""
        with self.services.state.read() as data:
            return [
                dict(b)
                for j in data["jenkins"]["jobs"].values()
                for b in j["builds"]
                if job is None or b["job"] == job
            ]
