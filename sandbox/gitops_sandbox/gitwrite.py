"""Writing a commit without a work tree: a temporary index, then `commit-tree`.

What GitLab's Gitaly does for `UserCommitFiles` (the commits and files APIs):
start from a commit's tree, apply each file action in order, write the tree,
commit it on top of the start commit. The actions are checked against the
files as they stand after the previous ones; the messages are Gitaly's
(`IndexError`: "A file with this name already exists", ...).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_sandbox import gitrepo
from gitops_sandbox.errors import bad_request

REGULAR, EXECUTABLE = "100644", "100755"


@dataclass
class Action:
    """One file action of `POST .../repository/commits` (and of the files API)."""

    action: str  # create, update, delete, move, chmod
    file_path: str
    content: bytes | None = None
    previous_path: str | None = None
    execute_filemode: bool | None = None
    last_commit_id: str | None = None  # refuse if the file changed since this commit


def _check_path(path: str) -> None:
    if not path:
        raise bad_request("You must provide a file path")
    if ".." in path.split("/"):
        raise bad_request("Path cannot include directory traversal")


def _listing(repo: Path, commit: str | None) -> dict[str, tuple[str, str]]:
    """Every file of a commit: path -> (mode, blob)."""
    if commit is None:
        return {}
    text = gitrepo.out(repo, "ls-tree", "-r", "-z", commit)
    files = {}
    for entry in text.split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            mode, _kind, blob = meta.split()
            files[path] = (mode, blob)
    return files


def apply(repo: Path, files: dict[str, tuple[str, str]], act: Action) -> None:
    """Apply one action to `files` (writing new blobs), or raise GitLab's 400."""
    _check_path(act.file_path)
    path = act.file_path
    if act.action in ("create", "move"):
        parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
        if path in files or any(p in files for p in parents):
            raise bad_request("A file with this name already exists")
        if any(p.startswith(f"{path}/") for p in files):
            raise bad_request("A directory with this name already exists")
    source = act.previous_path if act.action == "move" else path
    if act.action != "create":
        _check_path(source or "")
        if source not in files:
            raise bad_request("A file with this name doesn't exist")
    old_mode, old_blob = files.get(source or path, (REGULAR, ""))
    if act.action in ("delete", "move"):
        del files[str(source)]
    if act.action == "delete":
        return
    blob = old_blob
    if act.content is not None:
        blob = gitrepo.git(repo, "hash-object", "-w", "--stdin", input_bytes=act.content)
        blob = blob.stdout.decode().strip()
    mode = old_mode if act.action != "create" else REGULAR
    if act.execute_filemode is not None:
        mode = EXECUTABLE if act.execute_filemode else REGULAR
    files[path] = (mode, blob)


def commit_files(
    repo: Path,
    start: str | None,
    actions: Sequence[Action],
    message: str,
    identity: dict[str, str],
) -> str:
    """A new commit on top of `start` (None: a root commit) with `actions` applied."""
    files = _listing(repo, start)
    for act in actions:
        apply(repo, files, act)
    with tempfile.TemporaryDirectory(prefix="sandbox-index-") as tmp:
        env = {**identity, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        listing = "".join(f"{mode} {blob}\t{path}\0" for path, (mode, blob) in files.items())
        gitrepo.git(
            repo, "update-index", "-z", "--index-info", input_bytes=listing.encode(), env=env
        )
        tree = gitrepo.git(repo, "write-tree", env=env).stdout.decode().strip()
    parents = [start] if start else []
    return gitrepo.commit_tree(repo, tree, parents, message, identity)
