"""GitLab REST API v4: user, version, projects, protected branches, hooks, labels.

Repository and merge request endpoints live in `gitlab_repository.py` and
`gitlab_merge_requests.py`; all three blueprints share `/api/v4` and the token check.
Administering a project needs a role the developer lacks (`users.py`): webhooks
and protecting branches Maintainer, deleting the project Owner; GitLab finds the
project first (404), then answers `403 Forbidden`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Response

from gitops_sandbox import projects, shapes, users
from gitops_sandbox.api_util import (
    authenticate_api,
    check_values,
    current_user,
    int_param,
    json_response,
    paginate,
    paginate_keyset,
    params,
    search,
    to_bool,
)
from gitops_sandbox.context import GITLAB_VERSION, services
from gitops_sandbox.errors import ApiError, bad_request, missing, not_found
from gitops_sandbox.state import now_iso

bp = Blueprint("gitlab", __name__, url_prefix="/api/v4")


@bp.before_request
def _authenticate() -> Response | None:
    """The token, or an anonymous caller who sees no project (`authenticate_api`)."""
    return authenticate_api()


@bp.get("/user")
def get_current_user() -> Response:
    """The token's owner: the admin or the developer."""
    return json_response(shapes.current_user(services().base_url, current_user()))


@bp.get("/version")
def version() -> Response:
    """The emulated GitLab version."""
    return json_response(
        {
            "version": GITLAB_VERSION,
            "revision": "sandbox",
            "kas": {"enabled": False},
            "enterprise": False,
        }
    )


@bp.get("/namespaces/<enc:nid>")
def get_namespace(nid: str) -> Response:
    """A namespace by id or URL-encoded full path (they exist once a project is in them):
    a group, or a user's personal namespace (kind `user`)."""
    svc = services()
    with svc.state.read() as data:
        for group in data["groups"].values():
            if nid in (str(group["id"]), group["full_path"]):
                owner = projects.namespace_owner(group["full_path"])
                if owner is not None:
                    return json_response(projects.user_namespace(svc, group, owner))
                return json_response(shapes.namespace(svc.base_url, group))
    raise not_found("Namespace")


# ---- projects -----------------------------------------------------------------------


# `order_by` and `sort` of the project lists (lib/api/helpers/projects_helpers.rb,
# `sort_params`; the statistics orders are for admins). Projects have no statistics in
# the sandbox (all zero), nor stars: those orders, and `similarity`, fall back to the id.
PROJECT_ORDERS = {
    "id": lambda r: r["id"],
    "name": lambda r: r["name"].lower(),
    "path": lambda r: r["path"].lower(),
    "created_at": lambda r: r["created_at"],
    "updated_at": lambda r: r["last_activity_at"],
    "last_activity_at": lambda r: r["last_activity_at"],
    **{
        name: lambda r: r["id"]
        for name in (
            "similarity",
            "star_count",
            "storage_size",
            "repository_size",
            "wiki_size",
            "packages_size",
        )
    },
}


KEYSET_UNAVAILABLE = "Keyset pagination is not yet available for this type of request"


@bp.get("/projects")
def list_projects() -> Response:
    """All projects (filters: `search`, `id_after`, `id_before`), ordered by `order_by`
    (default `created_at`) and `sort` (default `desc`); `pagination=keyset` pages by id."""
    svc = services()
    viewer = current_user()
    p = params()
    order_by = str(p.get("order_by") or "created_at")
    sort = str(p.get("sort") or "desc")
    check_values(
        ("order_by", order_by, PROJECT_ORDERS),
        ("sort", sort, ("asc", "desc")),
    )
    bounds = [(name, int_param(p, name)) for name in ("id_after", "id_before")]
    with svc.state.read() as data:
        recs = sorted(data["projects"].values(), key=lambda r: r["id"], reverse=sort == "desc")
        key = PROJECT_ORDERS[order_by]
        recs = sorted(recs, key=key, reverse=sort == "desc")  # stable: ties keep id order
        recs = search(recs, p.get("search"), lambda r: (r["name"], r["path_with_namespace"]))
        for name, bound in bounds:
            if bound is not None:
                after = name == "id_after"
                recs = [r for r in recs if (r["id"] > bound if after else r["id"] < bound)]
        render = lambda r: projects.to_json(svc, data, r, viewer)  # noqa: E731
        if p.get("pagination") == "keyset":
            # Keyset pagination of projects orders by id only (lib/gitlab/pagination/
            # keyset.rb); the next page's link carries id_after / id_before.
            if order_by != "id":
                raise ApiError(405, {"error": KEYSET_UNAVAILABLE})
            bound_name = "id_before" if sort == "desc" else "id_after"
            return paginate_keyset(recs, render, lambda r: {bound_name: str(r["id"])})
        return paginate(recs, render)


