"""GitLab REST API v4: deployments and environments (doc/api/deployments.md,
doc/api/environments.md; lib/api/deployments.rb, lib/api/environments.rb).

Recording a deployment needs the Developer role (`create_deployment`,
`create_environment`), reading one Reporter (https://docs.gitlab.com/user/permissions/);
both sandbox users have at least Developer. Protected environments, which would
limit who may deploy, are a Premium feature: the sandbox is GitLab Free, so it has
none. The records and their rules live in `deployments.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from gitops_sandbox import deployments, merge_requests, projects
from gitops_sandbox.api_util import (
    authenticate_api,
    check_values,
    current_user,
    json_response,
    paginate,
    params,
    search,
)
from gitops_sandbox.context import services
from gitops_sandbox.errors import ApiError, missing

bp = Blueprint("gitlab_deployments", __name__, url_prefix="/api/v4/projects/<enc:pid>")

# DeploymentsFinder::ALLOWED_SORT_VALUES; `created_at` and `iid` sort as `id` does.
DEPLOYMENT_ORDERS = {
    "id": lambda d: d["id"],
    "iid": lambda d: d["id"],
    "created_at": lambda d: d["id"],
    "updated_at": lambda d: (d["updated_at"], d["id"]),
    "ref": lambda d: d["ref"],
    "finished_at": lambda d: d["finished_at"] or "",
}
# The project as Entities::BasicProjectDetails shows it in an environment list.
_PROJECT_FIELDS = (
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
    "default_branch",
    "tag_list",
    "topics",
    "ssh_url_to_repo",
    "http_url_to_repo",
    "web_url",
    "readme_url",
    "avatar_url",
    "forks_count",
    "star_count",
    "last_activity_at",
    "namespace",
)


@bp.before_request
def _authenticate() -> Response | None:
    """The token, or an anonymous caller who sees no project (`authenticate_api`)."""
    return authenticate_api()


def _project(data: dict[str, Any], pid: str) -> dict[str, Any]:
    return projects.get(data, pid)


# ---- deployments --------------------------------------------------------------------


@bp.get("/deployments")
def list_deployments(pid: str) -> Response:
    """The project's deployments; filters `environment` (a name), `status`,
    `updated_after`, `updated_before`; `order_by` (default id) and `sort` (default asc)."""
    svc = services()
    p = params()
    order_by, sort = str(p.get("order_by") or "id"), str(p.get("sort") or "asc")
    check_values(
        ("order_by", order_by, DEPLOYMENT_ORDERS),
        ("sort", sort, ("asc", "desc")),
        ("status", p.get("status"), deployments.STATUSES),
    )
    bounds = {name: _time(p, name) for name in ("updated_after", "updated_before")}
    if order_by == "finished_at":  # DeploymentsFinder: the API declares no finished_* filter
        raise ApiError(
            400, {"message": "`finished_at` filter and `finished_at` sorting must be paired"}
        )
    with svc.state.read() as data:
        rec = _project(data, pid)
        found = deployments.deployments_of(data, rec["id"])
        if p.get("environment"):
            env = deployments.by_name(data, rec["id"], str(p["environment"]))
            found = [d for d in found if env is not None and d["environment_id"] == env["id"]]
        if p.get("status"):
            found = [d for d in found if d["status"] == p["status"]]
        found = [d for d in found if _within(d["updated_at"], bounds)]
        found.sort(key=DEPLOYMENT_ORDERS[order_by], reverse=sort == "desc")
        return paginate(found, lambda d: deployments.deployment_json(svc, data, d))


@bp.get("/deployments/<int:deployment_id>")
def get_deployment(pid: str, deployment_id: int) -> Response:
    """One deployment (Entities::DeploymentExtended)."""
    svc = services()
    with svc.state.read() as data:
        rec = _project(data, pid)
        dep = deployments.find_deployment(data, rec["id"], deployment_id)
        return json_response(deployments.deployment_json(svc, data, dep))


@bp.post("/deployments")
def create_deployment(pid: str) -> Response:
    """Record a deployment (`environment`, `sha`, `ref`, `tag`, `status`, all required);
    the environment is created when the project has none of that name."""
    svc = services()
    p = params()
    absent = [n for n in ("environment", "sha", "ref", "tag", "status") if _blank(p.get(n))]
    if absent:
        raise missing(*absent)
    tag = _boolean(p, "tag")
    check_values(("status", p["status"], deployments.CLIENT_STATUSES))
    actor = current_user()
    with svc.state.transaction() as data:
        rec = _project(data, pid)
        name = str(p["environment"])
        env = deployments.by_name(data, rec["id"], name) or deployments.create_environment(
            svc, data, rec["id"], name
        )
        fields = {"ref": str(p["ref"]), "sha": str(p["sha"]), "tag": tag, "status": p["status"]}
        dep = deployments.create_deployment(svc, data, rec, env, fields, actor)
        return json_response(deployments.deployment_json(svc, data, dep), 201)


@bp.put("/deployments/<int:deployment_id>")
def update_deployment(pid: str, deployment_id: int) -> Response:
    """Change a deployment's `status` (one of running, success, failed, canceled)."""
    svc = services()
    p = params()
    if _blank(p.get("status")):
        raise missing("status")
    check_values(("status", p["status"], deployments.CLIENT_STATUSES))
    with svc.state.transaction() as data:
        rec = _project(data, pid)
        dep = deployments.find_deployment(data, rec["id"], deployment_id)
        deployments.change_status(svc, data, rec, dep, str(p["status"]))
        return json_response(deployments.deployment_json(svc, data, dep))


