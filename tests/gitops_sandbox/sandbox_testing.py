"""Helpers for the sandbox tests: real git repos, and a tiny webhook receiver.

Git identity and config come from the pinned environment of tests/conftest.py.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ENVS = ("dev", "stage", "prod")


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stdout; fail the test with stderr on error."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    """Write `files` in the work tree, commit them, return the new commit's sha."""
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(path: Path, files: dict[str, str], branches: Iterable[str] = ()) -> Path:
    """A repo with `files` committed on main and `branches` created from it."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    commit_files(path, files, "Initial commit")
    for branch in branches:
        git(path, "branch", branch)
    return path


def deployments_repo(path: Path) -> Path:
    """A small k8s-deployments look-alike: main plus one branch per environment."""
    repo = make_repo(
        path, {"README.md": "# k8s-deployments\n", "services/apps/example-app.cue": "app: 1\n"}
    )
    for replicas, env in enumerate(ENVS, start=1):
        git(repo, "checkout", "--quiet", "-b", env, "main")
        commit_files(repo, {f"envs/{env}/env.cue": f"replicas: {replicas}\n"}, f"{env} env")
    git(repo, "checkout", "--quiet", "main")
    return repo


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that records requests and answers queued statuses."""

    statuses: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to point a hook."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        """Listen on a free loopback port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the listener down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
