"""Publishing: the one place that pushes a promotion branch and opens, updates or closes MRs.

A change staged in a clone of the target branch is committed onto its own source
branch (one per unit and target, `naming.py`), pushed with a lease, and proposed:
a new MR, or the open one on that branch updated in place. Reruns are idempotent:
the same content gives `noop`. Other open MRs of the same unit and target are
closed as superseded. In a dry run nothing is pushed or changed on GitLab.

What the MR says must never disagree with its branch (the webhook trusts the
trailer). If a run pushed the branch and then failed to update the MR, the next
run finds the branch already right but the MR stale, and repairs the MR.
"""

from __future__ import annotations

from dataclasses import dataclass

from jenkins_helpers import git
from jenkins_helpers.gitlab import MergeRequest
from jenkins_helpers.promotion import naming
from jenkins_helpers.promotion.model import Outcome, Status
from jenkins_helpers.promotion.target import Target
from jenkins_helpers.promotion.trailer import TrailerError, parse_trailer


@dataclass(frozen=True)
class Change:
    """A change staged in a target's clone, and how to propose it."""

    source_branch: str
    title: str
    description: str  # ends with the trailer
    labels: tuple[str, ...]
    identity: tuple[str, ...]  # labels every MR of this unit and target carries
    commit_message: str
    files: tuple[git.FileChange, ...]  # what is staged; empty: the target already has it


def publish(target: Target, change: Change, *, dry_run: bool = False) -> Outcome:
    """Push and propose `change` (or say what would happen); close superseded MRs."""
    if not change.files:
        # Open MRs are left alone: a rerun of an older build must not close a
        # newer promotion that is waiting for review.
        return Outcome("noop", None, None, None, dry_run=dry_run)
    gl, path = target.gl, target.project.path
    open_mrs = gl.merge_requests(path, labels=change.identity, target_branch=target.branch)
    ours = next((m for m in open_mrs if m.source_branch == change.source_branch), None)
    remote = git.remote_branch_sha(target.tree, change.source_branch, target.auth)
    pushed = remote is not None and git.tree_id(
        target.tree, git.fetch_branch(target.tree, change.source_branch, target.auth)
    ) == git.staged_tree(target.tree)
    status: Status
    mr: MergeRequest | None
    if ours is not None and pushed and _agrees(ours, change):
        status, mr = "noop", ours
    elif dry_run:
        status, mr = ("updated" if ours else "created"), ours
    else:
        if not pushed:
            git.switch(target.tree, change.source_branch, create_from="HEAD")
            git.commit_staged(target.tree, change.commit_message)
            git.push_branch(target.tree, change.source_branch, remote, target.auth)
        status, mr = _propose(target, change, ours)
    others = [m for m in open_mrs if m.source_branch != change.source_branch]
    superseded = _close(target, others, naming.superseded_note(mr.iid) if mr else "", dry_run)
    return Outcome(
        status,
        change.source_branch,
        mr.iid if mr else None,
        mr.url if mr else None,
        superseded,
        dry_run,
    )


def _agrees(mr: MergeRequest, change: Change) -> bool:
    """Whether the open MR already says what `change` says: title, labels and trailer."""
    try:
        recorded = parse_trailer(mr.description)
    except TrailerError:
        return False  # a damaged trailer is repaired by rewriting the description
    return (
        mr.title == change.title
        and set(mr.labels) == set(change.labels)
        and recorded == parse_trailer(change.description)
    )


def _propose(
    target: Target, change: Change, ours: MergeRequest | None
) -> tuple[Status, MergeRequest]:
    """Open the MR, or update the open one in place (same source branch)."""
    gl, path = target.gl, target.project.path
    if ours is not None:
        mr = gl.update_merge_request(
            path,
            ours.iid,
            title=change.title,
            description=change.description,
            labels=change.labels,
        )
        return "updated", mr
    mr, created = gl.create_merge_request(
        path,
        source=change.source_branch,
        target=target.branch,
        title=change.title,
        description=change.description,
        labels=change.labels,
    )
    # A concurrent run may have opened it first: then this run only updated it.
    return ("created" if created else "updated"), mr


def _close(target: Target, mrs: list[MergeRequest], note: str, dry_run: bool) -> tuple[int, ...]:
    """Close `mrs` with `note` (not in a dry run); return their iids."""
    if not dry_run:
        for mr in mrs:
            target.gl.close_merge_request(target.project.path, mr.iid, note)
    return tuple(mr.iid for mr in mrs)
