"""Durable records in SQLite: the deliveries seen, and every job with its state.

The queue (huey) decides when a job runs; this store is what the webhook knows
about it: why it exists, how often it ran, how it ended. It survives a restart,
so a job that was queued or running when the process died is run again (promotions
are idempotent: a rerun updates or leaves the same MR, it never opens a second).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from webhook import failures

JobState = Literal[
    "queued", "running", "done", "blocked", "failed", "waiting", "degraded", "timeout"
]
STATES: tuple[JobState, ...] = (
    "queued",
    "running",
    "done",
    "blocked",
    "failed",
    "waiting",
    "degraded",
    "timeout",
)
UNFINISHED: tuple[JobState, ...] = ("queued", "running")
# A merge job whose next MR waits for Argo CD (operations/health_gate.py): `waiting` is
# looked at again every `argocd.poll`, `degraded` and `timeout` less often and on
# each reconcile, until the promotion runs (docs/ARGOCD.md).
GATED: tuple[JobState, ...] = ("waiting", "degraded", "timeout")
CHECKPOINT_SECONDS = 1.0
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    job_id INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    result TEXT,
    delivery TEXT,
    target TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, target);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    taken_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Job:
    """One unit of work: handle a merge, or reconcile the project."""

    id: int
    key: str  # what makes two jobs the same job (e.g. merge commit and target branch)
    kind: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    last_error: str | None
    result: dict[str, Any] | None
    delivery: str | None
    target: str | None  # the branch the job proposes MRs to, once known
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        """The job as GET /jobs shows it: with the merge it is about, and for a failed job
        the category of its last error (failures.py) next to the error itself."""
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "merge": self._merge(),
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "failure": failures.category(self.last_error) if self.state == "failed" else None,
            "result": self.result,
            "delivery": self.delivery,
            "target": self.target,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def _merge(self) -> dict[str, Any] | None:
        """The merged MR a merge job is about: iid, title and the branch it merged into."""
        if self.kind != "merge":
            return None
        return {k: self.payload.get(k) for k in ("iid", "title", "target_branch")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The webhook's SQLite database; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a killed process (kill -9) intact; only
        # an OS crash can lose the last commits, and reconcile finds those merges again.
        # It spares an fsync per delivery: acknowledging stays fast under load.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # SQLite copies the WAL back into the database (a checkpoint, with an fsync)
        # inside whichever commit crosses 1000 pages: a 5 ms stall every ~150 acks.
        # Here a thread of its own does it instead, so no delivery waits for one.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="gitops-store-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join()
        with self._lock:
            self._db.close()

    def _checkpoint_loop(self) -> None:
        """Checkpoint the WAL every CHECKPOINT_SECONDS, on a connection of its own (a
        PASSIVE checkpoint never blocks the writers)."""
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            while not self._closing.wait(CHECKPOINT_SECONDS):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as e:
                    log.warning("checkpointing %s failed (will retry): %s", self.path, e)
        finally:
            db.close()

    def ping(self) -> None:
        """Raise when the database cannot be written (readiness)."""
        with self._tx() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS ping (x)")

    # --- deliveries ---------------------------------------------------------------------

    def record_delivery(self, key: str, event: str, outcome: str, job_id: int | None) -> bool:
        """Remember a delivery; False when this key was seen before (a retry or resend)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?)",
                (key, _now(), event, outcome, job_id),
            )
            return cursor.rowcount == 1

    def delivery_seen(self, key: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM deliveries WHERE key = ?", (key,)).fetchone()
        return row is not None

    # --- jobs -----------------------------------------------------------------------------

    def add_job(
        self, key: str, kind: str, payload: dict[str, Any], delivery: str | None
    ) -> tuple[Job, bool]:
        """The job for `key`, created (True) unless it exists already (False); the
        delivery that asked for it is recorded in the same transaction."""
        with self._tx() as db:
            now = _now()
            if delivery is not None:
                db.execute(
                    "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, 'queued', NULL)",
                    (delivery, now, kind),
                )
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (key, kind, payload, state, delivery, created_at,"
                " updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (key, kind, json.dumps(payload, sort_keys=True), delivery, now, now),
            )
            created = cursor.rowcount == 1
            row = db.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        return _job(row), created

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(
        self, *, state: JobState | None = None, states: Sequence[JobState] = (), limit: int = 100
    ) -> list[Job]:
        """The newest jobs first (of the state, or the states, if given)."""
        wanted = json.dumps([state, *states] if state else [*states])
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE ? = '[]' OR state IN (SELECT value FROM json_each(?))"
                " ORDER BY id DESC LIMIT ?",
                (wanted, wanted, limit),
            ).fetchall()
        return [_job(r) for r in rows]

    def unfinished(self) -> list[Job]:
        """Jobs queued or running when the process stopped: to run again, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"
            ).fetchall()
        return [_job(r) for r in rows]

    def gated(self) -> list[Job]:
        """Jobs whose promotion waits for Argo CD (GATED), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN (?, ?, ?) ORDER BY id", GATED
            ).fetchall()
        return [_job(r) for r in rows]

    def blocked_for(self, target: str) -> list[Job]:
        """Jobs whose promotion to `target` was blocked (to retry once `target` changes)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state = 'blocked' AND target = ? ORDER BY id", (target,)
            ).fetchall()
        return [_job(r) for r in rows]

    def mark(
        self,
        job_id: int,
        state: JobState,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        target: str | None = None,
        attempt: bool = False,
    ) -> None:
        """Move a job to `state`, keeping its last error and result."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error),"
                " result = COALESCE(?, result), target = COALESCE(?, target),"
                " attempts = attempts + ?, updated_at = ? WHERE id = ?",
                (
                    state,
                    error,
                    json.dumps(result, sort_keys=True) if result is not None else None,
                    target,
                    1 if attempt else 0,
                    _now(),
                    job_id,
                ),
            )

    # --- locks: one job at a time per target branch -------------------------------------

    def try_lock(self, names: list[str], owner: int) -> bool:
        """Take every lock in `names` for job `owner`, or none of them (False)."""
        with self._tx() as db:
            for name in names:
                row = db.execute("SELECT owner FROM locks WHERE name = ?", (name,)).fetchone()
                if row is not None and row[0] != owner:
                    return False
            now = _now()
            db.executemany(
                "INSERT OR REPLACE INTO locks VALUES (?, ?, ?)", [(n, owner, now) for n in names]
            )
            return True

    def unlock(self, owner: int) -> None:
        """Release every lock job `owner` holds."""
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE owner = ?", (owner,))

    def clear_locks(self) -> None:
        """Forget every lock: at start, no job of this store is running."""
        with self._tx() as db:
            db.execute("DELETE FROM locks")

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        found = {row[0]: row[1] for row in rows}
        return {state: found.get(state, 0) for state in STATES}


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        key=row["key"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        state=row["state"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        result=json.loads(row["result"]) if row["result"] else None,
        delivery=row["delivery"],
        target=row["target"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
