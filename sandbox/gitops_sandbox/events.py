"""Merge request and note events (GitLab docs: webhook_events.md).

`merge_requests.py` decides when an event happens and what changed; this module
builds the body and hands it to `HookDispatcher.emit` (skipping the git calls
when no hook listens). Push events are in `push_events.py`.
"""

from __future__ import annotations

from typing import Any

from gitops_sandbox import gitrepo, mergeability, projects, shapes, users
from gitops_sandbox.context import Services
from gitops_sandbox.gitrepo import Commit
from gitops_sandbox.hook_payloads import (
    commit_attrs,
    hook_time,
    label_attrs,
    listening,
    project_attrs,
    repository_attrs,
    user_attrs,
    utc_time,
)
from gitops_sandbox.users import User


def _draft(mr: dict[str, Any]) -> bool:
    return bool(mr["title"].lower().startswith(mergeability.DRAFT_PREFIXES))


def _changes(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` as GitLab writes them: times (`*_at`) as `2017-09-15 16:50:55 UTC`."""
    return {
        key: (
            {side: utc_time(value) for side, value in change.items()}
            if key.endswith("_at")
            else change
        )
        for key, change in changes.items()
    }


def merge_request_attrs(
    svc: Services,
    rec: dict[str, Any],
    mr: dict[str, Any],
    *,
    live: dict[str, Any],
    last_commit: Commit | None,
    labels: list[dict[str, Any]],
    project: dict[str, Any],
) -> dict[str, Any]:
    """The merge request's `object_attributes` (the documented fields, GitLab's values)."""
    return {
        "id": mr["id"],
        "iid": mr["iid"],
        "title": mr["title"],
        "description": mr["description"],
        "source_branch": mr["source_branch"],
        "target_branch": mr["target_branch"],
        "source_project_id": rec["id"],
        "target_project_id": rec["id"],
        "author_id": users.by_id(mr.get("author_id")).id,
        "assignee_id": None,
        "assignee_ids": [],
        "reviewer_ids": [],
        "milestone_id": None,
        "head_pipeline_id": None,
        "state": mr["state"],
        "state_id": shapes.STATE_IDS[mr["state"]],
        "merge_status": live["merge_status"],
        "detailed_merge_status": live["detailed_merge_status"],
        "merge_commit_sha": mr.get("merge_commit_sha"),
        "merge_error": None,
        "merge_params": {
            "force_remove_source_branch": "1" if mr.get("force_remove_source_branch") else "0"
        },
        "merge_user_id": (
            users.by_id(mr.get("merge_user_id")).id if mr["state"] == "merged" else None
        ),
        "merge_when_pipeline_succeeds": False,
        "created_at": hook_time(mr["created_at"]),
        "updated_at": hook_time(mr["updated_at"]),
        "prepared_at": hook_time(mr["created_at"]) if live["prepared"] else None,
        "last_edited_at": hook_time(mr.get("last_edited_at")),
        "last_edited_by_id": mr.get("last_edited_by_id"),
        "updated_by_id": mr.get("updated_by_id"),
        "blocking_discussions_resolved": True,
        "draft": _draft(mr),
        "work_in_progress": _draft(mr),
        "first_contribution": False,
        "time_estimate": 0,
        "total_time_spent": 0,
        "time_change": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
        "human_time_change": None,
        "labels": labels,
        "last_commit": None if last_commit is None else commit_attrs(svc, rec, last_commit),
        "source": project,
        "target": project,
        "url": f"{svc.base_url}/{rec['path_with_namespace']}/-/merge_requests/{mr['iid']}",
        "system": False,
    }


def _mr_facts(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], mr: dict[str, Any]
) -> dict[str, Any]:
    """What both event kinds show of an MR: its attributes as of now, labels, project.

    Its merge status is what GitLab's asynchronous check shows at the time (webhook
    payloads never start a check: Gitlab::HookData::MergeRequestBuilder).
    """
    status = mergeability.shown(svc, rec, mr)
    head = status["sha"]
    last = gitrepo.log(svc.repo_path(rec), [head], max_count=1) if head else []
    labels = [label_attrs(lab) for lab in projects.labels_for(svc, data, rec["id"], mr["labels"])]
    project = project_attrs(svc, data, rec)
    attrs = merge_request_attrs(
        svc,
        rec,
        mr,
        live=status,
        last_commit=last[0] if last else None,
        labels=labels,
        project=project,
    )
    return {"attrs": attrs, "labels": labels, "project": project}


def emit_merge_request(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    action: str,
    changes: dict[str, Any],
    actor: User,
    oldrev: str | None = None,
) -> None:
    """Deliver a merge request event for `action`, caused by `actor`, to the project's MR hooks."""
    if not listening(data, rec["id"], "merge_requests_events"):
        return
    facts = _mr_facts(svc, data, rec, mr)
    attrs = {**facts["attrs"], "action": action}
    if oldrev is not None:  # only when code changed (webhook_events.md)
        attrs["oldrev"] = oldrev
    payload = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": user_attrs(actor),
        "project": facts["project"],
        "object_attributes": attrs,
        "labels": facts["labels"],
        "changes": _changes(changes),
        "repository": repository_attrs(svc, rec),
        "assignees": [],
        "reviewers": [],
    }
    svc.hooks.emit(rec["id"], "Merge Request Hook", payload)


def emit_note(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    note: dict[str, Any],
) -> None:
    """Deliver a note event ("Comment on a merge request") to the project's note hooks."""
    if not listening(data, rec["id"], "note_events"):
        return
    facts = _mr_facts(svc, data, rec, mr)
    merge_request = {
        **facts["attrs"],
        "created_at": utc_time(mr["created_at"]),
        "updated_at": utc_time(mr["updated_at"]),
        "position": 0,
        "assignee": None,
    }
    url = f"{svc.base_url}/{rec['path_with_namespace']}/-/merge_requests/{mr['iid']}"
    payload = {
        "object_kind": "note",
        "event_type": "note",
        "user": user_attrs(users.by_id(note["author_id"])),
        "project_id": rec["id"],
        "project": facts["project"],
        "repository": repository_attrs(svc, rec),
        "object_attributes": {
            "id": note["id"],
            "note": note["body"],
            "noteable_type": "MergeRequest",
            "author_id": note["author_id"],
            "created_at": utc_time(note["created_at"]),
            "updated_at": utc_time(note["updated_at"]),
            "project_id": rec["id"],
            "attachment": None,
            "line_code": None,
            "commit_id": "",
            "noteable_id": mr["id"],
            "system": False,
            "st_diff": None,
            "action": "create",
            "url": f"{url}#note_{note['id']}",
        },
        "merge_request": merge_request,
    }
    svc.hooks.emit(rec["id"], "Note Hook", payload)
