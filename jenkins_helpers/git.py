"""The one module that talks to git (through GitPython)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import git

from jenkins_helpers.errors import UserError


def _repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise UserError(f"{path} is not a git repository") from e


def init(path: Path, branch: str) -> None:
    """Create a repository at `path` whose first branch is `branch`."""
    git.Repo.init(path, initial_branch=branch)


def commit_all(path: Path, message: str) -> str:
    """Stage every change in the work tree and commit it; return the commit id."""
    repo = _repo(path)
    repo.git.add("--all")
    repo.git.commit("--quiet", "--allow-empty", "-m", message)
    return repo.head.commit.hexsha


def switch(path: Path, branch: str, *, create_from: str | None = None) -> None:
    """Check out `branch`, creating it from `create_from` when given."""
    repo = _repo(path)
    if create_from is None:
        repo.git.switch("--quiet", branch)
    else:
        repo.git.switch("--quiet", "-c", branch, create_from)


def current_branch(path: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    repo = _repo(path)
    return None if repo.head.is_detached else repo.active_branch.name


def has_branch(path: Path, branch: str) -> bool:
    """Whether a local branch `branch` exists."""
    return branch in [head.name for head in _repo(path).heads]


@contextlib.contextmanager
def worktree(path: Path, branch: str) -> Iterator[Path]:
    """A temporary, detached work tree of `branch`, removed afterwards."""
    repo = _repo(path)
    tmp = Path(tempfile.mkdtemp(prefix=f"gitops-{branch.replace('/', '-')}-"))
    target = tmp / "tree"
    try:
        repo.git.worktree("add", "--quiet", "--detach", str(target), branch)
        yield target
    finally:
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("remove", "--force", str(target))
        shutil.rmtree(tmp, ignore_errors=True)
