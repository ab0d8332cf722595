"""The services one sandbox app owns, reachable from any view through `services()`.

Kept apart from `app.py` so views and service modules can import it without
importing the app factory (which imports them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app, has_request_context, request

from gitops_sandbox.state import State

if TYPE_CHECKING:
    from gitops_sandbox.faults import Faults
    from gitops_sandbox.hooks import HookDispatcher
    from gitops_sandbox.jenkins_executors import BuildRunner

ADMIN_USER = {
    "id": 1,
    "username": "root",
    "name": "Administrator",
    "email": "admin@example.com",
}
GITLAB_VERSION = "17.5.0"
JENKINS_VERSION = "2.462.3"


@dataclass
class Services:
    """State, hook delivery, fault injection, Jenkins' executors and settings of one sandbox."""

    state: State
    hooks: HookDispatcher
    faults: Faults
    builds: BuildRunner
    token: str
    external_url: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # Set once seeding is done; until then every request but the probes gets 503.
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        """The URL the sandbox calls itself (GitLab's `external_url`), without a slash."""
        if self.external_url:
            return self.external_url.rstrip("/")
        if has_request_context():
            return request.host_url.rstrip("/")
        return "http://127.0.0.1"

    def repo_path(self, project: dict[str, Any]) -> Path:
        """Where a project's bare repository lives."""
        return self.state.repos_dir / f"{project['path_with_namespace']}.git"


def services() -> Services:
    """The services of the app handling the current request."""
    svc: Services = current_app.extensions["sandbox"]
    return svc
