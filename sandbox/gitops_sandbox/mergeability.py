"""What git says about a merge request now: head, diff refs, conflicts, merge status.

Computed from the branches at the time of asking (GitLab rechecks mergeability
after every push), with `git merge-tree` for conflicts. Pure functions of two
commit ids are cached: commits never change.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from gitops_sandbox import gitdiff, gitrepo
from gitops_sandbox.context import Services
from gitops_sandbox.errors import GitError

DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")


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
    if mr["state"] != "opened":
        status = "not_open"
    elif conflicts:
        status = "conflict"
    elif mr["title"].lower().startswith(DRAFT_PREFIXES):
        status = "draft_status"
    else:
        status = "mergeable"
    return {
        "sha": source,
        "has_conflicts": conflicts and mr["state"] == "opened",
        "detailed_merge_status": status,
        "changes_count": count,
        "diff_refs": {"base_sha": base, "head_sha": source, "start_sha": target},
    }


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
