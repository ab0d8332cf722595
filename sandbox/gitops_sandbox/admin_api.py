"""Sandbox-only admin endpoints under `/-/sandbox/`: what tests need to see and steer.

Recorded webhook deliveries (and resending one), fault injection, recorded Jenkins
builds, and seeding a project from a local repository. These paths exist on no
real GitLab; the tool under test never calls them. The admin's token is required
(the developer, an ordinary user, gets `403 Forbidden`; no token, 401).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from gitops_sandbox import projects, users
from gitops_sandbox.api_util import json_response, params, require_admin, to_bool
from gitops_sandbox.context import services
from gitops_sandbox.errors import missing, not_found
from gitops_sandbox.jenkins_pipeline import username_passwords

bp = Blueprint("sandbox_admin", __name__, url_prefix="/-/sandbox")


@bp.before_request
def _authenticate() -> None:
    """Admin calls need the admin's token (health excepted, for readiness probes)."""
    if request.path != "/-/sandbox/health":
        require_admin()


@bp.get("/health")
def health() -> Response:
    """The sandbox takes traffic (seeding done); GitLab's own probe is `/-/readiness`."""
    if services().ready.is_set():
        return json_response({"status": "ok"})
    return json_response({"status": "starting"}, 503)


def list_deliveries(data: dict[str, Any], filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Recorded deliveries, oldest first, filtered by hook_id, project_id, event, status."""
    result = sorted(data["deliveries"].values(), key=lambda d: d["id"])
    for key in ("hook_id", "project_id"):
        if filters.get(key) is not None:
            result = [d for d in result if d[key] == int(filters[key])]
    for key in ("event", "status"):
        if filters.get(key):
            result = [d for d in result if d[key] == filters[key]]
    return result


@bp.get("/deliveries")
def deliveries() -> Response:
    """Recorded webhook deliveries with headers sent, body and every attempt."""
    with services().state.read() as data:
        return json_response(list_deliveries(data, params()))


@bp.post("/deliveries/<int:delivery_id>/resend")
def resend(delivery_id: int) -> Response:
    """Send a delivery again with the same body and Idempotency-Key."""
    if not services().hooks.resend(delivery_id):
        raise not_found()
    return json_response({"id": delivery_id, "status": "pending"}, 202)


@bp.post("/deliveries/wait")
def wait() -> Response:
    """Block until no delivery is pending (or `timeout` seconds pass)."""
    return _waited(services().hooks.wait_idle, 10)


def _waited(wait: Callable[[float], bool], default: float) -> Response:
    """Block on `wait` for `timeout` seconds: 200 `{"idle": true}`, or 504 if still busy."""
    idle = wait(float(params().get("timeout", default)))
    return json_response({"idle": idle}, 200 if idle else 504)


@bp.get("/faults")
def list_faults() -> Response:
    """Active fault rules."""
    return json_response(services().faults.list())


@bp.post("/faults")
def add_fault() -> Response:
    """Add a rule: `{method, path_prefix | route_regex, status, delay, count, body}`."""
    return json_response(services().faults.add(params()), 201)


@bp.delete("/faults")
def clear_faults() -> Response:
    """Remove every rule."""
    services().faults.clear()
    return Response(status=204)


@bp.post("/jenkins/builds/wait")
def wait_for_builds() -> Response:
    """Block until no build is queued or running (or `timeout` seconds pass: 504)."""
    return _waited(services().builds.wait_idle, 60)


@bp.get("/jenkins/config")
def jenkins_config() -> Response:
    """How the sandbox's Jenkins is set up: libraries, credential ids (never values), env."""
    svc = services()
    settings = svc.builds.settings
    return json_response(
        {
            "libraries": {name: str(path) for name, path in settings.libraries.items()},
            "credentials": sorted(
                {*settings.credential_store(svc.token), *username_passwords(settings, svc.token)}
            ),
            "env": settings.global_env(svc.base_url),
            "agent_path": settings.agent_env(svc.token)["PATH"],
            "executors": settings.executors,
        }
    )


@bp.get("/jenkins/builds")
def jenkins_builds() -> Response:
    """Every Jenkins build with its parameters and outcome (filter: `job`)."""
    job_filter = params().get("job")
    with services().state.read() as data:
        builds = [
            b
            for job in data["jenkins"]["jobs"].values()
            for b in job["builds"]
            if not job_filter or b["job"] == job_filter
        ]
        return json_response(sorted(builds, key=lambda b: b["queue_id"]))


@bp.post("/projects")
def seed_project() -> Response:
    """Create a project from a local repo: `{path, source_dir, protected: [...]}`."""
    svc = services()
    p = params()
    if not p.get("path"):
        raise missing("path")
    protected = p.get("protected") or []
    if isinstance(protected, str):
        protected = [s for s in protected.split(",") if s]
    rec = projects.create(
        svc,
        str(p["path"]),
        source_dir=Path(p["source_dir"]) if p.get("source_dir") else None,
        protected=protected,
        initialize_with_readme=to_bool(p.get("initialize_with_readme")),
    )
    with svc.state.read() as data:
        return json_response(projects.to_json(svc, data, rec, users.ADMIN), 201)
