"""Durable sandbox state: one JSON document in the state directory, plus bare repos.

Why JSON and one lock: the sandbox serves a handful of test clients, so a single
re-entrant lock around an in-memory document is simple and race-free, and
rewriting the file atomically (write a temp file, then `os.replace`) after every
change means a crash or a restart never loses or half-writes state. A failed
transaction is rolled back (reloaded from the last saved text, which is the state
it started from: nothing changes the document outside a transaction), so a
request that errors leaves nothing half-done.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
SCHEMA_VERSION = 1


def now_iso() -> str:
    """The current time as GitLab writes it: ISO 8601, milliseconds, UTC `Z`."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _empty() -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "counters": {},
        "groups": {},
        "projects": {},
        "merge_requests": {},
        "notes": {},
        "hooks": {},
        "labels": {},
        "protected_branches": {},
        "deliveries": {},
        "environments": {},
        "deployments": {},
        "jenkins": {"jobs": {}, "queue": {}, "builds": {}},
    }


class State:
    """The sandbox's document store; use `transaction()` to change it, `read()` to look."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repos_dir = root / "repos"
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self._path = root / STATE_FILE
        self._lock = threading.RLock()
        self._depth = 0
        self.is_new = not self._path.exists()
        self._saved = "" if self.is_new else self._path.read_text(encoding="utf-8")
        self.data: dict[str, Any] = _empty() if self.is_new else json.loads(self._saved)
        if self.is_new:
            self._save()

    @contextmanager
    def read(self) -> Iterator[dict[str, Any]]:
        """Hold the lock while looking at the document (no copy, no write)."""
        with self._lock:
            yield self.data

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Change the document; saved when the outermost block ends, rolled back on error."""
        with self._lock:
            outermost = self._depth == 0
            self._depth += 1
            try:
                yield self.data
            except BaseException:
                if outermost:
                    self.data = json.loads(self._saved)
                raise
            finally:
                self._depth -= 1
            if outermost:
                self._save()

    def next_id(self, kind: str) -> int:
        """Allocate the next id of `kind` (call inside a transaction)."""
        counters = self.data["counters"]
        counters[kind] = counters.get(kind, 0) + 1
        return int(counters[kind])

    def _save(self) -> None:
        text = json.dumps(self.data, separators=(",", ":"))
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self._path)
        self._saved = text
