"""Every git call the sandbox makes on its bare repositories (argument lists, no shell).

The sandbox never checks anything out: it reads with plumbing (`for-each-ref`,
`ls-tree`, `cat-file`, `log`, `diff`) and writes with `merge-tree --write-tree`,
`commit-tree` and `update-ref`, as GitLab's Gitaly does. `update-ref` runs no
receive hooks, which is why the sandbox's own merges pass the protected-branch
hook that refuses every direct push.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_sandbox.errors import GitError

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree
PROTECTED_FILE = "sandbox-protected-branches"

# Variables a calling git (a hook, a test harness) may have set that would point
# our commands at the wrong repository.
_LEAKY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
)

# GitLab's push checks (lib/gitlab/checks/branch_check.rb, `ERROR_MESSAGES`), run by
# each repository's pre-receive hook on the rules `projects.py` writes into
# PROTECTED_FILE whenever protections (or the repository's emptiness) change. The
# rules name who may push, merge and delete, worked out for the sandbox's two users,
# so the hook only compares GL_USERNAME (the pusher, as GitLab's hooks are told) with
# lists. Rule lines, tab-separated: `default <branch>`, `maintainers <users>`,
# `empty <users>` (the repository is empty: every ref counts as protected and only
# these may create one), `say <line>` (what an empty repository's refusal says),
# `protect <pattern> <pushers> <mergers> <allow_force_push 0|1>`; user lists are
# `,name,name,`. Merges through the API do not come through here (update-ref).
_PRE_RECEIVE = f"""#!/bin/sh
# Installed by the GitLab sandbox: GitLab's protected-branch push checks
# (Gitlab::Checks::BranchCheck) on the rules in {PROTECTED_FILE}.
rules={PROTECTED_FILE}
zero={ZERO_SHA}
tab=$(printf '\\t')
me=",${{GL_USERNAME:-}},"
status=0
[ -f "$rules" ] || exit 0
refuse() {{
    printf 'GitLab: %s\\n' "$1" >&2
    status=1
}}
allows() {{
    case "$1" in *"$me"*) [ "$me" != ",," ] ;; *) false ;; esac
}}
while read -r old new ref; do
    branch=${{ref#refs/heads/}}
    [ "$branch" = "$ref" ] && continue
    default= maintainers=, empty=no creators=, matched=no push=no merge=no force=no
    while IFS="$tab" read -r kind a b c d; do
        case "$kind" in
            default) default=$a ;;
            maintainers) maintainers=$a ;;
            empty) empty=yes creators=$a ;;
            protect)
                case "$branch" in
                    $a)
                        matched=yes
                        allows "$b" && push=yes
                        allows "$c" && merge=yes
                        [ "$d" = 1 ] && force=yes
                        ;;
                esac
                ;;
        esac
    done < "$rules"
    if [ "$new" = "$zero" ] && [ "$branch" = "$default" ]; then
        refuse "The default branch of a project cannot be deleted."
        continue
    fi
    [ $matched = yes ] || [ $empty = yes ] || continue
    if [ "$old" != "$zero" ] && [ "$new" != "$zero" ] && [ $force = no ] &&
        ! git merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
        refuse "You are not allowed to force push code to a protected branch on this project."
    elif [ $empty = yes ]; then
        if ! allows "$creators"; then
            sed -n "s/^say$tab//p" "$rules" | while IFS= read -r line; do
                printf 'GitLab: %s\\n' "$line" >&2
            done
            status=1
        fi
    elif [ "$old" = "$zero" ]; then
        if [ $push = no ]; then
            if [ $merge = yes ]; then
                refuse "You can only create protected branches using the web interface and API."
            else
                refuse "You are not allowed to create protected branches on this project."
            fi
        fi
    elif [ "$new" = "$zero" ]; then
        if allows "$maintainers"; then
            refuse "You can only delete protected branches using the web interface."
        else
            refuse "You are not allowed to delete protected branches from this project. \\
