"""Commits made through the API: `POST .../repository/commits` and the files API.

GitLab's rules (lib/api/commits.rb, app/services/commits/create_service.rb):
the target `branch` must be one the user may push to (a protected branch's push
access level decides; in an empty repository only admins and Maintainers may
make the first commit: `projects.may_push`); the caller
commits (committer, and author unless `author_name`/`author_email` say
otherwise, https://docs.gitlab.com/api/commits/#create-a-commit-with-multiple-files-and-actions);
the commit starts from
`start_branch` (default: `branch` itself) or `start_sha`; a new `branch` is made
when it differs from the start and does not exist yet. The commit is pushed like
any other: push events, and `update` events for open merge requests.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitops_sandbox import gitrepo, merge_requests, projects
from gitops_sandbox.context import Services
from gitops_sandbox.errors import ApiError, GitError, bad_request
from gitops_sandbox.gitwrite import Action, commit_files
from gitops_sandbox.users import User

ACTIONS = ("create", "update", "move", "delete", "chmod")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def content(text: Any, encoding: Any) -> bytes:
    """File content as sent: `text` (the default) or `base64`."""
    if encoding in (None, "text"):
        return str(text).encode()
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError) as e:
        raise bad_request("Invalid base64 content") from e


def parse_actions(raw: Any) -> list[Action]:
    """The `actions` array, checked as lib/api/commits.rb checks it (`400 Bad request - ...`)."""
    if not isinstance(raw, list) or not raw:
        raise bad_request("400 Bad request - actions is required")
    found = []
    for index, item in enumerate(raw):
        spec = item if isinstance(item, dict) else {}
        where = f"actions[{index}]"
        problem = None
        if not spec.get("action"):
            problem = f"{where}[action] is required"
        elif not spec.get("file_path"):
            problem = f"{where}[file_path] is required"
        elif spec["action"] not in ACTIONS:
            problem = f"{where}[action] must be one of: {', '.join(ACTIONS)}"
        elif spec.get("encoding", "text") not in ("text", "base64"):
            problem = f"{where}[encoding] must be text or base64"
        elif spec["action"] == "update" and "content" not in spec:
            problem = f"{where}[content] is required for update action"
        elif spec["action"] == "move" and not spec.get("previous_path"):
            problem = f"{where}[previous_path] is required for move action"
        elif spec["action"] == "chmod" and "execute_filemode" not in spec:
            problem = f"{where}[execute_filemode] is required for chmod action"
        if problem:
            raise bad_request(f"400 Bad request - {problem}")
        raw_content = spec.get("content")
        mode = spec.get("execute_filemode")
        found.append(
            Action(
                action=spec["action"],
                file_path=str(spec["file_path"]),
                content=None if raw_content is None else content(raw_content, spec.get("encoding")),
                previous_path=spec.get("previous_path"),
                execute_filemode=None if mode is None else str(mode).lower() == "true",
                last_commit_id=spec.get("last_commit_id"),
            )
        )
    return found


def _start(
    repo: Path,
    heads: dict[str, str],
    branch: str,
    start_branch: str | None,
    start_sha: str | None,
    force: bool,
) -> str | None:
    """The commit to build on (None in an empty repository), or GitLab's 400."""
    if start_sha:
        if start_branch:
            raise bad_request("You can't pass both start_branch and start_sha")
        if not _SHA.match(start_sha) or gitrepo.resolve(repo, start_sha) != start_sha:
            raise bad_request(f"Cannot find start_sha '{start_sha}'")
    start_branch = None if start_sha else (start_branch or branch)
    if not heads:
        return None  # an empty repository: the first commit makes the branch
    if start_branch is not None and start_branch not in heads:
        raise bad_request("You can only create or edit files when you are on a branch")
    if (start_sha or start_branch != branch) and branch in heads and not force:
        raise bad_request(
            f"A branch called '{branch}' already exists. "
            "Switch to that branch in order to make changes"
        )
    if branch not in heads and not gitrepo.valid_branch_name(branch):
        raise bad_request(
            f"Something went wrong when we tried to create '{branch}' for you: "
            "Branch name is invalid"
        )
    return start_sha or heads[str(start_branch)]


def _check_unchanged(repo: Path, start: str | None, actions: Sequence[Action]) -> None:
    """`last_commit_id`: refuse when the file changed since the caller read it."""
    for act in actions:
        if act.last_commit_id and start:
            last = gitrepo.log(repo, [start], path=act.file_path, max_count=1)
            if last and last[0].sha != act.last_commit_id:
                raise bad_request(
                    f"You are attempting to update a file `{act.file_path}` that has changed "
                    "since you started editing it."
                )


def create(
    svc: Services,
    rec: dict[str, Any],
    *,
    branch: str,
    message: str,
    actions: Sequence[Action],
    refused: ApiError,
    actor: User,
    start_branch: str | None = None,
    start_sha: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    force: bool = False,
) -> str:
    """Commit `actions` onto `branch` as `actor`; `refused` is the answer when `actor` may
    not push to it (Gitlab::UserAccess#can_push_to_branch?: `projects.may_push`)."""
    with svc.state.read() as data:
        if not projects.may_push(data, projects.get(data, rec["id"]), branch, actor):
            raise refused
    repo = svc.repo_path(rec)
    heads = gitrepo.branches(repo)
    start = _start(repo, heads, branch, start_branch, start_sha, force)
    _check_unchanged(repo, start, actions)
    identity = {
        **actor.git_identity(),
        "GIT_AUTHOR_NAME": author_name or actor.name,
        "GIT_AUTHOR_EMAIL": author_email or actor.email,
    }
    sha = commit_files(repo, start, actions, message.rstrip("\n") + "\n", identity)
    before = heads.get(branch, gitrepo.ZERO_SHA)
    try:
        gitrepo.update_ref(repo, branch, sha, before)
    except GitError as e:  # someone pushed in between: GitLab answers the same way
        raise bad_request("Could not update branch: it changed, try again") from e
    merge_requests.on_push(svc, rec, {branch: (before, sha)}, actor)
    return sha