@bp.post("/projects")
def create_project() -> Response:
    """Create a project from `name`/`path` and `namespace_id` (or `namespace`).

    Without a namespace it goes to the caller's personal one. The developer may
    create in no other (they belong to no group): GitLab's Projects::CreateService
    then answers 400 `{"namespace": ["is not valid"]}`.
    """
    svc = services()
    creator = current_user()
    p = params()
    path = p.get("path") or p.get("name")
    if not path:
        raise missing("name")
    with svc.state.read() as data:
        group = projects.namespace_path(
            data, p.get("namespace_id") or p.get("namespace"), creator.username
        )
    if not users.may_create_in(creator, group):
        raise bad_request({"namespace": ["is not valid"]})
    rec = projects.create(
        svc,
        f"{group}/{path}",
        name=p.get("name"),
        description=p.get("description"),
        default_branch=p.get("default_branch") or "main",
        initialize_with_readme=to_bool(p.get("initialize_with_readme")),
        creator=creator,
    )
    with svc.state.read() as data:
        return json_response(projects.to_json(svc, data, rec, creator), 201)


@bp.get("/projects/<enc:pid>")
def get_project(pid: str) -> Response:
    """One project, by id or URL-encoded path."""
    svc = services()
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        return json_response(projects.to_json(svc, data, rec, current_user()))


@bp.delete("/projects/<enc:pid>")
def delete_project(pid: str) -> Response:
    """Delete a project (GitLab answers 202 and deletes later; the sandbox at once).

    Owners only (`authorize! :remove_project`, lib/api/projects.rb): 403 for the developer.
    """
    svc = services()
    _project_for(pid, users.OWNER_ACCESS)
    projects.delete(svc, pid)
    return json_response({"message": "202 Accepted"}, 202)


def _project_for(pid: str, level: int) -> dict[str, Any]:
    """The project (404 first), once the caller is known to hold `level` on it (else 403)."""
    with services().state.read() as data:
        rec = projects.get(data, pid)
    users.require_access(current_user(), rec, level)
    return rec


# ---- protected branches -------------------------------------------------------------


# Reading protections needs only read access to the code (`authorize_read_code!`);
# protecting and unprotecting need Maintainer (`authorize_create_protected_branch!`,
# `authorize_destroy_protected_branch!`): lib/api/protected_branches.rb,
# https://docs.gitlab.com/api/protected_branches/.


def _protection(data: dict[str, Any], rec: dict[str, Any], name: str) -> dict[str, Any]:
    """One protection of the project by name, or GitLab's 404."""
    for prot in projects.protections(data, rec["id"]):
        if prot["name"] == name:
            return prot
    raise not_found()


@bp.get("/projects/<enc:pid>/protected_branches")
def list_protected(pid: str) -> Response:
    """The project's protected branches (filter: `search`)."""
    svc = services()
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        found = search(projects.protections(data, rec["id"]), params().get("search"), _name)
        return paginate(found, projects.protection_json)


def _name(prot: dict[str, Any]) -> tuple[str]:
    return (prot["name"],)


