"""Publishing: the one place that pushes a promotion branch and opens, updates or closes MRs.

A change staged in a clone of the target branch is committed onto its own source
branch (one per unit and target, `naming.py`), pushed with a lease, and proposed:
a new MR, or the open one on that branch updated in place. Reruns are idempotent:
the same content gives `noop`. Other open MRs of the same unit and target are
closed as superseded. In a dry run nothing is pushed or changed on GitLab.

What the MR says must never disagree with its branch: a reviewer approves the
text and merges the branch. So the commit carries the MR's text too (title,
labels, description, after a marker), and after updating the MR the run reads
the branch head again (compare-and-set): when another run moved the branch
meanwhile, its MR update may have landed before this one's, so this run writes
the head commit's text into the MR, and checks again. Whichever run writes last
checks last, so concurrent runs of one unit converge to the text of the branch
head. If a run pushed the branch and then failed to update the MR, the next run
finds the branch already right but the MR stale, and repairs the MR.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jenkins_helpers import git
from jenkins_helpers.errors import UserError
from jenkins_helpers.forge import MergeRequest
from jenkins_helpers.promotion import naming
from jenkins_helpers.promotion.model import Outcome, Status
from jenkins_helpers.promotion.target import Target
from jenkins_helpers.promotion.trailer import TrailerError, parse_trailer
from jenkins_helpers.secrets import mask

TEXT_MARKER = "--- merge request (gitops-helper) ---"
CONVERGE_ATTEMPTS = 5  # heads re-read after an MR update before giving up


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
    """Push and propose `change` (or say what would happen); close superseded MRs.

    Its text is masked first (secrets.mask), so the commit, the MR and the comparisons
    with what GitLab has all see the same text.
    """
    change = replace(
        change,
        title=mask(change.title),
        description=mask(change.description),
        commit_message=mask(change.commit_message),
    )
    if not change.files:
        # Open MRs are left alone: a rerun of an older build must not close a
        # newer promotion that is waiting for review.
        return Outcome(status="noop", dry_run=dry_run)
    gl, path = target.gl, target.project.path
    open_mrs = gl.merge_requests(path, labels=change.identity, target_branch=target.branch)
    ours = next((m for m in open_mrs if m.source_branch == change.source_branch), None)
    remote = git.remote_branch_sha(target.tree, change.source_branch, target.auth)
    pushed = remote is not None and _carries(target, change)
    status: Status
    mr: MergeRequest | None
    moved_by = None
    if ours is not None and pushed and _agrees(ours, change):
        status, mr = "noop", ours
    elif dry_run:
        status, mr = ("updated" if ours else "created"), ours
    else:
        head = remote
        if not pushed:
            git.switch(target.tree, change.source_branch, create_from="HEAD")
            git.commit_staged(target.tree, commit_message(change))
            git.push_branch(target.tree, change.source_branch, remote, target.auth)
            head = git.head(target.tree)
        status, mr = _propose(target, change, ours)
        mr, moved_by = _converge(target, change.source_branch, mr, head)
    others = [m for m in open_mrs if m.source_branch != change.source_branch]
    superseded = _close(target, others, naming.superseded_note(mr.iid) if mr else "", dry_run)
    return Outcome(
        status=status,
        branch=change.source_branch,
        mr_iid=mr.iid if mr else None,
        mr_url=mr.url if mr else None,
        superseded=superseded,
        dry_run=dry_run,
        moved_by=moved_by,
    )


def commit_message(change: Change) -> str:
    """The commit of a change: its own message, then the MR's text after `TEXT_MARKER`."""
    return (
        f"{change.commit_message.rstrip()}\n\n{TEXT_MARKER}\n"
        f"Title: {change.title}\nLabels: {', '.join(change.labels)}\n\n{change.description}"
    )


def mr_text(message: str) -> tuple[str, str, tuple[str, ...]] | None:
    """The title, description and labels a commit of `commit_message` carries; None for a
    commit made otherwise (by hand)."""
    _, marker, rest = message.partition(f"\n{TEXT_MARKER}\n")
    title, _, rest = rest.partition("\n")
    labels, _, rest = rest.partition("\n")
    blank, _, description = rest.partition("\n")
    if not (marker and title.startswith("Title: ") and labels.startswith("Labels: ")) or blank:
        return None
    names = tuple(n for n in labels.removeprefix("Labels: ").split(", ") if n)
    return title.removeprefix("Title: "), description, names


def _converge(
    target: Target, branch: str, mr: MergeRequest, written: str | None
) -> tuple[MergeRequest, str | None]:
    """Make `mr` describe `branch`'s head after this run wrote the text of commit `written`.

    Returns the MR and, when another run moved the branch, the commit whose text it now
    carries.
    """
    moved_by = None
    for _ in range(CONVERGE_ATTEMPTS):
        head = git.remote_branch_sha(target.tree, branch, target.auth)
        if head is None or head == written:
            return mr, moved_by  # ours (or merged and deleted: nothing left to describe)
        git.fetch_branch(target.tree, branch, target.auth)
        text = mr_text(git.message(target.tree, head))
        if text is None:
            raise UserError(
                f"{branch} was moved to {head[:12]}, a commit gitops-helper did not make, "
                f"so !{mr.iid} may not describe it",
                "look at the branch; rerun the promotion to regenerate it",
            )
        title, description, labels = text
        mr = target.gl.update_merge_request(
            target.project.path, mr.iid, title=title, description=description, labels=labels
        )
        written, moved_by = head, head
    raise UserError(
        f"{branch} kept moving while !{mr.iid} was updated ({CONVERGE_ATTEMPTS} times)",
        "another promotion of the same unit is running: rerun once it has finished",
    )


def _carries(target: Target, change: Change) -> bool:
    """Whether the remote branch already has `change`: its tree, and its commit the same
    title, labels and trailer (an MR's trailer counts only while its commit carries it)."""
    head = git.fetch_branch(target.tree, change.source_branch, target.auth)
    if git.tree_id(target.tree, head) != git.staged_tree(target.tree):
        return False
    text = mr_text(git.message(target.tree, head))
    return text is not None and _same(text, change)


def _same(text: tuple[str, str, tuple[str, ...]], change: Change) -> bool:
    """Whether an MR text (title, description, labels) says what `change` says."""
    title, description, labels = text
    try:
        recorded = parse_trailer(description)
    except TrailerError:
        return False  # a damaged trailer is repaired by rewriting it
    return (
        title == change.title
        and set(labels) == set(change.labels)
        and recorded == parse_trailer(change.description)
    )


def _agrees(mr: MergeRequest, change: Change) -> bool:
    """Whether the open MR already says what `change` says: title, labels and trailer."""
    return _same((mr.title, mr.description, mr.labels), change)


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
