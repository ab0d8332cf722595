"""The durable queue: huey with its SQLite storage, consumed by threads of this process.

huey decides when a job runs, delays retries, and runs them on worker threads; what
a job is and how it ended lives in store.py. A job is queued by its id only, so a
queue entry can always be rebuilt from the store (see `Jobs.recover`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from huey import SqliteHuey
from huey.consumer import Consumer
from huey.exceptions import RetryTask


class Handler(Protocol):
    """Runs a job by id; returns seconds to wait before the next attempt, or None when
    done. `once`: a look at a job that has its own schedule already (a gated job looked
    at on request, webhook/jobs.py); its answer schedules nothing."""

    def __call__(self, job_id: int, /, once: bool = False) -> float | None: ...


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer, run inside the webhook process: the process owns the signals.

    huey's own command-line consumer installs SIGTERM/SIGINT handlers that only set a
    flag for its main loop; embedded, that loop does not run, so they would make the
    web server ignore SIGTERM.
    """

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """Queue job ids; run them on `workers` threads with `handler`."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        # No fsync for the queue: the store (store.py) is what survives, and `recover`
        # rebuilds the queue from it.
        self.huey = SqliteHuey(
            name="gitops-webhook",
            filename=str(data_dir / "queue.db"),
            results=False,
            utc=True,
            fsync=False,
        )
        self._handler = handler
        self._task = self.huey.task(name="run_job")(self._execute)
        self._consumer: _EmbeddedConsumer | None = None

    def _execute(self, job_id: int, once: bool = False) -> None:
        delay = self._handler(job_id, once=True) if once else self._handler(job_id)
        if delay is not None and not once:
            raise RetryTask(delay=delay)

    def submit(self, job_id: int, delay: float = 0.0, *, once: bool = False) -> None:
        """Run the job as soon as a worker is free (or after `delay` seconds); `once`:
        whatever it answers, do not run it again (see Handler)."""
        if delay > 0:
            self._task.schedule(args=(job_id, once), delay=delay)
        else:
            self._task(job_id, once)

    def flush(self) -> None:
        """Forget every queued and scheduled entry (the store re-submits what is unfinished)."""
        self.huey.storage.flush_queue()
        self.huey.storage.flush_schedule()

    def pending(self) -> int:
        """Entries waiting to run, now or later."""
        return int(self.huey.pending_count()) + int(self.huey.scheduled_count())

    def start(self, workers: int) -> None:
        """Start worker threads (and the scheduler of delayed retries)."""
        if workers <= 0 or self._consumer is not None:
            return
        self._consumer = _EmbeddedConsumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,  # idle workers poll SQLite: keep the pickup latency low
            max_delay=0.5,
            scheduler_interval=1,
        )
        self._consumer.start()

    def stop(self) -> None:
        """Stop the workers, letting a running job finish."""
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