@bp.get("/projects/<enc:pid>/protected_branches/<enc:name>")
def get_protected(pid: str, name: str) -> Response:
    """One protected branch by name."""
    svc = services()
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        return json_response(projects.protection_json(_protection(data, rec, name)))


def _access_level(p: dict[str, Any], name: str) -> int:
    """A protection's access level parameter: 40 (Maintainers) unless given; Grape checks
    it against ProtectedRefAccess's levels."""
    value = p.get(name)
    if value is None:
        return users.MAINTAINER_ACCESS
    try:
        level = int(value)
    except (TypeError, ValueError) as e:
        raise ApiError(400, {"error": f"{name} is invalid"}) from e
    if level not in projects.ACCESS_LEVELS:
        raise ApiError(400, {"error": f"{name} does not have a valid value"})
    return level


def _force_param(p: dict[str, Any], default: bool | None) -> bool | None:
    """`allow_force_push`, a Grape Boolean (`allow_force_push is invalid` otherwise)."""
    value = p.get("allow_force_push")
    if value is None:
        return default
    text = str(value).lower()
    if value is True or value is False or text in ("true", "false", "1", "0"):
        return to_bool(value)
    raise ApiError(400, {"error": "allow_force_push is invalid"})


@bp.post("/projects/<enc:pid>/protected_branches")
def protect_branch(pid: str) -> Response:
    """Protect a branch name or wildcard (`push_access_level`, `merge_access_level`: 40
    unless given; `allow_force_push`: false); doc/api/protected_branches.md. The EE
    parameters (`allowed_to_push`, ...) are not declared in CE, so they are ignored."""
    svc = services()
    p = params()
    name = p.get("name")
    if not name:  # Grape validates parameters before the endpoint authorizes
        raise missing("name")
    push_level = _access_level(p, "push_access_level")
    merge_level = _access_level(p, "merge_access_level")
    force = bool(_force_param(p, default=False))
    rec = _project_for(pid, users.MAINTAINER_ACCESS)
    with svc.state.transaction() as data:
        prot = projects.protect(
            svc,
            data,
            projects.get(data, rec["id"]),
            str(name),
            push_access_level=push_level,
            merge_access_level=merge_level,
            allow_force_push=force,
        )
        return json_response(projects.protection_json(prot), 201)


@bp.patch("/projects/<enc:pid>/protected_branches/<enc:name>")
def update_protected(pid: str, name: str) -> Response:
    """Update a protected branch: CE takes `allow_force_push` (python-gitlab's
    `p_branch.allow_force_push = True; p_branch.save()`). 404 for an unknown name, then
    403 below Maintainer (lib/api/protected_branches.rb, `authorize_update_protected_branch!`;
    doc/api/protected_branches.md#update-a-protected-branch)."""
    svc = services()
    p = params()
    force = _force_param(p, default=None)
    with svc.state.transaction() as data:
        rec = projects.get(data, pid)
        prot = _protection(data, rec, name)
        users.require_access(current_user(), rec, users.MAINTAINER_ACCESS)
        if force is not None:
            projects.update_protection(svc, data, rec, prot, force)
        return json_response(projects.protection_json(prot))


@bp.delete("/projects/<enc:pid>/protected_branches/<enc:name>")
def unprotect_branch(pid: str, name: str) -> Response:
    """Unprotect a branch (404 when it is not protected, before the role's 403)."""
    svc = services()
    with svc.state.transaction() as data:
        rec = projects.get(data, pid)
        _protection(data, rec, name)
        users.require_access(current_user(), rec, users.MAINTAINER_ACCESS)
        projects.unprotect(svc, data, rec, name)
    return Response(status=204)


# ---- hooks --------------------------------------------------------------------------

_HOOK_FLAGS = (
    "push_events",
    "merge_requests_events",
    "tag_push_events",
    "note_events",
    "enable_ssl_verification",
)


