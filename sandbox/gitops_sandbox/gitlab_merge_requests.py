"""GitLab REST API v4, merge request part: list, create, get, update, delete, merge, changes,
notes, participants, resource label events.

The views parse parameters, pick the page and name the caller (`current_user`:
who opens, edits, merges or comments, and whose `user.can_merge` an answer
shows); `merge_requests.py` holds the rules.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from gitops_sandbox import merge_requests, mergeability, mr_params, projects, shapes
from gitops_sandbox.api_util import (
    authenticate_api,
    current_user,
    json_response,
    paginate,
    params,
    search,
    to_bool,
)
from gitops_sandbox.context import Services, services
from gitops_sandbox.errors import not_found
from gitops_sandbox.mr_params import labels_param

bp = Blueprint(
    "gitlab_merge_requests", __name__, url_prefix="/api/v4/projects/<enc:pid>/merge_requests"
)


@bp.before_request
def _authenticate() -> Response | None:
    """The token, or an anonymous caller who sees no project (`authenticate_api`)."""
    return authenticate_api()


def _filtered(mrs: list[dict[str, Any]], p: dict[str, Any]) -> list[dict[str, Any]]:
    mr_params.check_list(p)
    state = p.get("state") or "all"
    if state != "all":
        mrs = [m for m in mrs if m["state"] == state]
    for key in ("source_branch", "target_branch"):
        if p.get(key):
            mrs = [m for m in mrs if m[key] == p[key]]
    if p.get("iids"):
        iids = {int(i) for i in (p["iids"] if isinstance(p["iids"], list) else [p["iids"]])}
        mrs = [m for m in mrs if m["iid"] in iids]
    labels = p.get("labels")
    if labels == "None":
        mrs = [m for m in mrs if not m["labels"]]
    elif labels == "Any":
        mrs = [m for m in mrs if m["labels"]]
    elif labels:
        wanted = labels_param(labels)
        mrs = [m for m in mrs if all(label in m["labels"] for label in wanted)]
    if p.get("not[labels]"):
        unwanted = labels_param(p["not[labels]"])
        mrs = [m for m in mrs if not any(label in m["labels"] for label in unwanted)]
    mrs = search(mrs, p.get("search"), lambda m: (m["title"], m["description"]))
    order = p.get("order_by") or "created_at"
    key = "updated_at" if order == "updated_at" else "id"
    return sorted(mrs, key=lambda m: m[key], reverse=(p.get("sort") or "desc") == "desc")


@bp.get("")
def list_merge_requests(pid: str) -> Response:
    """MRs filtered by state, source/target branch, labels, search; paginated.

    A list shows each MR's merge status as it stands; only `with_merge_status_recheck`
    requests a check of the listed ones (https://docs.gitlab.com/api/merge_requests/
    #list-merge-requests: "requests (but does not guarantee) an asynchronous
    recalculation of the merge_status field").
    """
    svc = services()
    p = params()
    viewer = current_user()
    recheck = to_bool(p.get("with_merge_status_recheck"))
    with svc.state.transaction() if recheck else svc.state.read() as data:
        rec = projects.get(data, pid)
        mrs = _filtered(merge_requests.of_project(data, rec["id"]), p)

        def render(mr: dict[str, Any]) -> dict[str, Any]:
            if recheck:
                mergeability.request_check(svc, rec, mr)
            return merge_requests.to_json(svc, rec, mr, viewer)

        return paginate(mrs, render)


@bp.post("")
def create_merge_request(pid: str) -> Response:
    """Open an MR (409 when an open one exists for the same source and target)."""
    svc = services()
    actor = current_user()
    mr = merge_requests.create(svc, pid, params(), actor)
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        return json_response(merge_requests.to_json(svc, rec, mr, actor), 201)


def _load(pid: str, iid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with services().state.read() as data:
        rec = projects.get(data, pid)
        return rec, merge_requests.find(data, rec["id"], iid)


@bp.get("/<int:iid>")
def get_merge_request(pid: str, iid: int) -> Response:
    """One MR; asking for it starts the check of an unchecked one (`checking`)."""
    svc = services()
    rec, _ = _load(pid, iid)
    merge_requests.request_checks(svc, rec["id"], [iid])
    with svc.state.read():
        rec, mr = _load(pid, iid)
        return json_response(merge_requests.to_json(svc, rec, mr, current_user()))


@bp.put("/<int:iid>")
def update_merge_request(pid: str, iid: int) -> Response:
    """Edit title, description, labels, target; `state_event` close or reopen."""
    svc = services()
    actor = current_user()
    rec, _ = _load(pid, iid)
    merge_requests.update(svc, rec, iid, params(), actor)
    merge_requests.request_checks(svc, rec["id"], [iid])
    with svc.state.read():
        rec, mr = _load(pid, iid)
        return json_response(merge_requests.to_json(svc, rec, mr, actor))


@bp.delete("/<int:iid>")
def delete_merge_request(pid: str, iid: int) -> Response:
    """Delete an MR: 204; the developer (not an Owner) 403; If-Unmodified-Since 412."""
    svc = services()
    rec, _ = _load(pid, iid)
    actor = current_user()
    merge_requests.delete(svc, rec, iid, actor, request.headers.get("If-Unmodified-Since"))
    return Response(status=204)


@bp.get("/<int:iid>/participants")
def participants(pid: str, iid: int) -> Response:
    """Who took part in the MR, as `UserBasic`, paginated."""
    svc = services()
    with svc.state.read() as data:
        _, mr = _load(pid, iid)
        people = merge_requests.participants(data, mr)
        return paginate(people, lambda u: shapes.user(svc.base_url, u))


@bp.get("/<int:iid>/resource_label_events")
def resource_label_events(pid: str, iid: int) -> Response:
    """Who added and removed which label, oldest first, paginated."""
    svc = services()
    with svc.state.read() as data:
        _, mr = _load(pid, iid)
        found = merge_requests.label_events(data, mr)
        return paginate(found, lambda e: _label_event(svc, data, mr, e))


@bp.get("/<int:iid>/resource_label_events/<event_id>")
def resource_label_event(pid: str, iid: int, event_id: str) -> Response:
    """One label event of the MR; another's, or none, is `404 Not found`."""
    svc = services()
    with svc.state.read() as data:
        _, mr = _load(pid, iid)
        for event in merge_requests.label_events(data, mr):
            if str(event["id"]) == event_id:
                return json_response(_label_event(svc, data, mr, event))
        raise not_found()


def _label_event(
    svc: Services, data: dict[str, Any], mr: dict[str, Any], event: dict[str, Any]
) -> dict[str, Any]:
    label = data["labels"].get(str(event["label_id"]))
    return shapes.resource_label_event(svc.base_url, event, mr, label)


@bp.put("/<int:iid>/merge")
def merge_merge_request(pid: str, iid: int) -> Response:
    """Merge with a real merge commit (401 not allowed, 405 not open, 422 conflicts, 409 `sha`)."""
    svc = services()
    actor = current_user()
    rec, _ = _load(pid, iid)
    mr = merge_requests.merge(svc, rec, iid, params(), actor)
    with svc.state.read():
        return json_response(merge_requests.to_json(svc, rec, mr, actor))


@bp.get("/<int:iid>/changes")
def changes(pid: str, iid: int) -> Response:
    """The MR with its `changes` (one diff object per file)."""
    svc = services()
    merge_requests.request_checks(svc, _load(pid, iid)[0]["id"], [iid])
    with svc.state.read():
        rec, mr = _load(pid, iid)
        body = merge_requests.to_json(svc, rec, mr, current_user())
        body["changes"] = mergeability.diffs(svc, rec, mr)
        body["overflow"] = False
        return json_response(body)


@bp.get("/<int:iid>/diffs")
def diffs(pid: str, iid: int) -> Response:
    """The MR's diff objects, paginated."""
    svc = services()
    with svc.state.read():
        rec, mr = _load(pid, iid)
        return paginate(mergeability.diffs(svc, rec, mr), lambda d: d)


@bp.get("/<int:iid>/commits")
def commits(pid: str, iid: int) -> Response:
    """The commits the MR brings, newest first."""
    svc = services()
    with svc.state.read():
        rec, mr = _load(pid, iid)
        found = mergeability.commits(svc, rec, mr)
    return paginate(found, lambda c: shapes.commit(svc.base_url, rec["path_with_namespace"], c))


def _version(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
    refs = mergeability.live(svc, rec, mr)["diff_refs"] or {}
    return {
        "id": mr["id"],
        "head_commit_sha": refs.get("head_sha"),
        "base_commit_sha": refs.get("base_sha"),
        "start_commit_sha": refs.get("start_sha"),
        "created_at": mr["updated_at"],
        "merge_request_id": mr["id"],
        "state": "collected",
        "real_size": str(len(mergeability.diffs(svc, rec, mr))),
        "patch_id_sha": None,
    }


@bp.get("/<int:iid>/versions")
def versions(pid: str, iid: int) -> Response:
    """The MR's diff versions (the sandbox keeps one: the current diff)."""
    svc = services()
    with svc.state.read():
        rec, mr = _load(pid, iid)
        return paginate([mr], lambda m: _version(svc, rec, m))


@bp.get("/<int:iid>/versions/<int:version_id>")
def version(pid: str, iid: int, version_id: int) -> Response:
    """One diff version with its commits and diffs."""
    svc = services()
    with svc.state.read():
        rec, mr = _load(pid, iid)
        body = _version(svc, rec, mr)
        body["commits"] = [
            shapes.commit(svc.base_url, rec["path_with_namespace"], c)
            for c in mergeability.commits(svc, rec, mr)
        ]
        body["diffs"] = mergeability.diffs(svc, rec, mr)
        return json_response(body)


@bp.get("/<int:iid>/notes")
def list_notes(pid: str, iid: int) -> Response:
    """The MR's notes, newest first (GitLab's default `sort=desc`)."""
    svc = services()
    p = params()
    with svc.state.read() as data:
        rec, mr = _load(pid, iid)
        notes = [
            n
            for n in data["notes"].values()
            if n["project_id"] == rec["id"] and n["noteable_iid"] == mr["iid"]
        ]
        notes.sort(key=lambda n: n["id"], reverse=(p.get("sort") or "desc") == "desc")
        return paginate(notes, lambda n: shapes.note(svc.base_url, n))


@bp.post("/<int:iid>/notes")
def create_note(pid: str, iid: int) -> Response:
    """Comment on the MR."""
    svc = services()
    rec, _ = _load(pid, iid)
    note = merge_requests.add_note(svc, rec, iid, params().get("body"), current_user())
    return json_response(shapes.note(svc.base_url, note), 201)
