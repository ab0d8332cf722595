"""The one module that talks to git (through GitPython).

Network operations authenticate with a GitLab token passed in the environment
(`auth_env`), never in a URL or on the command line, where `ps`, logs and
`.git/config` would keep it. Git errors become UserError with secrets masked.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import git

from jenkins_helpers.errors import BadInput, TransientError, UserError
from jenkins_helpers.secrets import clean_url, mask

DEFAULT_TIMEOUT = 120
# What git prints when the server, not the request, is the problem: worth a retry.
_PASSING = (
    "Could not resolve host",
    "Failed to connect",
    "Connection refused",
    "Connection timed out",
    "returned error: 5",
    "RPC failed",
    "early EOF",
)
# Used only when neither git's config nor the environment gives an identity (a bare CI agent).
FALLBACK_IDENTITY = {"name": "gitops-helper", "email": "gitops-helper@noreply.invalid"}


def _repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
        raise UserError(f"{path} is not a git repository") from e


def init(path: Path, branch: str) -> None:
    """Create a repository at `path` whose first branch is `branch`."""
    git.Repo.init(path, initial_branch=branch)


def commit_all(path: Path, message: str) -> str:
    """Stage every change in the work tree and commit it (with the fallback identity
    where git has none, as `init-repo` on a fresh machine); return the commit id."""
    repo = _repo(path)
    repo.git.add("--all")
    repo.git.commit("--quiet", "--allow-empty", "-m", message, env=_identity_env(repo))
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


# --- network: clone, fetch, push ---------------------------------------------------------


def auth_env(url: str, token: str) -> dict[str, str]:
    """Environment that makes git send `token` to `url`'s server, as GitLab accepts it.

    An `http.<origin>.extraHeader` with basic auth (user oauth2) set through
    GIT_CONFIG_COUNT: nothing on the command line or in `.git/config`, and only for
    that server. Entries the caller's environment already has are kept.
    """
    parts = urlsplit(url)
    origin = urlunsplit((parts.scheme, parts.hostname or "", "/", "", ""))
    if parts.port:
        origin = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", "/", "", ""))
    index = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{origin}.extraHeader",
        f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {basic}",
        "GIT_TERMINAL_PROMPT": "0",  # fail instead of waiting for a password
    }


def network_timeout() -> float:
    """Seconds a git network command may take (GITOPS_GIT_TIMEOUT, default 120).

    A stalled server must not hang a promotion, or a Jenkins agent, forever.
    """
    raw = os.environ.get("GITOPS_GIT_TIMEOUT", "").strip() or str(DEFAULT_TIMEOUT)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise BadInput(
            f"GITOPS_GIT_TIMEOUT must be a number of seconds, got {raw!r}",
            f"unset it for the default ({DEFAULT_TIMEOUT} s), or set e.g. 300",
        )
    return seconds


@contextlib.contextmanager
def _git_errors(what: str, timeout: float | None = None) -> Iterator[None]:
    """Turn a failed git command into a UserError that says what we were doing."""
    try:
        yield
    except git.GitCommandError as e:
        stderr = (e.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
        if timeout is not None and "did not complete in" in stderr:
            raise TransientError(
                mask(f"{what} timed out after {timeout:g} s"),
                "check that GitLab is reachable and answering; GITOPS_GIT_TIMEOUT sets the limit",
            ) from e
        kind = TransientError if any(s in stderr for s in _PASSING) else UserError
        raise kind(mask(f"{what} failed: {stderr or e}")) from e


def _network(runner: git.Git, command: str, *args: str, env: Mapping[str, str], what: str) -> str:
    """Run a git command that talks to the server, with the network timeout."""
    timeout = network_timeout()
    with _git_errors(what, timeout):
        call = getattr(runner, command)
        return str(call(*args, env=dict(env), kill_after_timeout=timeout))


def clone(
    url: str, dest: Path, branch: str, env: Mapping[str, str], sparse: Sequence[str] = ()
) -> None:
    """A shallow clone of only `branch` (the environment branch a promotion targets).

    `sparse`: check out only the files these patterns (.gitignore syntax) match; the
    index still lists every file, so commits and pushes are whole (see `unsparse`).
    A git older than SPARSE_SINCE clones the whole tree instead: slower, same result.
    """
    args = ["--quiet", "--depth=1", "--single-branch", "--no-tags", "--branch", branch]
    sparse = sparse if sparse_supported(_version()) else ()
    if sparse:
        args.append("--sparse")
    what = f"git clone of {clean_url(url)} (branch {branch})"
    _network(git.Git(str(dest.parent)), "clone", *args, "--", url, str(dest), env=env, what=what)
    narrow(dest, sparse)


def narrow(path: Path, sparse: Sequence[str]) -> None:
    """Check out only the files `sparse` matches, as `clone` does (with git >= SPARSE_SINCE;
    an older git keeps the whole tree)."""
    if sparse and sparse_supported(_version()):
        _repo(path).git.sparse_checkout("set", "--no-cone", "--", *sparse)


SPARSE_SINCE = (2, 35)  # `git sparse-checkout set --no-cone`; older git clones whole trees


def sparse_supported(version: tuple[int, ...]) -> bool:
    """Whether a git of `version` makes the sparse clones `clone` asks for."""
    return tuple(version[:2]) >= SPARSE_SINCE


@functools.cache
def _version() -> tuple[int, ...]:
    return tuple(git.Git().version_info)


def is_sparse(path: Path) -> bool:
    """Whether the work tree holds only some of the files (a sparse checkout)."""
    try:
        return str(_repo(path).git.config("--get", "core.sparseCheckout")) == "true"
    except git.GitCommandError:
        return False


def unsparse(path: Path) -> None:
    """Check out every file of a sparse work tree (nothing when it is whole already)."""
    if is_sparse(path):
        _repo(path).git.sparse_checkout("disable")


def tracked_text(path: Path, file: str) -> str | None:
    """The text of `file` as the index has it (checked out or not), or None if untracked."""
    try:
        return str(_repo(path).git.show(f":{file}", strip_newline_in_stdout=False))
    except git.GitCommandError:
        return None


def tracked_files(path: Path, *patterns: str) -> list[str]:
    """Files in the index matching the pathspecs `patterns`, checked out or not."""
    out = str(_repo(path).git.ls_files("-z", "--", *patterns))
    return sorted(name for name in out.split("\0") if name)


def files_containing(path: Path, rev: str, words: Sequence[str], directory: str) -> list[str]:
    """Files under `directory` at `rev` in which one of `words` occurs (as text)."""
    patterns = [arg for word in words for arg in ("-e", word)]
    try:
        out = str(_repo(path).git.grep("-l", "-F", *patterns, rev, "--", directory))
    except git.GitCommandError as e:
        if e.status == 1:  # no match
            return []
        raise
    return sorted(line.removeprefix(f"{rev}:") for line in out.splitlines() if line)


def remote_branch_sha(path: Path, branch: str, env: Mapping[str, str]) -> str | None:
    """The commit `branch` points at on the remote `origin`, or None if it does not exist."""
    out = _network(
        _repo(path).git,
        "ls_remote",
        "origin",
        f"refs/heads/{branch}",
        env=env,
        what=f"git ls-remote (branch {branch})",
    )
    return out.split()[0] if out.strip() else None


def fetch_branch(path: Path, branch: str, env: Mapping[str, str]) -> str:
    """Fetch the tip of `branch` from origin (shallow); return its commit id."""
    ref = f"refs/remotes/origin/{branch}"
    repo = _repo(path)
    _network(
        repo.git,
        "fetch",
        "--depth=1",
        "--no-tags",
        "origin",
        f"+refs/heads/{branch}:{ref}",
        env=env,
        what=f"git fetch (branch {branch})",
    )
    return str(repo.git.rev_parse("--verify", ref))


def push_branch(path: Path, branch: str, expected: str | None, env: Mapping[str, str]) -> None:
    """Push HEAD to `branch`, replacing it only if it is still at `expected` (None: absent).

    --force-with-lease: the branch is ours and regenerated on every run, but a
    concurrent run for the same app must not be overwritten unseen.
    """
    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    try:
        _network(
            _repo(path).git,
            "push",
            "origin",
            lease,
            f"HEAD:refs/heads/{branch}",
            env=env,
            what=f"git push of {branch}",
        )
    except UserError as e:
        if any(word in e.message for word in ("stale info", "fetch first", "rejected")):
            raise TransientError(
                f"branch {branch} changed on the server while this promotion ran",
                "another promotion of the same app and environment ran at the same time; rerun",
            ) from e
        raise


# --- local: changes, commits -------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """One file changed against HEAD, with its line counts (0 and 0 for binary files)."""

    path: str
    status: str  # added, modified or deleted
    added: int
    removed: int


_STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}


def stage_all(path: Path) -> list[FileChange]:
    """Stage every change in the work tree; return what differs from HEAD, by path."""
    repo = _repo(path)
    repo.git.add("--all")
    statuses = {}
    for line in repo.git.diff("--cached", "--no-renames", "--name-status", "HEAD").splitlines():
        code, _, name = line.partition("\t")
        statuses[name] = _STATUS.get(code[:1], "modified")
    changes = []
    for line in repo.git.diff("--cached", "--no-renames", "--numstat", "HEAD").splitlines():
        added, removed, name = line.split("\t", 2)
        changes.append(
            FileChange(
                name,
                statuses.get(name, "modified"),
                int(added) if added.isdigit() else 0,
                int(removed) if removed.isdigit() else 0,
            )
        )
    return sorted(changes, key=lambda c: c.path)


def staged_diff(path: Path, files: list[str]) -> str:
    """The unified diff of the staged `files` against HEAD."""
    repo = _repo(path)
    return str(repo.git.diff("--cached", "--no-color", "--no-renames", "HEAD", "--", *files))


def commit_staged(path: Path, message: str) -> str:
    """Commit what is staged (with a fallback identity on a bare agent); return the commit id.

    The message is kept verbatim: it may carry an MR's text, blank lines and all.
    """
    repo = _repo(path)
    repo.git.commit(
        "--quiet", "--no-verify", "--cleanup=verbatim", "-m", message, env=_identity_env(repo)
    )
    return repo.head.commit.hexsha


def _identity_env(repo: git.Repo) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* for what neither git's config nor the environment sets."""
    env = {}
    for field in ("name", "email"):
        try:
            configured = repo.git.config("--get", f"user.{field}")  # every config source
        except git.GitCommandError:
            configured = ""
        for who in ("AUTHOR", "COMMITTER"):
            if not configured and not os.environ.get(f"GIT_{who}_{field.upper()}"):
                env[f"GIT_{who}_{field.upper()}"] = FALLBACK_IDENTITY[field]
    return env


