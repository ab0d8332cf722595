"""The one place that starts subprocesses: argument lists only, never a shell."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers.errors import UserError
from jenkins_helpers.secrets import mask


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


class CommandFailed(UserError):
    """A subprocess exited non-zero; the message names the command and its output."""


class CommandTimedOut(CommandFailed):
    """A subprocess ran longer than its timeout and was killed."""


Process = subprocess.Popen[bytes]


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Result:
    """Run a command and capture its output; raise CommandFailed when `check` and it fails."""
    argv = [str(a) for a in args]
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise CommandFailed(f"command not found: {argv[0]}") from e
    except subprocess.TimeoutExpired as e:
        raise CommandTimedOut(f"command timed out after {timeout}s: {mask(' '.join(argv))}") from e
    result = Result(done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise CommandFailed(
            mask(
                f"command failed (exit {done.returncode}): {' '.join(argv)}\n"
                f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}"
            )
        )
    return result


def start(
    args: Sequence[str | os.PathLike[str]],
    *,
    output_fd: int,
    pass_fds: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
) -> Process:
    """Start a long-lived process: stdin a pipe, stdout and stderr to `output_fd`, no shell."""
    return subprocess.Popen(
        [str(a) for a in args],
        stdin=subprocess.PIPE,
        stdout=output_fd,
        stderr=output_fd,
        pass_fds=tuple(pass_fds),
        env=None if env is None else {**os.environ, **env},
    )


def exit_code(process: Process, timeout: float) -> int | None:
    """Wait up to `timeout` seconds for `process` to end; its exit code, or None if it runs on."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def call(args: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None) -> int:
    """Run a command attached to our terminal until it ends; return its exit code.

    Ctrl-C reaches the child too (same process group): we keep waiting while it stops.
    """
    argv = [str(a) for a in args]
    try:
        child = subprocess.Popen(argv, env=None if env is None else {**os.environ, **env})
    except FileNotFoundError as e:
        raise CommandFailed(f"command not found: {argv[0]}") from e
    with child:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue


def spawn(
    args: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    output: Path | None = None,
    stdin_pipe: bool = False,
) -> Process:
    """Start a child without waiting for it; its output is ours, or goes to `output`.

    `stdin_pipe`: its stdin a pipe only we write to, so it reads end-of-file when we end."""
    argv = [str(a) for a in args]
    try:
        if output is None:
            stdin = subprocess.PIPE if stdin_pipe else None
            return subprocess.Popen(
                argv, env=None if env is None else {**os.environ, **env}, stdin=stdin
            )
        with output.open("ab") as log:
            return subprocess.Popen(
                argv,
                env=None if env is None else {**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
    except FileNotFoundError as e:
        raise CommandFailed(f"command not found: {argv[0]}") from e


def stop(process: Process, timeout: float = 10.0) -> int:
    """Ask a child to stop (SIGTERM), kill it if it does not; return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
