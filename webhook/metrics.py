"""Prometheus metrics (GET /metrics), one registry per app so tests start from zero."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from webhook.store import STATES, Store


class Metrics:
    """Deliveries by outcome, jobs by state, job duration, GitLab errors, ignored trailers."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "gitops_webhook_deliveries",
            "Webhook deliveries by outcome (queued, duplicate, ignored, rejected)",
            ["outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "gitops_webhook_job_duration_seconds",
            "Time one job attempt took, by how it ended",
            ["state"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.gitlab_errors = Counter(
            "gitops_webhook_gitlab_errors",
            "Job attempts that failed on GitLab or git (retried while attempts remain)",
            registry=self.registry,
        )
        self.ignored_trailers = Counter(
            "gitops_webhook_ignored_trailers",
            "Merged MRs whose promotion trailer was not acted on: not opened by the tool's "
            "own user, or not what the merge deployed (docs/PROMOTION.md)",
            registry=self.registry,
        )
        self.deployment_errors = Counter(
            "gitops_webhook_deployment_errors",
            "Merges into an environment whose GitLab deployment could not be recorded "
            "(the promotion went on; docs/WEBHOOK.md)",
            registry=self.registry,
        )
        jobs = Gauge("gitops_webhook_jobs", "Jobs by state", ["state"], registry=self.registry)
        for state in STATES:
            jobs.labels(state).set_function(_count(store, state))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return bytes(generate_latest(self.registry))


def _count(store: Store, state: str) -> Callable[[], float]:
    """Reads the store when Prometheus scrapes, so the gauge is never stale."""
    return lambda: float(store.counts()[state])
