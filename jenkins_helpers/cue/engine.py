"""What every CUE engine does: `cue export` and `cue vet`, with errors as CueError.

Callers pass what they would pass to the cue CLI, so a user can always rerun the
same command (`gitops-helper cue ...` runs it on whichever engine is in use).
"""

from __future__ import annotations

import abc
import json
import os
import shlex
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jenkins_helpers.cue.cache import EvaluationCache
from jenkins_helpers.errors import UserError

# How many evaluations an engine runs at once: node workers of the WASM engine, cue
# processes of the binary for a batched render (GITOPS_CUE_WORKERS; our machines have 2 cores).
DEFAULT_WORKERS = 2
# Go's GC target for both engines (GITOPS_CUE_GOGC): 400 made a 300-app export under
# WASM about 20% faster than Go's 100, and a 100-app batch of the binary about 17% less
# CPU, for 15% more peak memory; "off" never collects (faster, memory unbounded).
DEFAULT_GOGC = "400"


def gogc_from_env() -> str:
    """GITOPS_CUE_GOGC, passed as it is: the Go runtime ignores a value it cannot read."""
    return os.environ.get("GITOPS_CUE_GOGC", "").strip() or DEFAULT_GOGC


class CueError(UserError):
    """CUE rejected the input, or the engine failed; `.message` carries CUE's own text."""


class CueTimeout(CueError):
    """An evaluation ran longer than its timeout and was stopped."""


def shown(args: Sequence[str]) -> str:
    """`cue ARGS`, as messages name the command that failed."""
    return "cue " + " ".join(args)


def command_text(args: Sequence[str]) -> str:
    """`gitops-helper cue ARGS`: the command a user reruns to see CUE's own output.

    It runs on whichever engine is in use, so it works where no `cue` binary is installed.
    """
    return "gitops-helper cue " + " ".join(shlex.quote(a) for a in args)


class CueEngine(abc.ABC):
    """Runs `cue export` / `cue vet`; subclasses only know how to run one command."""

    name: str

    def __init__(self, concurrency: int = 1) -> None:
        # Evaluations worth running at once (render.evaluate spreads batches over them).
        self.concurrency = max(1, concurrency)
        self.calls = 0  # evaluations run (a cache hit runs none)
        self.cache_hits = 0
        self._calls_lock = threading.Lock()
        # Set by create_engine from the settings (cache.py); an engine made directly has none.
        self.cache: EvaluationCache | None = None

    def export(
        self,
        targets: Sequence[str],
        *,
        cwd: Path,
        expression: str | None = None,
        timeout: float = 120.0,
    ) -> Any:
        """Return the parsed JSON of `cue export --out json [-e expression] targets...`."""
        args = ["export", "--out", "json"]
        if expression is not None:
            args += ["-e", expression]
        args += list(targets)
        stdout = self._evaluate(args, cwd, timeout)
        try:
            return json.loads(stdout)
        except json.JSONDecodeError as e:
            # Never hand back part of a result: a cut export once rendered 6 of 10 apps.
            raise CueError(
                f"`{shown(args)}` printed invalid JSON ({len(stdout)} characters): {e}",
                hint=f"run `{command_text(args)}` in {cwd} to see its output",
            ) from e

    def vet(
        self,
        targets: Sequence[str],
        *,
        cwd: Path,
        concrete: bool = True,
        timeout: float = 120.0,
    ) -> None:
        """Run `cue vet -c targets...` (`-c=false` unless `concrete`); raise CueError on failure."""
        # Plain `cue vet` fails on incomplete values ("some instances are incomplete"),
        # in v0.4 as in current CUE; `-c=false` is how both allow them.
        args = ["vet", "-c" if concrete else "-c=false", *targets]
        self._evaluate(args, cwd, timeout)

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Which CUE this is, for people: version and where it runs from."""

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """Everything about the engine that can change a result (the cache's key)."""

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing here
        """Release the engine's processes; a later call starts them again."""

    def _evaluate(self, args: list[str], cwd: Path, timeout: float) -> str:
        """Run it (or take it from the cache), and turn a failure into a CueError; return stdout."""
        cwd = Path(cwd).resolve()
        if not cwd.is_dir():
            raise CueError(f"cannot run `{shown(args)}`: directory not found: {cwd}")
        cache = self.cache
        key = cache.key(self.identity, args, cwd) if cache is not None else None
        if cache is not None and key is not None:
            cached = cache.get(key)
            if cached is not None:
                with self._calls_lock:
                    self.cache_hits += 1
                return cached
        with self._calls_lock:
            self.calls += 1
        code, stdout, stderr = self._run(args, cwd, timeout)
        if cache is not None and key is not None and code == 0:
            cache.put(key, stdout)
        if code != 0:
            details = stderr.strip() or stdout.strip() or f"exit code {code}"
            raise CueError(
                f"CUE evaluation failed: {shown(args)}\n{details}",
                hint=f"to reproduce, run `{command_text(args)}` in {cwd}",
            )
        return stdout

    def run(self, args: Sequence[str], cwd: Path, timeout: float = 600.0) -> tuple[int, str, str]:
        """Run any `cue` command as the CLI would; (exit code, stdout, stderr), never raising
        for CUE's own failures."""
        return self._run(list(args), Path(cwd).resolve(), timeout)

    @abc.abstractmethod
    def _run(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
        """Run `cue <args>` in `cwd`; return (exit code, stdout, stderr)."""
