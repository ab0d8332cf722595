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

from gitops_sandbox.errors import SandboxError
from gitops_sandbox.state import State

if TYPE_CHECKING:
    from gitops_sandbox.argocd import ArgoCD
    from gitops_sandbox.faults import Faults
    from gitops_sandbox.hooks import HookDispatcher
    from gitops_sandbox.jenkins_executors import BuildRunner

ADMIN_USER: dict[str, Any] = {
    "id": 1,
    "username": "root",
    "name": "Administrator",
    "email": "admin@example.com",
}
# An ordinary user with the Developer role on every project (users.py says what
# that allows), so tests can act as someone other than the tool's own user.
DEVELOPER_USER: dict[str, Any] = {
    "id": 2,
    "username": "developer",
    "name": "Dev Eloper",
    "email": "developer@example.com",
}
DEFAULT_DEVELOPER_TOKEN = "sandbox-developer-token"  # noqa: S105 - a documented test credential
GITLAB_VERSION = "17.5.0"
JENKINS_VERSION = "2.462.3"


def check_tokens(token: str, developer_token: str) -> None:
    """The two users' tokens must differ: a token names exactly one user."""
    if not token or not developer_token or token == developer_token:
        raise SandboxError(
            "the admin and developer tokens must be set and differ",
            "give the developer a token of its own (SANDBOX_DEVELOPER_TOKEN)",
        )


@dataclass
class Services:
    """State, hook delivery, fault injection, Jenkins' executors, Argo CD and settings of
    one sandbox.

    `token` is the admin's (and Jenkins'), `developer_token` the developer's.
    """

    state: State
    hooks: HookDispatcher
    faults: Faults
    builds: BuildRunner
    argocd: ArgoCD  # Argo CD's Applications (argocd.py)
    token: str
    developer_token: str = DEFAULT_DEVELOPER_TOKEN
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

    def user_tokens(self) -> tuple[tuple[int, str], ...]:
        """Each user's id with the token that authenticates as that user (admin first)."""
        return ((ADMIN_USER["id"], self.token), (DEVELOPER_USER["id"], self.developer_token))

    def repo_path(self, project: dict[str, Any]) -> Path:
        """Where a project's bare repository lives."""
        return self.state.repos_dir / f"{project['path_with_namespace']}.git"


def services() -> Services:
    """The services of the app handling the current request."""
    svc: Services = current_app.extensions["sandbox"]
    return svc
