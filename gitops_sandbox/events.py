"""Webhook payloads, shaped as GitLab's merge request and push events (GITLAB_WEBHOOK.md).

`merge_requests.py` decides when an event happens; this module builds the body
and hands it to `HookDispatcher.emit` (skipping the work when no hook listens).
"""

from __future__ import annotations

from typing import Any

from gitops_sandbox import gitrepo, mergeability, projects, shapes
from gitops_sandbox.context import ADMIN_USER, Services
from gitops_sandbox.gitrepo import Commit


def hook_time(iso: str | None) -> str | None:
    """GitLab's webhook timestamps: ISO 8601 to the second, `Z` suffix."""
    return None if iso is None else iso.split(".")[0].rstrip("Z") + "Z"


def project_attrs(svc: Services, data: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The `project` (and `source`/`target`) object of a hook payload."""
    base = svc.base_url
    web = f"{base}/{rec['path_with_namespace']}"
    group = data["groups"][rec["namespace_path"]]
    return {
        "id": rec["id"],
        "name": rec["name"],
        "description": rec.get("description"),
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": f"git@127.0.0.1:{rec['path_with_namespace']}.git",
        "git_http_url": f"{web}.git",
        "namespace": group["name"],
        "visibility_level": 0,
        "path_with_namespace": rec["path_with_namespace"],
        "default_branch": rec["default_branch"],
        "ci_config_path": None,
        "homepage": web,
        "url": f"{web}.git",
        "ssh_url": f"git@127.0.0.1:{rec['path_with_namespace']}.git",
        "http_url": f"{web}.git",
    }


def repository_attrs(svc: Services, rec: dict[str, Any]) -> dict[str, Any]:
    """The `repository` object of a hook payload."""
    web = f"{svc.base_url}/{rec['path_with_namespace']}"
    return {
        "name": rec["name"],
        "url": f"{web}.git",
        "description": rec.get("description"),
        "homepage": web,
        "git_http_url": f"{web}.git",
        "git_ssh_url": f"git@127.0.0.1:{rec['path_with_namespace']}.git",
        "visibility_level": 0,
    }


def commit_attrs(svc: Services, rec: dict[str, Any], c: Commit) -> dict[str, Any]:
    """A commit as hook payloads show it (`last_commit`, push `commits`)."""
    return {
        "id": c.sha,
        "message": c.message,
        "title": c.message.split("\n", 1)[0],
        "timestamp": c.committed_date,
        "url": f"{svc.base_url}/{rec['path_with_namespace']}/-/commit/{c.sha}",
        "author": {"name": c.author_name, "email": c.author_email},
    }


def merge_request_event(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    *,
    action: str,
    live: dict[str, Any],
    last_commit: Commit | None,
    labels: list[dict[str, Any]],
    changes: dict[str, Any],
    oldrev: str | None = None,
) -> dict[str, Any]:
    """A `merge_request` event body for `action` (open, update, close, reopen, merge)."""
    base = svc.base_url
    project = project_attrs(svc, data, rec)
    label_objs = [shapes.label(lab) for lab in labels]
    attrs: dict[str, Any] = {
        "id": mr["id"],
        "iid": mr["iid"],
        "title": mr["title"],
        "description": mr["description"],
        "source_branch": mr["source_branch"],
        "target_branch": mr["target_branch"],
        "source_project_id": rec["id"],
        "target_project_id": rec["id"],
        "author_id": ADMIN_USER["id"],
        "assignee_id": None,
        "assignee_ids": [],
        "reviewer_ids": [],
        "milestone_id": None,
        "head_pipeline_id": None,
        "state": mr["state"],
        "state_id": shapes.STATE_IDS[mr["state"]],
        "merge_status": "cannot_be_merged" if live["has_conflicts"] else "can_be_merged",
        "detailed_merge_status": live["detailed_merge_status"],
        "merge_commit_sha": mr.get("merge_commit_sha"),
        "merge_error": None,
        "merge_params": {
            "force_remove_source_branch": "1" if mr.get("force_remove_source_branch") else "0"
        },
        "merge_user_id": ADMIN_USER["id"] if mr["state"] == "merged" else None,
        "merge_when_pipeline_succeeds": False,
        "created_at": hook_time(mr["created_at"]),
        "updated_at": hook_time(mr["updated_at"]),
        "prepared_at": hook_time(mr["created_at"]),
        "last_edited_at": None,
        "last_edited_by_id": None,
        "updated_by_id": ADMIN_USER["id"],
        "blocking_discussions_resolved": True,
        "draft": mr["title"].lower().startswith(mergeability.DRAFT_PREFIXES),
        "work_in_progress": mr["title"].lower().startswith(mergeability.DRAFT_PREFIXES),
        "first_contribution": False,
        "time_estimate": 0,
        "total_time_spent": 0,
        "time_change": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
        "human_time_change": None,
        "labels": label_objs,
        "last_commit": None if last_commit is None else commit_attrs(svc, rec, last_commit),
        "source": project,
        "target": project,
        "url": f"{base}/{rec['path_with_namespace']}/-/merge_requests/{mr['iid']}",
        "system": False,
        "action": action,
    }
    if oldrev is not None:
        attrs["oldrev"] = oldrev
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {
            **{k: ADMIN_USER[k] for k in ("id", "name", "username", "email")},
            "avatar_url": None,
        },
        "project": project,
        "object_attributes": attrs,
        "labels": label_objs,
        "changes": changes,
        "repository": repository_attrs(svc, rec),
        "assignees": [],
        "reviewers": [],
    }


def push_event(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    branch: str,
    before: str,
    after: str,
    *,
    protected: bool,
) -> dict[str, Any]:
    """A `push` event body for one branch update (creation and deletion included)."""
    repo = svc.repo_path(rec)
    commits: list[Commit] = []
    total = 0
    if after != gitrepo.ZERO_SHA:
        revs = [after] + ([f"^{before}"] if before != gitrepo.ZERO_SHA else [])
        every = gitrepo.log(repo, revs)
        total = len(every)
        commits = list(reversed(every[:20]))
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": f"refs/heads/{branch}",
        "ref_protected": protected,
        "checkout_sha": None if after == gitrepo.ZERO_SHA else after,
        "message": None,
        "user_id": ADMIN_USER["id"],
        "user_name": ADMIN_USER["name"],
        "user_username": ADMIN_USER["username"],
        "user_email": ADMIN_USER["email"],
        "user_avatar": None,
        "project_id": rec["id"],
        "project": project_attrs(svc, data, rec),
        "commits": [commit_attrs(svc, rec, c) for c in commits],
        "total_commits_count": total,
        "push_options": {},
        "repository": repository_attrs(svc, rec),
    }


def emit_merge_request(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    action: str,
    changes: dict[str, Any],
    oldrev: str | None = None,
) -> None:
    """Deliver a merge request event for `action` to the project's MR hooks."""
    if not any(
        h["project_id"] == rec["id"] and h.get("merge_requests_events")
        for h in data["hooks"].values()
    ):
        return  # nobody listens: skip building the payload (git calls)
    status = mergeability.live(svc, rec, mr)
    head = status["sha"]
    last = gitrepo.log(svc.repo_path(rec), [head], max_count=1) if head else []
    payload = merge_request_event(
        svc,
        data,
        rec,
        mr,
        action=action,
        live=status,
        last_commit=last[0] if last else None,
        labels=projects.labels_for(svc, data, rec["id"], mr["labels"]),
        changes=changes,
        oldrev=oldrev,
    )
    svc.hooks.emit(rec["id"], "Merge Request Hook", payload)


def emit_push(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], branch: str, before: str, after: str
) -> None:
    """Deliver a push event for one branch update to the project's push hooks."""
    if not any(
        h["project_id"] == rec["id"] and h.get("push_events") for h in data["hooks"].values()
    ):
        return
    payload = push_event(
        svc,
        data,
        rec,
        branch,
        before,
        after,
        protected=projects.is_protected(data, rec["id"], branch),
    )
    svc.hooks.emit(rec["id"], "Push Hook", payload)
