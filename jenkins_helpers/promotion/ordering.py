"""Versions move forward: whether a build may replace the version a pending MR proposes.

A late build of an older version (a slow pipeline, a re-run of an old commit) must
not take a pending MR back: E3 says pending MRs move to the newest version, and a
reviewer approving the newest one must merge the newest one. Going back is an
operator's explicit act (`rollback`, `revert`, `set`), never a side effect.

Older means, in this order: by SemVer when both image tags are versions (`1.4.2`,
`v2.0.0-rc.1`); else by the app repository's history, when both builds name a
commit and the new one is an ancestor of the pending one's. Otherwise the two
cannot be ordered and the newer build wins, as it always did.
"""

from __future__ import annotations

from pathlib import Path

from jenkins_helpers import git, semver


def older_than_pending(
    tag: str,
    commit: str | None,
    pending_tag: str,
    pending_commit: str | None,
    app_repo: Path,
) -> str | None:
    """Why the build `tag` (at `commit`) is older than the pending one; None if it is not."""
    if semver.parse(tag) is not None and semver.parse(pending_tag) is not None:
        return f"{tag} is older than {pending_tag}" if semver.older(tag, pending_tag) else None
    ancestor = (
        commit is not None
        and pending_commit is not None
        and commit != pending_commit
        and git.is_ancestor(app_repo, commit, pending_commit)
    )
    if ancestor:
        return (
            f"its commit {commit} is an ancestor of {pending_commit}, the commit of {pending_tag}"
        )
    return None