Only a project maintainer or owner can delete a protected branch."
        fi
    elif [ $push = no ]; then
        refuse "You are not allowed to push code to protected branches on this project."
    fi
done
exit $status
"""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for git subprocesses: ours, minus repository pointers, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env.update(extra or {})
    return env


def git(
    repo: Path,
    *args: str,
    input_bytes: bytes | None = None,
    ok_codes: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git --git-dir=repo args...`; raise GitError unless the exit code is in `ok_codes`."""
    argv = ["git", f"--git-dir={repo}", *args]
    done = subprocess.run(
        argv, input=input_bytes, capture_output=True, env=clean_env(env), check=False
    )
    if done.returncode not in ok_codes:
        raise GitError(
            f"git failed (exit {done.returncode}): {' '.join(argv)}\n"
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done


def out(repo: Path, *args: str, ok_codes: Sequence[int] = (0,)) -> str:
    """Run git and return its stdout as text."""
    return git(repo, *args, ok_codes=ok_codes).stdout.decode("utf-8", errors="replace")


# ---- repository set-up -------------------------------------------------------------


def init_bare(repo: Path, default_branch: str) -> None:
    """Create a bare repository with the protected-branch hook installed."""
    repo.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(repo)],
        capture_output=True,
        env=clean_env(),
        check=False,
    )
    if done.returncode != 0:
        raise GitError(f"git init --bare {repo} failed: {done.stderr.decode().strip()}")
    git(repo, "config", "http.receivepack", "true")
    write_push_rules(repo, [])


