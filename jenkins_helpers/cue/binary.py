"""The `cue` executable as an engine: one process per call, several at once when asked."""

from __future__ import annotations

from pathlib import Path

from jenkins_helpers import proc
from jenkins_helpers.cue.engine import DEFAULT_WORKERS, CueEngine, CueError, CueTimeout, shown


class BinaryEngine(CueEngine):
    """The `cue` executable, one process per call."""

    name = "binary"

    def __init__(self, cue_bin: str, concurrency: int = DEFAULT_WORKERS) -> None:
        super().__init__(concurrency)
        self.cue_bin = cue_bin

    def _run(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
        try:
            result = proc.run([self.cue_bin, *args], cwd=cwd, timeout=timeout, check=False)
        except proc.CommandFailed as e:
            if isinstance(e, proc.CommandTimedOut):
                raise CueTimeout(
                    f"CUE evaluation timed out after {timeout:g}s: {shown(args)} (in {cwd})"
                ) from e
            raise CueError(e.message, hint="check CUE_BIN or the cue on PATH") from e
        return result.returncode, result.stdout, result.stderr
