"""The pieces every webhook payload shares: project, repository, user, commit, times.

GitLab's webhook docs (doc/user/project/integrations/webhook_events.md) show
the same `project` and `repository` objects in push, merge request and note
events, and two timestamp forms: ISO 8601 to the second (`2013-12-03T17:23:34Z`,
merge request attributes and labels) and `2015-05-17 18:08:09 UTC` (notes, the
merge request inside a note event, and the `changes` of an update).
"""

from __future__ import annotations

from typing import Any

from gitops_sandbox import shapes
from gitops_sandbox.context import Services
from gitops_sandbox.gitrepo import Commit
from gitops_sandbox.users import User


def hook_time(iso: str | None) -> str | None:
    """`2013-12-03T17:23:34Z`: ISO 8601 to the second, `Z` suffix."""
    return None if iso is None else iso.split(".")[0].rstrip("Z") + "Z"


def utc_time(iso: str | None) -> str | None:
    """`2017-09-15 16:50:55 UTC`: the form of `changes` and note events."""
    return None if iso is None else iso.split(".")[0].rstrip("Z").replace("T", " ") + " UTC"


def user_attrs(actor: User) -> dict[str, Any]:
    """The `user` object: who caused the event (webhook_events.md: the user who
    opened, updated, merged or commented; for an update by a push, the pusher)."""
    return {**actor.identity(), "avatar_url": None}


def project_attrs(svc: Services, data: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    """The `project` (and `source`/`target`) object of a hook payload."""
    web = f"{svc.base_url}/{rec['path_with_namespace']}"
    ssh = f"git@127.0.0.1:{rec['path_with_namespace']}.git"
    return {
        "id": rec["id"],
        "name": rec["name"],
        "description": rec.get("description"),
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": ssh,
        "git_http_url": f"{web}.git",
        "namespace": data["groups"][rec["namespace_path"]]["name"],
        "visibility_level": 0,
        "path_with_namespace": rec["path_with_namespace"],
        "default_branch": rec["default_branch"],
        "ci_config_path": None,
        "homepage": web,
        "url": f"{web}.git",
        "ssh_url": ssh,
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


def label_attrs(rec: dict[str, Any]) -> dict[str, Any]:
    """A label as payloads show it: the API's fields, times to the second."""
    body = shapes.label(rec)
    body["created_at"] = body["updated_at"] = hook_time(rec["created_at"])
    return body


def listening(data: dict[str, Any], project_id: int, flag: str) -> bool:
    """Whether any hook of the project wants the event (else the payload is not built)."""
    return any(h["project_id"] == project_id and h.get(flag) for h in data["hooks"].values())
