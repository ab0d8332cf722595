"""Push events (GitLab docs: webhook_events.md, "Push events").

One event per branch a push (or an API call, or a merge) moves, creates or
deletes. `commits` holds the newest 20 of the commits the push brings, each with
the paths it `added`, `modified` and `removed`; a new branch brings only the
commits no other branch has (none when it starts at an existing commit);
`total_commits_count` counts them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_sandbox import gitrepo, projects
from gitops_sandbox.context import Services
from gitops_sandbox.gitrepo import Commit
from gitops_sandbox.hook_payloads import commit_attrs, listening, project_attrs, repository_attrs
from gitops_sandbox.users import User

MAX_COMMITS = 20  # GitLab's limit on `commits`; `total_commits_count` has the real number


def pushed_commits(repo: Path, branch: str, before: str, after: str) -> list[Commit]:
    """The commits a branch update brings, newest first (none for a deletion)."""
    if after == gitrepo.ZERO_SHA:
        return []
    if before != gitrepo.ZERO_SHA:
        return gitrepo.log(repo, [after, f"^{before}"])
    others = {sha for name, sha in gitrepo.branches(repo).items() if name != branch}
    return gitrepo.log(repo, [after, *(f"^{sha}" for sha in sorted(others))])


def push_event(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    branch: str,
    before: str,
    after: str,
    actor: User,
) -> dict[str, Any]:
    """A `push` event body for one branch update by `actor` (creation and deletion included).

    `user_*` name who pushed (webhook_events.md, "Push events"): the git user,
    or the API caller whose commit, branch or merge moved the branch.
    """
    repo = svc.repo_path(rec)
    every = pushed_commits(repo, branch, before, after)
    commits = []
    for c in reversed(every[:MAX_COMMITS]):  # oldest first, as GitLab lists them
        commits.append({**commit_attrs(svc, rec, c), **gitrepo.changed_paths(repo, c)})
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": f"refs/heads/{branch}",
        "ref_protected": projects.is_protected(data, rec["id"], branch),
        "checkout_sha": None if after == gitrepo.ZERO_SHA else after,
        "message": None,
        "user_id": actor.id,
        "user_name": actor.name,
        "user_username": actor.username,
        "user_email": actor.email,
        "user_avatar": None,
        "project_id": rec["id"],
        "project": project_attrs(svc, data, rec),
        "commits": commits,
        "total_commits_count": len(every),
        "push_options": {},
        "repository": repository_attrs(svc, rec),
    }


def emit_push(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    branch: str,
    before: str,
    after: str,
    actor: User,
) -> None:
    """Deliver a push event for one branch update by `actor` to the project's push hooks,
    and tell Argo CD (as GitLab's push webhook to its /api/webhook would)."""
    svc.argocd.observe_push(rec["id"], branch, before, after)
    if listening(data, rec["id"], "push_events"):
        payload = push_event(svc, data, rec, branch, before, after, actor)
        svc.hooks.emit(rec["id"], "Push Hook", payload)
