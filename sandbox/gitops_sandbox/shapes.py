"""JSON shapes of GitLab's API entities, field by field as GitLab documents them.

Only the representation lives here; records come from `state.py` and git facts
from `gitrepo.py`. Fields the sandbox has no notion of (pipelines, milestones,
time tracking) are present with the value GitLab gives when the feature is unused,
so clients that read them find them.
"""

from __future__ import annotations

from typing import Any

from gitops_sandbox import users
from gitops_sandbox.gitrepo import Commit
from gitops_sandbox.mergeability import DRAFT_PREFIXES
from gitops_sandbox.project_settings import SETTINGS
from gitops_sandbox.users import User

LABEL_COLORS = ("#6699cc", "#009966", "#dc143c", "#8fbc8f", "#cd5b45", "#ed9121", "#9400d3")
STATE_IDS = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}


def user(base: str, who: User) -> dict[str, Any]:
    """A sandbox user as `UserBasic` (with `email`, which admins see)."""
    return {
        **who.identity(),
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base}/{who.username}",
    }


def current_user(base: str, who: User) -> dict[str, Any]:
    """`GET /user`: the caller, with the fields GitLab adds for oneself.

    GitLab presents an administrator with `UserWithAdmin` (which adds
    `is_admin`) and anyone else with `UserPublic`, which has no `is_admin` at
    all (lib/api/users.rb, `get` of `resource :user`;
    https://docs.gitlab.com/api/users/#get-the-current-user).
    """
    admin = {"is_admin": True} if who.is_admin else {}
    return {
        **user(base, who),
        **admin,
        "bio": "",
        "created_at": "2024-01-01T00:00:00.000Z",
        "public_email": None,
        "bot": False,
        "two_factor_enabled": False,
        "can_create_project": True,
        "can_create_group": True,
    }


def namespace(base: str, group: dict[str, Any]) -> dict[str, Any]:
    """A group as a project's `namespace`."""
    return {
        "id": group["id"],
        "name": group["name"],
        "path": group["path"],
        "kind": "group",
        "full_path": group["full_path"],
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{base}/groups/{group['full_path']}",
    }


def project(base: str, rec: dict[str, Any], group: dict[str, Any], viewer: User) -> dict[str, Any]:
    """A project as `GET /projects/:id` returns it to `viewer` (`permissions` are theirs)."""
    path = rec["path_with_namespace"]
    web = f"{base}/{path}"
    api = f"{base}/api/v4/projects/{rec['id']}"
    return {
        "id": rec["id"],
        "description": rec.get("description"),
        "name": rec["name"],
        "name_with_namespace": f"{group['name']} / {rec['name']}",
        "path": rec["path"],
        "path_with_namespace": path,
        "created_at": rec["created_at"],
        "last_activity_at": rec["last_activity_at"],
        "default_branch": rec["default_branch"],
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@127.0.0.1:{path}.git",
        "http_url_to_repo": f"{web}.git",
        "web_url": web,
        "readme_url": None,
        "avatar_url": None,
        "forks_count": 0,
        "star_count": 0,
        "namespace": namespace(base, group),
        "visibility": "private",
        "archived": False,
        "empty_repo": rec.get("empty_repo", False),
        "creator_id": users.by_id(rec.get("creator_id")).id,
        "updated_at": rec["last_activity_at"],
        **SETTINGS,
        "permissions": {
            "project_access": {
                "access_level": users.access_level(viewer, rec),
                "notification_level": 3,
            },
            "group_access": None,
        },
        "_links": {
            "self": api,
            "issues": f"{api}/issues",
            "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches",
            "labels": f"{api}/labels",
            "events": f"{api}/events",
            "members": f"{api}/members",
        },
    }


def commit(base: str, project_path: str, c: Commit) -> dict[str, Any]:
    """A commit as the Commits API returns it."""
    title = c.message.split("\n", 1)[0]
    return {
        "id": c.sha,
        "short_id": c.sha[:8],
        "created_at": c.committed_date,
        "parent_ids": c.parents,
        "title": title,
        "message": c.message,
        "author_name": c.author_name,
        "author_email": c.author_email,
        "authored_date": c.authored_date,
        "committer_name": c.committer_name,
        "committer_email": c.committer_email,
        "committed_date": c.committed_date,
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{base}/{project_path}/-/commit/{c.sha}",
    }


