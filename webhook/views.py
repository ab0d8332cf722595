"""HTTP endpoints: the GitLab hook, health, metrics, and the job records.

The hook answers fast (GitLab waits about 10 s, retries, and disables a hook that
keeps failing): it checks the token, the size and the JSON, records the delivery
and queues a job; the work happens on the job's thread. Events it does not act on
get 202 with the reason: an error answer for an event merely ignored would get
the hook disabled. Only a bad token (401), a body too big (413) and malformed
JSON (400) are errors, because they are real misconfigurations.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, request

from jenkins_helpers import http
from jenkins_helpers.errors import BadInput, UserError
from webhook import events, logs
from webhook.jobs import Jobs
from webhook.metrics import Metrics
from webhook.settings import MAX_BODY, WebhookSettings
from webhook.store import STATES, JobState, Store

bp = Blueprint("webhook", __name__)
log = logging.getLogger(__name__)
# Readiness asks GitLab at most this often: once it answered, and while it fails.
GITLAB_CHECK_SECONDS = 30.0
GITLAB_FAILED_CHECK_SECONDS = 5.0
PROBE_SECONDS = 5.0  # /readyz's GitLab check takes at most this (or the deadline if less)


def _settings() -> WebhookSettings:
    settings: WebhookSettings = current_app.extensions["gitops"]["settings"]
    return settings


def _jobs() -> Jobs:
    jobs: Jobs = current_app.extensions["gitops"]["jobs"]
    return jobs


def _store() -> Store:
    store: Store = current_app.extensions["gitops"]["store"]
    return store


def _metrics() -> Metrics:
    metrics: Metrics = current_app.extensions["gitops"]["metrics"]
    return metrics


def _authorized() -> bool:
    """The secret in X-Gitlab-Token (or a Bearer token), compared in constant time."""
    given = request.headers.get("X-Gitlab-Token", "")
    bearer = request.headers.get("Authorization", "")
    if not given and bearer.startswith("Bearer "):
        given = bearer.removeprefix("Bearer ")
    return hmac.compare_digest(given.encode(), _settings().secret.encode())


def _answer(status: int, outcome: str, **fields: Any) -> tuple[Response, int]:
    _metrics().deliveries.labels(outcome).inc()
    return jsonify({"status": outcome, **fields}), status


@bp.post("/hooks/gitlab")
def gitlab_hook() -> tuple[Response, int]:
    """Accept a GitLab event: 202 queued, duplicate or ignored; 401, 413, 400 otherwise."""
    delivery = request.headers.get("Idempotency-Key") or request.headers.get("X-Gitlab-Event-UUID")
    with logs.context(delivery=delivery):
        if not _authorized():
            log.warning("rejected a delivery: wrong or missing X-Gitlab-Token")
            return _answer(401, "rejected", reason="wrong or missing X-Gitlab-Token")
        if (request.content_length or 0) > MAX_BODY:
            return _answer(413, "rejected", reason=f"body over {MAX_BODY} bytes")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY:
            return _answer(413, "rejected", reason=f"body over {MAX_BODY} bytes")
        try:
            body = events.load(raw)
        except BadInput as e:  # not JSON, or nested too deep to be GitLab's
            return _answer(400, "rejected", reason=e.message)
        return _accept(delivery, request.headers.get("X-Gitlab-Event", ""), body)


def _accept(delivery: str | None, event_header: str, body: object) -> tuple[Response, int]:
    if delivery and _store().delivery_seen(delivery):
        return _answer(202, "duplicate", reason="this delivery was received before")
    try:
        event = events.parse(event_header, body)
    except BadInput as e:
        return _ignore(delivery, event_header, f"malformed payload: {e.message}")
    if isinstance(event, events.Ignored):
        return _ignore(delivery, event_header, event.reason)
    if event.project_path != _settings().project:
        return _ignore(delivery, event_header, f"not the deployment project ({event.project_path})")
    job, created = _jobs().add_merge(event, delivery)
    if not created:
        return _answer(202, "duplicate", reason="this merge has a job already", job=job.id)
    log.debug("queued job %d for the merge of !%d into %s", job.id, event.iid, event.target_branch)
    return _answer(202, "queued", job=job.id)


def _ignore(delivery: str | None, event_header: str, reason: str) -> tuple[Response, int]:
    if delivery:
        _store().record_delivery(delivery, event_header, f"ignored: {reason}", None)
    log.info("ignored a delivery: %s", reason)
    return _answer(202, "ignored", reason=reason)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """The process answers (liveness)."""
    return jsonify({"status": "ok"}), 200


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the queue can be written and GitLab answers.

    Unauthenticated, so it says only which check is `ok` or `failed`: why is in the
    log (an error body from GitLab or a proxy may carry a URL with a password).
    """
    checks = {"queue": _check("queue", _store().ping), "gitlab": _gitlab_reachable()}
    ready = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


def _check(name: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as e:
        log.warning("readiness check %s failed: %s: %s", name, type(e).__name__, e)
        return "failed"
    return "ok"


class _Readiness:
    """GitLab's last answer to the readiness check, and when it came (one check at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at = -math.inf
        self.state = "unknown"

    def fresh(self) -> bool:
        keep = GITLAB_CHECK_SECONDS if self.state == "ok" else GITLAB_FAILED_CHECK_SECONDS
        return time.monotonic() - self.at < keep


def _gitlab_reachable() -> str:
    """Whether GitLab answered, as last checked: probes come every few seconds, and a
    failing GitLab must not be asked on each of them (nor by each of them at once)."""
    cached: _Readiness = current_app.extensions["gitops"].setdefault("readiness", _Readiness())
    if cached.fresh():
        return cached.state
    with cached.lock:
        if not cached.fresh():  # another request may have checked while this one waited
            from jenkins_helpers.gitlab import GitLab

            def probe() -> None:
                # Probes time out in seconds (Kubernetes' default is 1 s): a dripping
                # GitLab must not hold one for the full request deadline.
                with GitLab(_settings().access, retries=False, deadlines=_probe()) as gl:
                    gl.project(_settings().project)

            cached.state = _check("gitlab", probe)
            cached.at = time.monotonic()
        return cached.state


def _probe() -> http.Deadlines:
    found = http.Deadlines.from_environment()
    return http.Deadlines(min(found.request, PROBE_SECONDS), min(found.call, PROBE_SECONDS))


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics."""
    return Response(_metrics().exposition(), mimetype="text/plain; version=0.0.4")


@bp.get("/jobs")
def jobs() -> tuple[Response, int]:
    """The newest jobs (`?state=failed`, repeated for several states, `?limit=`);
    token-protected."""
    if not _authorized():
        return jsonify({"error": "wrong or missing token"}), 401
    states = request.args.getlist("state")
    if any(state not in STATES for state in states):
        return jsonify({"error": f"state must be one of {', '.join(STATES)}"}), 400
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    found = _store().jobs(states=[cast(JobState, state) for state in states], limit=limit)
    return jsonify({"jobs": [j.as_json() for j in found], "counts": _store().counts()}), 200


@bp.post("/jobs/<int:job_id>/retry")
def retry(job_id: int) -> tuple[Response, int]:
    """Run a failed or blocked job again; token-protected."""
    if not _authorized():
        return jsonify({"error": "wrong or missing token"}), 401
    try:
        job = _jobs().retry(job_id)
    except UserError as e:
        return jsonify({"error": e.message}), 409
    if job is None:
        return jsonify({"error": f"no job {job_id}"}), 404
    return jsonify(job.as_json()), 202