def write_push_rules(repo: Path, rules: Sequence[Sequence[str]]) -> None:
    """Give the pre-receive hook its rules (see `_PRE_RECEIVE`), and the hook itself.

    The hook is rewritten too, so a repository made by an older sandbox gets the
    hook that reads these rules.
    """
    hook = repo / "hooks" / "pre-receive"
    hook.write_text(_PRE_RECEIVE, encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    text = "".join("\t".join(rule) + "\n" for rule in rules)
    (repo / PROTECTED_FILE).write_text(text, encoding="utf-8")


def fetch_all(repo: Path, source: Path) -> None:
    """Copy every branch and tag of `source` into `repo` (seeding: fetch runs no hooks)."""
    git(
        repo,
        "fetch",
        "--quiet",
        "--no-tags",
        str(source),
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
    )


def set_head(repo: Path, branch: str) -> None:
    """Point HEAD (what a clone checks out) at `branch`."""
    git(repo, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


# ---- reading -----------------------------------------------------------------------


def branches(repo: Path) -> dict[str, str]:
    """Every branch name mapped to its head commit."""
    text = out(repo, "for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads/")
    result: dict[str, str] = {}
    for line in text.splitlines():
        ref, _, sha = line.partition("\0")
        result[ref.removeprefix("refs/heads/")] = sha
    return result


def resolve(repo: Path, ref: str) -> str | None:
    """The commit `ref` (branch, tag or sha) names, or None; branches win, as in GitLab."""
    if not ref or ref.startswith("-"):
        return None
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        done = git(
            repo,
            "rev-parse",
            "--verify",
            "--quiet",
            f"{candidate}^{{commit}}",
            ok_codes=(0, 1, 128),
        )
        if done.returncode == 0:
            return done.stdout.decode().strip()
    return None


@dataclass(frozen=True)
class Commit:
    """One commit as `git log` reports it."""

    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_date: str
    committer_name: str
    committer_email: str
    committed_date: str
    message: str


_LOG_FORMAT = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1e"


def log(
    repo: Path,
    revs: Sequence[str],
    *,
    path: str | None = None,
    max_count: int | None = None,
    reverse: bool = False,
    first_parent: bool = False,
    no_walk: bool = False,
    every_ref: bool = False,
    topo: bool = False,
    since: str | None = None,
    until: str | None = None,
    author: str | None = None,
) -> list[Commit]:
    """Commits reachable as `git log revs` lists them (newest first unless `reverse`).

    With `no_walk`, exactly the commits named (one call for many branch tips); with
    `every_ref`, the commits of every ref (`--all`); `topo`, `since`, `until` and
    `author` are git log's `--topo-order`, `--since`, `--until` and `--author`.
    """
    args = ["log", f"--format={_LOG_FORMAT}"]
    if no_walk:
        args.append("--no-walk=unsorted")
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    if reverse:
        args.append("--reverse")
    if first_parent:
        args.append("--first-parent")
    if every_ref:
        args.append("--all")
    if topo:
        args.append("--topo-order")
    args += [f"--{name}={value}" for name, value in _filters(since, until, author)]
    args += [*revs, "--"]
    if path:
        args.append(path)
    commits = []
    for record in out(repo, *args).split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, parents, an, ae, ad, cn, ce, cd, message = record.split("\x1f", 8)
        commits.append(Commit(sha, parents.split(), an, ae, ad, cn, ce, cd, message))
    return commits


def _filters(since: str | None, until: str | None, author: str | None) -> list[tuple[str, str]]:
    given = (("since", since), ("until", until), ("author", author))
    return [(name, value) for name, value in given if value]


def changed_paths(repo: Path, commit: Commit) -> dict[str, list[str]]:
    """The paths a commit adds, modifies and removes against its first parent.

    No rename detection: a moved file is a removal and an addition, so every path a
    receiver may care about shows up by name.
    """
    base = commit.parents[0] if commit.parents else EMPTY_TREE
    text = out(repo, "diff-tree", "-r", "-z", "--no-renames", "--name-status", base, commit.sha)
    fields = [f for f in text.split("\0") if f]
    found: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    kinds = {"A": "added", "D": "removed"}
    for status, path in zip(fields[::2], fields[1::2], strict=True):
        found[kinds.get(status[0], "modified")].append(path)
    return found


def merged_into(repo: Path, sha: str) -> set[str]:
    """The branches whose heads are reachable from `sha` (GitLab's `merged` flag)."""
    text = out(repo, "for-each-ref", f"--merged={sha}", "--format=%(refname)", "refs/heads/")
    return {line.removeprefix("refs/heads/") for line in text.splitlines()}


def ls_tree(repo: Path, commit: str, path: str, recursive: bool) -> list[dict[str, str]]:
    """Entries of the tree at `path` in `commit`, as GitLab's tree API lists them."""
    spec = f"{commit}:{path.strip('/')}" if path.strip("/") else commit
    args = ["ls-tree", "-z", *(["-r", "-t"] if recursive else []), spec]
    done = git(repo, *args, ok_codes=(0, 128))
    if done.returncode != 0:
        return []
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    entries = []
    for entry in done.stdout.decode().split("\0"):
        if not entry:
            continue
        meta, _, name = entry.partition("\t")
        mode, kind, sha = meta.split()
        entries.append(
            {
                "id": sha,
                "name": name.rsplit("/", 1)[-1],
                "type": kind,
                "path": prefix + name,
                "mode": mode,
            }
        )
    return entries


def read_file(repo: Path, commit: str, file_path: str) -> tuple[bytes, str, str] | None:
    """The content, blob id and mode of `file_path` at `commit`, or None if absent."""
    listing = out(repo, "ls-tree", "-z", commit, "--", file_path)
    for entry in listing.split("\0"):
        meta, _, name = entry.partition("\t")
        if name == file_path and meta.split()[1] == "blob":
            mode, _, blob = meta.split()
            return git(repo, "cat-file", "blob", blob).stdout, blob, mode
    return None


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None when they share no history."""
    done = git(repo, "merge-base", a, b, ok_codes=(0, 1))
    return done.stdout.decode().strip() or None


def merge_base_of(repo: Path, shas: Sequence[str]) -> str | None:
    """`git merge-base` of two or more commits (the first against a merge of the rest)."""
    done = git(repo, "merge-base", *shas, ok_codes=(0, 1))
    return done.stdout.decode().strip() or None


def refs_containing(repo: Path, sha: str, prefix: str) -> list[str]:
    """The names of the refs under `prefix` (`refs/heads/`, `refs/tags/`) that contain `sha`."""
    text = out(repo, "for-each-ref", f"--contains={sha}", "--format=%(refname)", prefix)
    return [line.removeprefix(prefix) for line in text.splitlines()]


def read_blob(repo: Path, sha: str) -> bytes | None:
    """The bytes of the blob `sha` names (a full or abbreviated object id), or None."""
    if not re.fullmatch(r"[0-9a-f]{4,40}", sha):
        return None
    kind = git(repo, "cat-file", "-t", sha, ok_codes=(0, 128))
    if kind.returncode != 0 or kind.stdout.strip() != b"blob":
        return None
    return git(repo, "cat-file", "blob", sha).stdout


def blame(repo: Path, commit: str, path: str) -> list[tuple[str, list[str]]]:
    """`git blame` of a file at `commit`: consecutive lines of one commit as (sha, lines)."""
    text = out(repo, "blame", "--porcelain", commit, "--", path)
    ranges: list[tuple[str, list[str]]] = []
    sha = ""
    for line in text.split("\n"):
        if line.startswith("\t"):
            if ranges and ranges[-1][0] == sha:
                ranges[-1][1].append(line[1:])
            else:
                ranges.append((sha, [line[1:]]))
        elif re.match(r"^[0-9a-f]{40} \d+ \d+", line):
            sha = line[:40]
    return ranges


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """Whether `ancestor` is reachable from `descendant`."""
    return (
        git(repo, "merge-base", "--is-ancestor", ancestor, descendant, ok_codes=(0, 1)).returncode
        == 0
    )


# ---- writing -----------------------------------------------------------------------


def merge_tree(repo: Path, ours: str, theirs: str) -> tuple[str | None, list[str]]:
    """Merge two commits without a worktree: (tree, []) or (None, conflicting paths)."""
    done = git(
        repo,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
        ok_codes=(0, 1),
    )
    lines = done.stdout.decode().splitlines()
    if done.returncode == 0:
        return lines[0], []
    return None, sorted(set(lines[1:]))


def commit_tree(
    repo: Path, tree: str, parents: Sequence[str], message: str, identity: dict[str, str]
) -> str:
    """Write a commit object; `identity` holds the GIT_AUTHOR_* / GIT_COMMITTER_* variables."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    done = git(repo, *args, input_bytes=message.encode(), env=identity)
    return done.stdout.decode().strip()


def write_tree(repo: Path, files: dict[str, bytes]) -> str:
    """A tree holding `files` (flat names only: enough for a README)."""
    lines = []
    for name, content in sorted(files.items()):
        blob = git(repo, "hash-object", "-w", "--stdin", input_bytes=content).stdout.decode()
        lines.append(f"100644 blob {blob.strip()}\t{name}\n")
    return git(repo, "mktree", input_bytes="".join(lines).encode()).stdout.decode().strip()


def update_ref(repo: Path, branch: str, new: str, old: str | None = None) -> None:
    """Move (or create) a branch; with `old`, only if it still points there."""
    args = ["update-ref", f"refs/heads/{branch}", new]
    if old is not None:
        args.append(old)
    git(repo, *args)


def delete_branch(repo: Path, branch: str) -> None:
    """Delete a branch (no hook runs: callers check protection themselves)."""
    git(repo, "update-ref", "-d", f"refs/heads/{branch}")


def valid_branch_name(name: str) -> bool:
    """Whether git accepts `name` as a branch name."""
    done = subprocess.run(
        ["git", "check-ref-format", "--branch", name],
        capture_output=True,
        env=clean_env(),
        check=False,
    )
    return done.returncode == 0 and not name.startswith("-")
