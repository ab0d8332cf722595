"""Diffs as GitLab's API shows them: one object per file, `diff` from the first hunk.

Built from two `git diff` runs over the same range (a `--raw -z` listing for
paths, modes and status; the patch for the text), which list files in the same
order.
"""

from __future__ import annotations

from pathlib import Path

from gitops_sandbox.gitrepo import out

# Gitlab::Git::Diff::SIZE_LIMIT: a file's diff above this is `too_large` and sent empty.
SIZE_LIMIT = 100 * 1024


def diff(repo: Path, base: str, head: str) -> list[dict[str, object]]:
    """The changes from `base` to `head` as GitLab's diff objects (one per file)."""
    raw = out(repo, "diff", "--raw", "-z", "-M", "--no-abbrev", base, head)
    fields = raw.split("\0")
    entries: list[tuple[str, str, str, str, str]] = []
    i = 0
    while i < len(fields) - 1:
        meta = fields[i].lstrip(":").split()
        status = meta[4]
        if status.startswith(("R", "C")):
            old, new = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old = new = fields[i + 1]
            i += 2
        entries.append((meta[0], meta[1], status[0], old, new))
    patch = out(repo, "diff", "-M", "--no-color", "--no-ext-diff", base, head)
    chunks = _split_patch(patch)
    result: list[dict[str, object]] = []
    for index, (a_mode, b_mode, status, old, new) in enumerate(entries):
        text = chunks[index] if index < len(chunks) else ""
        too_large = len(text.encode()) > SIZE_LIMIT
        result.append(
            {
                "old_path": old,
                "new_path": new,
                "a_mode": "0" if status == "A" else a_mode,
                "b_mode": "0" if status == "D" else b_mode,
                "new_file": status == "A",
                "renamed_file": status == "R",
                "deleted_file": status == "D",
                "generated_file": False,
                # The API asks for expanded diffs, so only a too large one is cut.
                "collapsed": False,
                "too_large": too_large,
                "diff": "" if too_large else text,
            }
        )
    return result


def stats(repo: Path, base: str, head: str) -> dict[str, int]:
    """Lines added and deleted from `base` to `head` (a commit's `stats`; binaries count 0)."""
    additions = deletions = 0
    for line in out(repo, "diff", "--numstat", "--no-renames", base, head).splitlines():
        added, deleted, _ = line.split("\t", 2)
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    return {"additions": additions, "deletions": deletions, "total": additions + deletions}


def _split_patch(patch: str) -> list[str]:
    """Cut a `git diff` patch per file, keeping from the first `@@` (GitLab's `diff` field)."""
    chunks: list[str] = []
    current: list[str] | None = None
    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git "):
            if current is not None:
                chunks.append(_hunks(current))
            current = []
        elif current is not None:
            current.append(line)
    if current is not None:
        chunks.append(_hunks(current))
    return chunks


def _hunks(lines: list[str]) -> str:
    for i, line in enumerate(lines):
        if line.startswith("@@"):
            return "".join(lines[i:])
        if line.startswith("Binary files"):
            return ""
    return ""
