"""GitLab's health endpoints, and the gate that holds traffic until the sandbox is ready.

GitLab (doc/administration/monitoring/health_check.md): `GET /-/health` answers
`GitLab OK` while the process runs; `GET /-/liveness` answers `{"status": "ok"}`;
`GET /-/readiness` answers 200 `{"status": "ok", "master_check": [{"status":
"ok"}]}` once the instance takes traffic and 503 with `"failed"` before. A new
sandbox is not ready until seeding is done: until then every other request gets
503, so a client never sees a seeded project as `404 Project Not Found`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from gitops_sandbox.api_util import json_response
from gitops_sandbox.context import services

bp = Blueprint("health", __name__)
PROBES = ("/-/health", "/-/liveness", "/-/readiness", "/-/sandbox/health")


@bp.get("/-/health")
def health() -> Response:
    """The process answers (nothing else is checked)."""
    return Response("GitLab OK", mimetype="text/plain")


@bp.get("/-/liveness")
def liveness() -> Response:
    """The server is not deadlocked."""
    return json_response({"status": "ok"})


@bp.get("/-/readiness")
def readiness() -> Response:
    """200 when the sandbox takes traffic, 503 while it is still seeding."""
    if services().ready.is_set():
        return json_response({"status": "ok", "master_check": [{"status": "ok"}]})
    check = {"status": "failed", "message": "the sandbox is seeding its projects"}
    return json_response({"status": "failed", "master_check": [check]}, 503)


def gate() -> Response | None:
    """Before anything else: 503 for every request but the probes until ready."""
    if services().ready.is_set() or request.path in PROBES:
        return None
    headers = {"Retry-After": "1"}
    if request.path.startswith(("/api/", "/-/")):
        return json_response({"message": "503 Service Unavailable"}, 503, headers)
    return Response(
        "GitLab is not ready yet: the sandbox is seeding.\n",
        status=503,
        mimetype="text/plain",
        headers=headers,
    )