def branch(
    base: str, rec: dict[str, Any], name: str, c: Commit, *, protected: bool, merged: bool
) -> dict[str, Any]:
    """A branch as the Branches API returns it."""
    return {
        "name": name,
        "merged": merged,
        "protected": protected,
        "default": name == rec["default_branch"],
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": not protected,
        "web_url": f"{base}/{rec['path_with_namespace']}/-/tree/{name}",
        "commit": commit(base, rec["path_with_namespace"], c),
    }


def label(rec: dict[str, Any]) -> dict[str, Any]:
    """A project label (the webhook payload's label object carries these fields)."""
    return {
        "id": rec["id"],
        "title": rec["title"],
        "name": rec["title"],
        "color": rec["color"],
        "text_color": "#FFFFFF",
        "description": None,
        "project_id": rec["project_id"],
        "group_id": None,
        "template": False,
        "type": "ProjectLabel",
        "created_at": rec["created_at"],
        "updated_at": rec["created_at"],
    }


def label_basic(rec: dict[str, Any]) -> dict[str, Any]:
    """A label as `LabelBasic` (lib/api/entities/label_basic.rb), e.g. in a label event."""
    body = label(rec)
    return {
        "id": body["id"],
        "name": body["name"],
        "color": body["color"],
        "description": body["description"],
        "description_html": "",  # the rendered description; labels here have none
        "text_color": body["text_color"],
    }


def resource_label_event(
    base: str, rec: dict[str, Any], mr: dict[str, Any], label_rec: dict[str, Any] | None
) -> dict[str, Any]:
    """Who added or removed a label, and when (lib/api/entities/resource_label_event.rb)."""
    return {
        "id": rec["id"],
        "user": user(base, users.by_id(rec.get("user_id"))),
        "created_at": rec["created_at"],
        "resource_type": "MergeRequest",
        "resource_id": mr["id"],
        "label": None if label_rec is None else label_basic(label_rec),
        "action": rec["action"],
    }


def protected_branch(rec: dict[str, Any]) -> dict[str, Any]:
    """A protected branch: nobody may push, maintainers may merge."""
    return {
        "id": rec["id"],
        "name": rec["name"],
        "push_access_levels": [
            {
                "id": rec["id"],
                "access_level": 0,
                "access_level_description": "No one",
                "user_id": None,
                "group_id": None,
                "deploy_key_id": None,
            }
        ],
        "merge_access_levels": [
            {
                "id": rec["id"],
                "access_level": 40,
                "access_level_description": "Maintainers",
                "user_id": None,
                "group_id": None,
            }
        ],
        "unprotect_access_levels": [],
        "allow_force_push": False,
        "code_owner_approval_required": False,
    }


def hook(rec: dict[str, Any]) -> dict[str, Any]:
    """A project hook; like GitLab, never shows the secret token."""
    return {
        "id": rec["id"],
        "url": rec["url"],
        "name": rec.get("name"),
        "description": rec.get("description"),
        "project_id": rec["project_id"],
        "push_events": rec["push_events"],
        "push_events_branch_filter": rec.get("push_events_branch_filter"),
        "merge_requests_events": rec["merge_requests_events"],
        "tag_push_events": rec.get("tag_push_events", False),
        "note_events": rec.get("note_events", False),
        "issues_events": False,
        "confidential_issues_events": False,
        "confidential_note_events": False,
        "job_events": False,
        "pipeline_events": False,
        "wiki_page_events": False,
        "deployment_events": False,
        "releases_events": False,
        "feature_flag_events": False,
        "milestone_events": False,
        "emoji_events": False,
        "resource_access_token_events": False,
        "resource_deploy_token_events": False,
        "vulnerability_events": False,
        "repository_update_events": False,
        "enable_ssl_verification": rec.get("enable_ssl_verification", True),
        "alert_status": "executable",
        "disabled_until": None,
        "url_variables": [],
        "branch_filter_strategy": "wildcard",
        "custom_webhook_template": None,
        "custom_headers": [],
        "created_at": rec["created_at"],
    }


