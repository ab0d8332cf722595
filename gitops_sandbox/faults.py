"""Fault injection: make the next N matching requests fail or stall, for tests.

Faults live in memory only (a restart clears them): they describe one test's
scenario, not the sandbox's data. Admin routes (`/-/sandbox/...`) are never
affected, so a test can always clear what it set.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from gitops_sandbox.errors import ApiError


@dataclass
class Fault:
    """One rule: which requests it matches, what it does, how many times more."""

    id: int
    method: str | None
    path_prefix: str | None
    route_regex: str | None
    status: int | None
    delay: float
    remaining: int | None
    body: Any
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to a request (all given criteria must hold)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return not (self.route_regex and not re.search(self.route_regex, path))

    def as_dict(self) -> dict[str, Any]:
        """The rule as the admin endpoint shows it."""
        return {
            "id": self.id,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "route_regex": self.route_regex,
            "status": self.status,
            "delay": self.delay,
            "count": self.remaining,
            "hits": self.hits,
            "body": self.body,
        }


class Faults:
    """The active fault rules, checked in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a rule from `{method, path_prefix | route_regex, status, delay, count, body}`."""
        if not (spec.get("path_prefix") or spec.get("route_regex")):
            raise ApiError(400, {"error": "path_prefix or route_regex is missing"})
        if spec.get("status") is None and not spec.get("delay"):
            raise ApiError(400, {"error": "status or delay is missing"})
        if spec.get("route_regex"):
            try:
                re.compile(spec["route_regex"])
            except re.error as e:
                raise ApiError(400, {"error": f"route_regex is invalid: {e}"}) from e
        count = spec.get("count", 1)
        with self._lock:
            fault = Fault(
                id=self._next_id,
                method=spec.get("method"),
                path_prefix=spec.get("path_prefix"),
                route_regex=spec.get("route_regex"),
                status=None if spec.get("status") is None else int(spec["status"]),
                delay=float(spec.get("delay") or 0),
                remaining=None if count is None else int(count),
                body=spec.get("body"),
            )
            self._next_id += 1
            self._rules.append(fault)
            return fault.as_dict()

    def list(self) -> list[dict[str, Any]]:
        """Every active rule."""
        with self._lock:
            return [f.as_dict() for f in self._rules]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first rule matching the request, counted as used (and dropped when spent)."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._rules.remove(fault)
                    return fault
        return None


def default_body(status: int) -> dict[str, str]:
    """GitLab's error body for a status: `{"message": "502 Bad Gateway"}`."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"message": f"{status} {phrase}"}