def _hook_fields(p: dict[str, Any], rec: dict[str, Any]) -> None:
    if "url" in p:
        parsed = urlparse(str(p["url"]))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ApiError(422, {"error": "Invalid url given"})
        rec["url"] = str(p["url"])
    for flag in _HOOK_FLAGS:
        if flag in p:
            rec[flag] = to_bool(p[flag])
    for key in ("token", "name", "description", "push_events_branch_filter"):
        if key in p:
            rec[key] = p[key]


def _hook_project(data: dict[str, Any], pid: str) -> dict[str, Any]:
    """The project whose hooks are asked for; every hook endpoint needs Maintainer.

    lib/api/project_hooks.rb authorizes `read_web_hook` (GET) or
    `admin_web_hook` (the rest), both Maintainer and above
    (https://docs.gitlab.com/user/permissions/: "Manage webhooks").
    """
    rec = projects.get(data, pid)
    users.require_access(current_user(), rec, users.MAINTAINER_ACCESS)
    return rec


def _find_hook(data: dict[str, Any], project_id: int, hook_id: int) -> dict[str, Any]:
    hook = data["hooks"].get(str(hook_id))
    if hook is None or hook["project_id"] != project_id:
        raise not_found()
    return hook


@bp.get("/projects/<enc:pid>/hooks")
def list_hooks(pid: str) -> Response:
    """The project's webhooks."""
    svc = services()
    with svc.state.read() as data:
        rec = _hook_project(data, pid)
        hooks = sorted(
            (h for h in data["hooks"].values() if h["project_id"] == rec["id"]),
            key=lambda h: h["id"],
        )
        return paginate(hooks, shapes.hook)


@bp.post("/projects/<enc:pid>/hooks")
def create_hook(pid: str) -> Response:
    """Add a webhook (`url`, `token`, `merge_requests_events`, `push_events`, ...)."""
    svc = services()
    p = params()
    with svc.state.read() as data:
        _hook_project(data, pid)
    if not p.get("url"):
        raise missing("url")
    with svc.state.transaction() as data:
        rec = projects.get(data, pid)
        # GitLab's defaults: push events on, everything else off.
        hook = {
            "project_id": rec["id"],
            "push_events": True,
            "merge_requests_events": False,
            "tag_push_events": False,
            "note_events": False,
            "enable_ssl_verification": True,
            "created_at": now_iso(),
        }
        _hook_fields(p, hook)
        hook["id"] = svc.state.next_id("hook")
        data["hooks"][str(hook["id"])] = hook
        return json_response(shapes.hook(hook), 201)


@bp.get("/projects/<enc:pid>/hooks/<int:hook_id>")
def get_hook(pid: str, hook_id: int) -> Response:
    """One webhook."""
    svc = services()
    with svc.state.read() as data:
        rec = _hook_project(data, pid)
        return json_response(shapes.hook(_find_hook(data, rec["id"], hook_id)))


@bp.put("/projects/<enc:pid>/hooks/<int:hook_id>")
def update_hook(pid: str, hook_id: int) -> Response:
    """Change a webhook's URL, token or events."""
    svc = services()
    with svc.state.transaction() as data:
        rec = _hook_project(data, pid)
        hook = _find_hook(data, rec["id"], hook_id)
        _hook_fields(params(), hook)
        return json_response(shapes.hook(hook))


@bp.delete("/projects/<enc:pid>/hooks/<int:hook_id>")
def delete_hook(pid: str, hook_id: int) -> Response:
    """Remove a webhook."""
    svc = services()
    with svc.state.transaction() as data:
        rec = _hook_project(data, pid)
        _find_hook(data, rec["id"], hook_id)
        del data["hooks"][str(hook_id)]
    return Response(status=204)


# ---- labels -------------------------------------------------------------------------


@bp.get("/projects/<enc:pid>/labels")
def list_labels(pid: str) -> Response:
    """The project's labels (created on first use by a merge request)."""
    svc = services()
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        labels = sorted(
            (lab for lab in data["labels"].values() if lab["project_id"] == rec["id"]),
            key=lambda lab: lab["title"],
        )
        return paginate(labels, shapes.label)
