"""GitLab REST API v4, writing part: create commits, and create/update/delete files.

`POST .../repository/commits` (python-gitlab's `project.commits.create`) and
`POST/PUT/DELETE .../repository/files/:file_path` (`project.files.create`,
`file.save()`, `file.delete()`). The rules are in `commits.py`. The two APIs
refuse a protected branch differently, as GitLab does: the commits API checks
first (`403 Forbidden - You are not allowed to push into this branch`), the files
API in its service (`400 You are not allowed to push into this branch`). The
caller commits: the admin or the developer, whose token it is.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from gitops_sandbox import commits, gitrepo, projects
from gitops_sandbox.api_util import (
    authenticate_api,
    current_user,
    json_response,
    params,
    to_bool,
)
from gitops_sandbox.context import services
from gitops_sandbox.errors import ApiError, bad_request, forbidden, missing
from gitops_sandbox.gitlab_repository import commit_detail
from gitops_sandbox.gitwrite import Action

bp = Blueprint("gitlab_commits", __name__, url_prefix="/api/v4/projects/<enc:pid>/repository")
REFUSED = "You are not allowed to push into this branch"


@bp.before_request
def _authenticate() -> Response | None:
    """The token, or an anonymous caller who sees no project (`authenticate_api`)."""
    return authenticate_api()


def _project(pid: str) -> dict[str, Any]:
    with services().state.read() as data:
        return projects.get(data, pid)


@bp.post("/commits")
def create_commit(pid: str) -> Response:
    """Commit `actions` onto `branch` (from `start_branch` / `start_sha`); 201 CommitDetail."""
    svc = services()
    p = params()
    rec = _project(pid)
    for name in ("branch", "commit_message"):
        if not p.get(name):
            raise bad_request(f"400 Bad request - {name} is required")
    sha = commits.create(
        svc,
        rec,
        branch=str(p["branch"]),
        message=str(p["commit_message"]),
        actions=commits.parse_actions(p.get("actions")),
        refused=forbidden(REFUSED),
        actor=current_user(),
        start_branch=p.get("start_branch"),
        start_sha=p.get("start_sha"),
        author_name=p.get("author_name"),
        author_email=p.get("author_email"),
        force=to_bool(p.get("force")),
    )
    repo = svc.repo_path(rec)
    commit = gitrepo.log(repo, [sha], max_count=1)[0]
    body = commit_detail(svc, rec, repo, commit, with_stats=to_bool(p.get("stats"), True))
    return json_response(body, 201)


def _file_change(pid: str, file_path: str, action: str) -> dict[str, Any]:
    """Commit one file action as the files API does; the answer names file and branch."""
    svc = services()
    p = params()
    needed = ["branch", "commit_message"] + (["content"] if action != "delete" else [])
    absent = [name for name in needed if p.get(name) is None or p.get(name) == ""]
    if absent:
        raise missing(*absent)
    if p.get("encoding") not in (None, "text", "base64"):
        raise ApiError(400, {"error": "encoding does not have a valid value"})
    mode = p.get("execute_filemode")
    act = Action(
        action=action,
        file_path=file_path,
        content=None if action == "delete" else commits.content(p["content"], p.get("encoding")),
        execute_filemode=None if mode is None else to_bool(mode),
        last_commit_id=p.get("last_commit_id"),
    )
    commits.create(
        svc,
        _project(pid),
        branch=str(p["branch"]),
        message=str(p["commit_message"]),
        actions=[act],
        refused=bad_request(REFUSED),
        actor=current_user(),
        start_branch=p.get("start_branch"),
        author_name=p.get("author_name"),
        author_email=p.get("author_email"),
    )
    return {"file_path": file_path, "branch": str(p["branch"])}


@bp.post("/files/<enc:file_path>")
def create_file(pid: str, file_path: str) -> Response:
    """Add a file in a new commit (400 `A file with this name already exists`)."""
    return json_response(_file_change(pid, file_path, "create"), 201)


@bp.put("/files/<enc:file_path>")
def update_file(pid: str, file_path: str) -> Response:
    """Change a file in a new commit (`last_commit_id` guards against lost updates)."""
    return json_response(_file_change(pid, file_path, "update"))


@bp.delete("/files/<enc:file_path>")
def delete_file(pid: str, file_path: str) -> Response:
    """Remove a file in a new commit."""
    _file_change(pid, file_path, "delete")
    return Response(status=204)