@bp.get("/deployments/<int:deployment_id>/merge_requests")
def deployment_merge_requests(pid: str, deployment_id: int) -> Response:
    """The MRs GitLab linked to the deployment when it succeeded (filter: `state`),
    newest first, in the Merge Requests API's format."""
    svc = services()
    p = params()
    viewer = current_user()
    with svc.state.read() as data:
        rec = _project(data, pid)
        dep = deployments.find_deployment(data, rec["id"], deployment_id)
        linked = set(dep["merge_request_ids"])
        found = [m for m in merge_requests.of_project(data, rec["id"]) if m["id"] in linked]
        if p.get("state") not in (None, "", "all"):
            found = [m for m in found if m["state"] == p["state"]]
    return paginate(found, lambda m: merge_requests.to_json(svc, rec, m, viewer))


# ---- environments -------------------------------------------------------------------


@bp.get("/environments")
def list_environments(pid: str) -> Response:
    """The project's environments; filters `name` (exact), `search` (at least 3
    characters; not with `name`) and `states`."""
    svc = services()
    p = params()
    name, text = p.get("name"), p.get("search")
    if name and text:
        raise ApiError(400, {"error": "name, search cannot be used together"})
    if text and len(str(text)) < 3:
        raise ApiError(400, {"message": "400 Bad request - Search query is less than 3 characters"})
    check_values(("states", p.get("states"), ("available", "stopping", "stopped")))
    viewer = current_user()
    with svc.state.read() as data:
        rec = _project(data, pid)
        found = deployments.of_project(data, rec["id"])
        if name:
            found = [e for e in found if e["name"] == name]
        found = search(found, text, lambda e: (e["name"],))
        if p.get("states"):
            found = [e for e in found if e["state"] == p["states"]]
        full = projects.to_json(svc, data, rec, viewer)
        shown = {k: full[k] for k in _PROJECT_FIELDS}
        return paginate(found, lambda e: deployments.environment_json(svc, data, e, shown))


@bp.post("/environments")
def create_environment(pid: str) -> Response:
    """A new environment (`name`; `external_url`, `tier` optional); 201."""
    svc = services()
    p = params()
    if _blank(p.get("name")):
        raise missing("name")
    check_values(("tier", p.get("tier") or None, deployments.TIERS))
    viewer = current_user()
    with svc.state.transaction() as data:
        rec = _project(data, pid)
        env = deployments.create_environment(
            svc,
            data,
            rec["id"],
            str(p["name"]),
            tier=p.get("tier") or None,
            external_url=p.get("external_url"),
        )
        full = projects.to_json(svc, data, rec, viewer)
        shown = {k: full[k] for k in _PROJECT_FIELDS}
        return json_response(deployments.environment_json(svc, data, env, shown), 201)


@bp.get("/environments/<int:environment_id>")
def get_environment(pid: str, environment_id: int) -> Response:
    """One environment with its `last_deployment` (the newest successful one)."""
    svc = services()
    with svc.state.read() as data:
        rec = _project(data, pid)
        env = deployments.find_environment(data, rec["id"], environment_id)
        return json_response(deployments.environment_json(svc, data, env, None, with_last=True))


# ---- parameters ---------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _boolean(p: dict[str, Any], name: str) -> bool:
    """A Grape Boolean: true/false/1/0, else `<name> is invalid`."""
    value = p[name]
    if value is True or value is False:
        return bool(value)
    text = str(value).lower()
    if text not in ("true", "false", "1", "0"):
        raise ApiError(400, {"error": f"{name} is invalid"})
    return text in ("true", "1")


def _time(p: dict[str, Any], name: str) -> datetime | None:
    """A Grape DateTime (ISO 8601), else `<name> is invalid`."""
    value = p.get(name)
    if _blank(value):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ApiError(400, {"error": f"{name} is invalid"}) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _within(stamp: str, bounds: dict[str, datetime | None]) -> bool:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    after, before = bounds["updated_after"], bounds["updated_before"]
    return (after is None or moment > after) and (before is None or moment < before)
