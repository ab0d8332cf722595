"""What git says about a merge request now, and what GitLab's mergeability check shows.

`live` is git's answer for the branches at the time of asking (`git merge-tree` for
conflicts); pure functions of two commit ids are cached: commits never change.

`shown` is what a client sees: GitLab computes mergeability asynchronously
(doc/api/merge_requests.md, "Single merge request response notes" and "Merge
status"). A new MR is `preparing`; a push to either branch makes it `unchecked`
(`cannot_be_merged_recheck` when it was unmergeable); a single GET, or a list with
`with_merge_status_recheck=true`, requests a check (lib/api/entities/
merge_request_basic.rb: `check_mergeability(async: true)`), which is `checking`
until done. Until then `has_conflicts` is false (it is `cannot_be_merged?`). The
sandbox's check takes `merge_status_delay` seconds (a setting, default
CHECK_SECONDS) and is decided lazily: `merge_check` on the MR records the heads it
is for, when it ends, and how it started. Merging checks synchronously
(app/models/merge_request.rb: `mergeable?` calls `check_mergeability`).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from gitops_sandbox import gitdiff, gitrepo
from gitops_sandbox.context import Services
from gitops_sandbox.errors import GitError

DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")
CHECK_SECONDS = 0.1  # how long the "asynchronous" check takes, unless configured


@functools.lru_cache(maxsize=4096)
def _mergeability(repo: str, target_sha: str, source_sha: str) -> tuple[str | None, bool, int]:
    """(merge base, has conflicts, files changed) for a pair of commits; commits never change."""
    path = Path(repo)
    base = gitrepo.merge_base(path, target_sha, source_sha)
    try:
        tree, conflicts = gitrepo.merge_tree(path, target_sha, source_sha)
    except GitError:  # unrelated histories: GitLab reports these as unmergeable too
        return base, True, 0
    return base, tree is None and bool(conflicts), _files_changed(repo, base, source_sha)


@functools.lru_cache(maxsize=4096)
def _files_changed(repo: str, base: str | None, head: str) -> int:
    """How many files differ between two commits (GitLab's `changes_count`)."""
    return len(gitdiff.diff(Path(repo), base, head)) if base else 0


def live(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
    """What git says about the MR now: head sha, diff refs, conflicts, merge status."""
    repo = svc.repo_path(rec)
    if mr["state"] == "merged":
        base, head, start = mr["merged_base_sha"], mr["merged_head_sha"], mr["merged_start_sha"]
        count = _files_changed(str(repo), base, head)
        return {
            "sha": head,
            "has_conflicts": False,
            "detailed_merge_status": "not_open",
            "changes_count": count,
            "diff_refs": {"base_sha": base, "head_sha": head, "start_sha": start},
        }
    heads = gitrepo.branches(repo)
    source, target = heads.get(mr["source_branch"]), heads.get(mr["target_branch"])
    sha = source or mr.get("last_source_sha")
    if source is None or target is None:
        status = "not_open" if mr["state"] != "opened" else "broken_status"
        return {
            "sha": sha,
            "has_conflicts": False,
            "detailed_merge_status": status,
            "changes_count": 0,
            "diff_refs": None,
        }
    base, conflicts, count = _mergeability(str(repo), target, source)
    # GitLab's checks in order: state checks (open, draft, ...) before git's (conflict):
    # MergeRequest.mergeable_state_checks + mergeable_git_state_checks.
    if mr["state"] != "opened":
        status = "not_open"
    elif mr["title"].lower().startswith(DRAFT_PREFIXES):
        status = "draft_status"
    elif conflicts:
        status = "conflict"
    else:
        status = "mergeable"
    return {
        "sha": source,
        "has_conflicts": conflicts and mr["state"] == "opened",
        "detailed_merge_status": status,
        "changes_count": count,
        "diff_refs": {"base_sha": base, "head_sha": source, "start_sha": target},
    }


def check_seconds(svc: Services) -> float:
    """How long a mergeability check takes (the `merge_status_delay` setting)."""
    return float(svc.settings.get("merge_status_delay", CHECK_SECONDS))


def _heads(facts: dict[str, Any]) -> tuple[str, str] | None:
    refs = facts["diff_refs"]
    return None if refs is None else (refs["head_sha"], refs["start_sha"])


def _phase(repo: Path, mr: dict[str, Any], heads: tuple[str, str]) -> str:
    """`preparing`, `checking`, `checked`, `unchecked` or `recheck` for these branch heads."""
    check = mr.get("merge_check")
    if not check:
        return "unchecked"
    done = check["phase"] == "checked" or time.time() >= check["due"]
    if (check["source"], check["target"]) != heads:
        # A push marks it unchecked; one found unmergeable becomes cannot_be_merged_recheck
        # (app/models/merge_request.rb, event mark_as_unchecked).
        try:
            conflicted = done and _mergeability(str(repo), check["target"], check["source"])[1]
        except GitError:
            conflicted = False
        return "recheck" if conflicted else "unchecked"
    return "checked" if done else str(check["phase"])


def shown(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
    """`live`, with `merge_status`, `detailed_merge_status` and `has_conflicts` as GitLab's
    asynchronous check shows them now (it never starts one: see `request_check`)."""
    facts = live(svc, rec, mr)
    facts["prepared"] = prepared(mr)
    heads = _heads(facts)
    phase = "checked" if mr["state"] != "opened" or heads is None else "unchecked"
    if phase == "unchecked" and heads is not None:
        phase = _phase(svc.repo_path(rec), mr, heads)
    if phase == "checked":
        facts["merge_status"] = "cannot_be_merged" if facts["has_conflicts"] else "can_be_merged"
        return facts
    # lib/api/entities/merge_request_basic.rb `public_merge_status`: preparing and
    # rechecking read `checking`; DetailedMergeStatusService answers preparing, checking
    # and unchecked before any other check.
    facts["merge_status"], facts["detailed_merge_status"] = {
        "preparing": ("checking", "preparing"),
        "checking": ("checking", "checking"),
        "recheck": ("cannot_be_merged_recheck", "unchecked"),
    }.get(phase, ("unchecked", "unchecked"))
    facts["has_conflicts"] = False
    return facts


def prepared(mr: dict[str, Any]) -> bool:
    """Whether the MR's preparation (diff, first check) is done: GitLab's `prepared_at`."""
    check = mr.get("merge_check")
    return not (check and check["phase"] == "preparing" and time.time() < check["due"])


def needs_check(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> bool:
    """Whether a request for a check would start one (the MR is open and unchecked)."""
    if mr["state"] != "opened":
        return False
    heads = _heads(live(svc, rec, mr))
    return heads is not None and _phase(svc.repo_path(rec), mr, heads) in ("unchecked", "recheck")


def request_check(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> None:
    """Start the asynchronous check of an unchecked MR (call in a transaction)."""
    heads = _heads(live(svc, rec, mr))
    if heads is not None and needs_check(svc, rec, mr):
        _record(mr, "checking", heads, time.time() + check_seconds(svc))


def start_preparing(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> None:
    """A new MR: `preparing` (its diff, then its first check) for the check's duration."""
    heads = _heads(live(svc, rec, mr))
    if heads is not None:
        _record(mr, "preparing", heads, time.time() + check_seconds(svc))


def check_now(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
    """The synchronous check a merge makes: recorded as done; git's facts returned."""
    facts = live(svc, rec, mr)
    heads = _heads(facts)
    if mr["state"] == "opened" and heads is not None:
        _record(mr, "checked", heads, 0.0)
    return facts


def forget_check(mr: dict[str, Any]) -> None:
    """Mark the MR unchecked (a reopened MR: MergeRequests::ReopenService)."""
    mr.pop("merge_check", None)


def _record(mr: dict[str, Any], phase: str, heads: tuple[str, str], due: float) -> None:
    mr["merge_check"] = {"phase": phase, "source": heads[0], "target": heads[1], "due": due}


def diffs(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> list[dict[str, Any]]:
    """The MR's file changes (from the merge base to the source head), GitLab-shaped."""
    refs = live(svc, rec, mr)["diff_refs"]
    if not refs or not refs["base_sha"]:
        return []
    return gitdiff.diff(svc.repo_path(rec), refs["base_sha"], refs["head_sha"])


def commits(svc: Services, rec: dict[str, Any], mr: dict[str, Any]) -> list[gitrepo.Commit]:
    """The commits the MR brings (source head, not reachable from the base), newest first."""
    refs = live(svc, rec, mr)["diff_refs"]
    if not refs:
        return []
    revs = [refs["head_sha"]] + ([f"^{refs['base_sha']}"] if refs["base_sha"] else [])
    return gitrepo.log(svc.repo_path(rec), revs)