def note(base: str, rec: dict[str, Any]) -> dict[str, Any]:
    """A merge request note (comment)."""
    return {
        "id": rec["id"],
        "type": None,
        "body": rec["body"],
        "attachment": None,
        "author": user(base, users.by_id(rec.get("author_id"))),
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "system": rec.get("system", False),
        "noteable_id": rec["noteable_id"],
        "noteable_type": "MergeRequest",
        "noteable_iid": rec["noteable_iid"],
        "project_id": rec["project_id"],
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "commands_changes": {},
    }


def merge_request(
    base: str, rec: dict[str, Any], project_path: str, live: dict[str, Any], *, can_merge: bool
) -> dict[str, Any]:
    """A merge request as `GET /projects/:id/merge_requests/:iid` returns it.

    `live` carries what git decides at the time of asking (`sha`, `diff_refs`,
    `changes_count`) and what GitLab's asynchronous mergeability check shows
    (`merge_status`, `detailed_merge_status`, `has_conflicts`, `prepared`:
    mergeability.shown). `author`,
    `merge_user` and `closed_by` are who did it, kept on the record; `can_merge`
    (`user.can_merge`) is whether the caller may merge it.
    """
    iid = rec["iid"]
    merged = rec["state"] == "merged"
    closed = rec["state"] == "closed"
    merger = user(base, users.by_id(rec.get("merge_user_id"))) if merged else None
    return {
        "id": rec["id"],
        "iid": iid,
        "project_id": rec["project_id"],
        "title": rec["title"],
        "description": rec["description"],
        "state": rec["state"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "merged_by": merger,
        "merge_user": merger,
        "merged_at": rec.get("merged_at"),
        "merge_after": None,
        "prepared_at": rec["created_at"] if live.get("prepared", True) else None,
        "closed_by": user(base, users.by_id(rec.get("closed_by_id"))) if closed else None,
        "closed_at": rec.get("closed_at"),
        "target_branch": rec["target_branch"],
        "source_branch": rec["source_branch"],
        "user_notes_count": rec.get("user_notes_count", 0),
        "upvotes": 0,
        "downvotes": 0,
        "author": user(base, users.by_id(rec.get("author_id"))),
        "assignees": [],
        "assignee": None,
        "reviewers": [],
        "source_project_id": rec["project_id"],
        "target_project_id": rec["project_id"],
        "labels": sorted(rec["labels"]),  # merge_request_basic.rb: titles, sorted
        "draft": rec["title"].lower().startswith(DRAFT_PREFIXES),
        "imported": False,
        "imported_from": "none",
        "work_in_progress": rec["title"].lower().startswith(DRAFT_PREFIXES),
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": live.get("merge_status")
        or ("cannot_be_merged" if live["has_conflicts"] else "can_be_merged"),
        "detailed_merge_status": live["detailed_merge_status"],
        "sha": live["sha"],
        "merge_commit_sha": rec.get("merge_commit_sha"),
        "squash_commit_sha": None,
        "discussion_locked": None,
        "should_remove_source_branch": rec.get("should_remove_source_branch"),
        "force_remove_source_branch": rec.get("force_remove_source_branch", False),
        "allow_collaboration": False,
        "allow_maintainer_to_push": False,
        "reference": f"!{iid}",
        "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{project_path}!{iid}"},
        "web_url": f"{base}/{project_path}/-/merge_requests/{iid}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "squash": bool(rec.get("squash", False)),
        "squash_on_merge": bool(rec.get("squash", False)),
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": live["has_conflicts"],
        "blocking_discussions_resolved": True,
        "approvals_before_merge": None,
        "subscribed": True,
        "changes_count": str(live["changes_count"]),
        "latest_build_started_at": None,
        "latest_build_finished_at": None,
        "first_deployed_to_production_at": None,
        "pipeline": None,
        "head_pipeline": None,
        "diff_refs": live["diff_refs"],
        "merge_error": None,
        "first_contribution": False,
        "user": {"can_merge": can_merge},
    }
