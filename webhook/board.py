"""The status board: `GET /` as an HTML page, `GET /status.json` as JSON. Read-only.

The same board as `gitops-helper status` (jenkins_helpers/status.py), for a wall
screen or a quick look before a release, without a token: so the page shows only what
the board holds (apps, tags, replicas, environment names, MR titles, GitLab's MR links
and environment pages), never the GitLab URL as configured, a token or an error's text
(nor why Argo CD could not be read: the log says). Each environment's heading links to
its page on GitLab's Environments, where operations/deployments.py records each merge
as a deployment. It is read from GitLab at most every `BOARD_SECONDS`, however many
people refresh: one refresh at a time, and the others get its result. If GitLab cannot
be read, the last board is shown with a note saying so (the log says why). Merge jobs
whose retries ran out are listed too, from this webhook's own records (read on every
request: no GitLab call), each with only a category of its error (failures.py); the
error itself is behind the secret, at GET /jobs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from jenkins_helpers import status
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion import target
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.status import Board
from webhook.failures import FailedMerge, failed_merge
from webhook.settings import WebhookSettings
from webhook.store import Store

bp = Blueprint("board", __name__)
log = logging.getLogger(__name__)
BOARD_SECONDS = 15.0  # how long a board is served before GitLab is read again
# No scripts, no frames, nothing fetched but the page itself (its style is inline).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": f"max-age={int(BOARD_SECONDS)}",
}
FAILED_SHOWN = 50  # the newest failed merge jobs the board lists


@dataclass
class _Cached:
    """The last board read, when it was read, and whether the last try failed."""

    board: Board | None = None
    read_at: float = float("-inf")  # time.monotonic() of the last try
    failed_at: str | None = None  # UTC time of the last failed try, if it failed
    pages: dict[str, str] = field(default_factory=dict)  # environment -> GitLab's page


class BoardCache:
    """One board per app, read again once `BOARD_SECONDS` old; one reader at a time."""

    def __init__(self, seconds: float = BOARD_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._cached = _Cached()

    def get(self, settings: WebhookSettings) -> _Cached:
        with self._lock:  # a refresh storm waits here for one read, then shares it
            if time.monotonic() - self._cached.read_at >= self.seconds:
                self._cached = self._read(settings)
            return self._cached

    def _read(self, settings: WebhookSettings) -> _Cached:
        try:
            with target.connect(settings.project, settings.access) as deployment:
                board = status.board(deployment)
                if board.argocd_problem:  # may name Argo CD's URL: the log's, not the page's
                    log.warning("the status board could not read Argo CD: %s", board.argocd_problem)
                return _Cached(board, time.monotonic(), pages=_environment_pages(deployment))
        except UserError as e:
            log.warning("the status board could not be read from GitLab: %s", e.message)
            failed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            return _Cached(self._cached.board, time.monotonic(), failed, self._cached.pages)


def _environment_pages(deployment: DeploymentProject) -> dict[str, str]:
    """Each environment's page on GitLab: its own once GitLab knows it (a deployment
    was recorded), else the project's Environments list."""
    project = deployment.project
    listing = f"{project.web_url}/-/environments"
    try:
        known = {e.name: e.web_url for e in deployment.gl.environments(project.path)}
    except UserError as e:
        log.warning("GitLab's environments could not be read: %s", e.message)
        known = {}
    return {name: known.get(name, listing) for name in deployment.settings.names}


def _cache() -> BoardCache:
    gitops: dict[str, Any] = current_app.extensions["gitops"]
    cache: BoardCache = gitops.setdefault("board", BoardCache())
    return cache


def _settings() -> WebhookSettings:
    settings: WebhookSettings = current_app.extensions["gitops"]["settings"]
    return settings


def _failed() -> list[FailedMerge]:
    """The newest merge jobs that ended `failed`, as the board may show them."""
    store: Store = current_app.extensions["gitops"]["store"]
    found = (failed_merge(job) for job in store.jobs(state="failed", limit=FAILED_SHOWN))
    return [f for f in found if f is not None]


def _gated() -> list[dict[str, Any]]:
    """Merge jobs whose next MR waits for Argo CD (waiting, degraded, timeout): each
    Application's sync status and health, not Argo CD's message (the board is public)."""
    store: Store = current_app.extensions["gitops"]["store"]
    found = []
    for job in store.gated():
        gate = (job.result or {}).get("gate") or {}
        apps = (gate.get("verdict") or {}).get("apps") or []
        found.append(
            {
                "job": job.id,
                "merge_iid": job.payload.get("iid"),
                "merged_into": job.payload.get("target_branch"),
                "target": job.target,
                "state": job.state,
                "since": gate.get("since"),
                "waited": gate.get("waited"),
                "apps": [
                    {k: (a.get("state") or {}).get(k) for k in ("name", "sync_status", "health")}
                    for a in apps
                ],
            }
        )
    return found


def _link(url: str | None) -> str | None:
    """An MR link as GitLab gave it, if it is a web link (never a `javascript:` one)."""
    return url if url and url.startswith(("https://", "http://")) else None


def _with_headers(response: Response, status_code: int) -> tuple[Response, int]:
    response.headers.update(HEADERS)
    return response, status_code


@bp.get("/")
def page() -> tuple[Response, int]:
    """The board as HTML: 200, or 503 when GitLab has never been read."""
    cached = _cache().get(_settings())
    html = render_template(
        "board.html",
        board=cached.board,
        failed_at=cached.failed_at,
        failed_jobs=_failed(),
        gated_jobs=_gated(),
        pages=cached.pages,
        seconds=int(BOARD_SECONDS),
        link=_link,
    )
    return _with_headers(Response(html, mimetype="text/html"), 200 if cached.board else 503)


@bp.get("/status.json")
def as_json() -> tuple[Response, int]:
    """The board as JSON: `gitops-helper status --json`, `refresh_failed_at` (null, or
    when the last read from GitLab failed: the board is older then) and `failed_jobs`
    (the merge jobs that failed) and `environment_pages` (each environment's page on
    GitLab); 503 without a board."""
    cached = _cache().get(_settings())
    body = dataclasses.asdict(cached.board) if cached.board else {}
    if body.get("argocd_problem"):
        body["argocd_problem"] = "Argo CD could not be read (the webhook's log says why)"
    body["refresh_failed_at"] = cached.failed_at
    body["failed_jobs"] = [dataclasses.asdict(f) for f in _failed()]
    body["gated_jobs"] = _gated()
    body["environment_pages"] = cached.pages
    return _with_headers(jsonify(body), 200 if cached.board else 503)
