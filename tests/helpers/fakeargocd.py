"""An in-memory Argo CD for decision tests: Applications set by the test, read as the
client reads them (jenkins_helpers.argocd.ArgoCD)."""

from __future__ import annotations

import dataclasses

from jenkins_helpers.argocd import AppState, application_name


class FakeArgoCD:
    """Applications by name; `reads` counts every read, to tell a gate read Argo CD."""

    def __init__(self) -> None:
        self.apps: dict[str, AppState] = {}
        self.reads = 0

    def set(
        self,
        env: str,
        app: str,
        *,
        sync: str = "Synced",
        health: str = "Healthy",
        revision: str | None = None,
        message: str = "",
        deployed_at: str | None = "2024-01-01T00:00:00Z",
    ) -> AppState:
        """Set the Application of `app` in `env` (`<env>-<app>`)."""
        name = application_name(env, app)
        state = AppState(name, sync, revision, health, message, "Succeeded", None, deployed_at)
        self.apps[name] = state
        return state

    def update(self, env: str, app: str, **changes: object) -> None:
        name = application_name(env, app)
        self.apps[name] = dataclasses.replace(self.apps[name], **changes)  # type: ignore[arg-type]

    def application(self, name: str) -> AppState | None:
        self.reads += 1
        return self.apps.get(name)

    def applications(self, selector: str | None = None) -> list[AppState]:
        self.reads += 1
        return sorted(self.apps.values(), key=lambda a: a.name)
