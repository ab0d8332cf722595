"""The `cue` executable as an engine: one process per call, at most `concurrency` at once.

Like the WASM engine's pool of workers, so that a batched render (render.py) keeps
the machine's cores busy without running a batch's worth of memory per thread.

  GITOPS_CUE_GOGC   the GOGC each cue process runs with (engine.py; default 400).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from jenkins_helpers import proc
from jenkins_helpers.cue import versions
from jenkins_helpers.cue.engine import (
    DEFAULT_WORKERS,
    CueEngine,
    CueError,
    CueTimeout,
    gogc_from_env,
    shown,
)


class BinaryEngine(CueEngine):
    """The `cue` executable, one process per call."""

    name = "binary"

    def __init__(self, cue_bin: str, concurrency: int = DEFAULT_WORKERS) -> None:
        super().__init__(concurrency)
        self.cue_bin = cue_bin
        self._slots = threading.BoundedSemaphore(self.concurrency)

    @property
    def description(self) -> str:
        return f"cue {versions.require_supported(self.cue_bin)} ({self.cue_bin})"

    @property
    def identity(self) -> str:
        # A binary replaced in place has another size or mtime, and says its version.
        real = os.path.realpath(self.cue_bin)
        stat = os.stat(real)
        version = versions.require_supported(real)
        return f"binary {real} {stat.st_size} {stat.st_mtime_ns} {version}"

    def _run(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
        try:
            with self._slots:
                result = proc.run(
                    [self.cue_bin, *args],
                    cwd=cwd,
                    env={"GOGC": gogc_from_env()},
                    timeout=timeout,
                    check=False,
                )
        except proc.CommandFailed as e:
            if isinstance(e, proc.CommandTimedOut):
                raise CueTimeout(
                    f"CUE evaluation timed out after {timeout:g}s: {shown(args)} (in {cwd})"
                ) from e
            raise CueError(e.message, hint="check CUE_BIN or the cue on PATH") from e
        return result.returncode, result.stdout, result.stderr