def deepen(path: Path, depth: int, env: Mapping[str, str]) -> None:
    """Fetch up to `depth` more commits of the checked-out branch's history (a shallow clone)."""
    repo = _repo(path)
    branch = repo.active_branch.name
    _network(
        repo.git,
        "fetch",
        f"--deepen={depth}",
        "origin",
        branch,
        env=env,
        what=f"git fetch of {branch}'s history",
    )


def first_parents(path: Path, rev: str, limit: int, *, merges_only: bool = False) -> list[str]:
    """The commits of `rev`'s first-parent line, newest first (on an environment branch,
    its merges)."""
    args = ["--first-parent", f"--max-count={limit}", *(["--merges"] if merges_only else []), rev]
    return str(_repo(path).git.rev_list(*args)).split()


def is_ancestor(path: Path, older: str, newer: str) -> bool | None:
    """Whether commit `older` is an ancestor of `newer` in the repository at `path`; None
    when git cannot tell (a commit it does not have: a shallow or different clone)."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        try:
            repo.git.merge_base("--is-ancestor", older, newer)
        except git.GitCommandError as e:
            return False if e.status == 1 else None
        return True


def message(path: Path, rev: str) -> str:
    """The full commit message of `rev`, byte for byte (no trailing newline stripped)."""
    return str(_repo(path).commit(rev).message)


def revert_merge(path: Path, sha: str) -> None:
    """Undo merge commit `sha` in the work tree and index (against its first parent)."""
    repo = _repo(path)
    try:
        repo.git.revert("--no-commit", "-m", "1", sha)
    except git.GitCommandError as e:
        repo.git.revert("--abort")
        raise UserError(
            f"cannot revert {sha[:12]}: later changes conflict with it",
            "revert the later merges first, or make the fix by hand in a merge request",
        ) from e
    # Keep the reverted tree but end the revert, so the caller can switch and commit.
    repo.git.revert("--quit")


def file_at(path: Path, rev: str, file: str) -> str | None:
    """The text of `file` at `rev` (a commit or ref), or None when it does not exist there."""
    repo = _repo(path)
    try:
        return str(repo.git.show(f"{rev}:{file}", strip_newline_in_stdout=False))
    except git.GitCommandError:
        return None


class Files:
    """Files at revisions of one repository, read through one `git cat-file --batch`
    process (GitPython's) instead of a `git show` each: a promotion of every app of
    an environment reads three per app and revision. Close it (or use `with`).
    git resolves `rev` on every read, so a commit made meanwhile is seen."""

    def __init__(self, path: Path) -> None:
        self._repo = _repo(path)

    def text(self, rev: str, file: str) -> str | None:
        """The text of `file` at `rev` (as `file_at`), or None when no file is there."""
        try:
            _, kind, _, data = self._repo.git.get_object_data(f"{rev}:{file}")
        except ValueError:  # git answered "missing": no such revision or path
            return None
        blob = kind in (b"blob", "blob")  # bytes, though GitPython's annotation says str
        return data.decode("utf-8") if blob else None

    def close(self) -> None:
        self._repo.close()

    def __enter__(self) -> Files:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def dirty_paths(path: Path) -> list[str]:
    """Files of the work tree that differ from HEAD: changed, added (untracked too), removed."""
    out = str(_repo(path).git.status("--porcelain", "-z", "--untracked-files=all", "--no-renames"))
    return sorted(entry[3:] for entry in out.split("\0") if entry)


def files_at(path: Path, rev: str, directory: str) -> list[str]:
    """The files under `directory` at `rev` (paths relative to the repository)."""
    out = str(_repo(path).git.ls_tree("-r", "--name-only", rev, "--", directory))
    return [line for line in out.splitlines() if line]


def texts_at(path: Path, rev: str, directory: str) -> dict[str, str]:
    """Every file under `directory` at `rev` with its text, read through one git process
    (GitPython's `cat-file --batch`) instead of one `git show` per file."""
    try:
        tree = _repo(path).commit(rev).tree / directory
    except KeyError:
        return {}
    return {
        str(blob.path): blob.data_stream.read().decode("utf-8")
        for blob in tree.traverse()
        if isinstance(blob, git.Blob)
    }


def changed_paths(path: Path, old: str, new: str, paths: Sequence[str]) -> list[str]:
    """Files under `paths` that differ between revisions `old` and `new`."""
    out = str(_repo(path).git.diff("--no-renames", "--name-only", old, new, "--", *paths))
    return sorted(line for line in out.splitlines() if line)


def take_paths(path: Path, rev: str, paths: Sequence[str]) -> None:
    """Make `paths` in the work tree exactly as at `rev`: changed, added and removed files."""
    repo = _repo(path)
    present = [p for p in paths if str(repo.git.ls_tree("--name-only", rev, "--", p)).strip()]
    for gone in paths:
        target = path / gone
        if gone not in present and target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    if present:
        repo.git.rm("-r", "--quiet", "--cached", "--ignore-unmatch", "--", *present)
        for p in present:
            target = path / p
            if target.is_dir():
                shutil.rmtree(target)
        repo.git.checkout(rev, "--", *present)


def reset_to(path: Path, branch: str) -> None:
    """Check out `branch` and throw away every change and untracked file (a fresh start)."""
    repo = _repo(path)
    repo.git.switch("--quiet", "--force", branch)
    repo.git.reset("--quiet", "--hard", "HEAD")
    repo.git.clean("-fdxq")


def head(path: Path) -> str:
    """The commit checked out."""
    return str(_repo(path).head.commit.hexsha)


def staged_tree(path: Path) -> str:
    """The tree object of what is staged, as a commit of it would have (nothing committed)."""
    return str(_repo(path).git.write_tree())


def tree_id(path: Path, rev: str) -> str:
    """The tree object of `rev`: equal trees mean equal content, whatever the history."""
    return str(_repo(path).git.rev_parse("--verify", f"{rev}^{{tree}}"))


def source_of(path: Path) -> tuple[str, str | None]:
    """Where a checkout comes from: origin's URL (credentials removed) or its path; its HEAD.

    A directory outside git gives its absolute path and no commit.
    """
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return str(path.resolve()), None
    with repo:
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:  # a repository without commits
            commit = None
        url = next((r.url for r in repo.remotes if r.name == "origin"), None)
        return (clean_url(url) if url else str(path.resolve())), commit
