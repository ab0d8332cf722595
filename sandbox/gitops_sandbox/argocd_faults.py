"""Argo CD fault rules: an Application that is slow to turn Healthy, Degraded, drifted or
failing to sync, for tests of what waits on Argo CD.

In memory only, as the GitLab fault rules are (faults.py): a rule describes one test's
scenario. A rule names an Application (or none: every Application) and says, for
`seconds` from when it is added (or until cleared), one or more of: the health to
report (`health`, with an optional `message`), the sync status to report (`sync`:
drift found by Argo CD's comparison), and that sync operations fail (`sync_failed`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from gitops_sandbox.errors import ApiError

# health.HealthStatusCode (gitops-engine pkg/health/health.go); Healthy is the default.
HEALTH_CODES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
# v1alpha1.SyncStatusCode (pkg/apis/application/v1alpha1/types.go).
SYNC_CODES = ("Synced", "OutOfSync", "Unknown")
_KEYS = {"app", "health", "message", "sync", "sync_failed", "seconds"}


@dataclass
class ArgoFault:
    """One rule: which Application, what it reports or does, until when (None: cleared)."""

    id: int
    app: str | None
    health: str | None
    message: str | None
    sync: str | None
    sync_failed: bool
    added: float
    until: float | None

    def active(self, name: str, at: float) -> bool:
        """Whether the rule holds for Application `name` at time `at`."""
        return (
            self.app in (None, name)
            and self.added <= at
            and (self.until is None or at < self.until)
        )

    def as_dict(self) -> dict[str, Any]:
        """The rule as the admin endpoint shows it (`seconds_left`: null while it lasts)."""
        left = None if self.until is None else max(0.0, round(self.until - time.time(), 3))
        return {
            "id": self.id,
            "app": self.app,
            "health": self.health,
            "message": self.message,
            "sync": self.sync,
            "sync_failed": self.sync_failed,
            "seconds_left": left,
        }


def _checked(spec: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields, or 400 `{"error": ...}` naming what is wrong (nothing is added)."""
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ApiError(400, {"error": f"unknown field(s): {', '.join(unknown)}"})
    health, sync, failed = spec.get("health"), spec.get("sync"), spec.get("sync_failed", False)
    if health is not None and health not in HEALTH_CODES:
        raise ApiError(400, {"error": f"health must be one of {', '.join(HEALTH_CODES)}"})
    if sync is not None and sync not in SYNC_CODES:
        raise ApiError(400, {"error": f"sync must be one of {', '.join(SYNC_CODES)}"})
    if not isinstance(failed, bool):
        raise ApiError(400, {"error": "sync_failed must be true or false"})
    if health is None and sync is None and not failed:
        raise ApiError(400, {"error": "health, sync or sync_failed is missing"})
    seconds = spec.get("seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
    ):
        raise ApiError(400, {"error": "seconds must be a positive number (or null: until cleared)"})
    app, message = spec.get("app"), spec.get("message")
    for name, value in (("app", app), ("message", message)):
        if value is not None and not isinstance(value, str):
            raise ApiError(400, {"error": f"{name} must be a string"})
    return {"app": app, "health": health, "message": message, "sync": sync, "failed": failed,
            "seconds": seconds}  # fmt: skip


class ArgoFaults:
    """The active rules; the newest active rule that says something wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[ArgoFault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a rule from `{app, health, message, sync, sync_failed, seconds}`."""
        fields = _checked(spec)
        now = time.time()
        with self._lock:
            rule = ArgoFault(
                id=self._next_id,
                app=fields["app"],
                health=fields["health"],
                message=fields["message"],
                sync=fields["sync"],
                sync_failed=fields["failed"],
                added=now,
                until=None if fields["seconds"] is None else now + float(fields["seconds"]),
            )
            self._next_id += 1
            self._rules.append(rule)
            return rule.as_dict()

    def list(self) -> list[dict[str, Any]]:
        """The rules still in force."""
        now = time.time()
        with self._lock:
            return [r.as_dict() for r in self._rules if r.until is None or now < r.until]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def health(self, name: str, at: float) -> tuple[str, str | None] | None:
        """The health (and message) a rule reports for `name` at `at`, if one does."""
        rule = self._newest(name, at, lambda r: r.health is not None)
        return None if rule is None or rule.health is None else (rule.health, rule.message)

    def sync(self, name: str, at: float) -> str | None:
        """The sync status a rule reports for `name` at `at`, if one does."""
        rule = self._newest(name, at, lambda r: r.sync is not None)
        return None if rule is None else rule.sync

    def sync_fails(self, name: str, at: float) -> bool:
        """Whether a sync operation of `name` ending at `at` fails."""
        return self._newest(name, at, lambda r: r.sync_failed) is not None

    def _newest(self, name: str, at: float, says: Any) -> ArgoFault | None:
        with self._lock:
            for rule in reversed(self._rules):
                if rule.active(name, at) and says(rule):
                    return rule
        return None
