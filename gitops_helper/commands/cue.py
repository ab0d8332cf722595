"""`gitops-helper cue ARGS`: the cue CLI, on whichever engine the tool uses.

Error hints tell users to rerun a CUE command to see CUE's own output; this makes
those hints work on a machine with only the embedded engine (no `cue` binary).
"""

from __future__ import annotations

from pathlib import Path

from gitops_helper.commands import Printer
from jenkins_helpers.cue import get_engine


def run(args: list[str], out: Printer) -> int:
    """Run `cue ARGS` in the current directory; print its output; return its exit code."""
    code, stdout, stderr = get_engine().run(args, Path.cwd())
    if stdout:
        out(stdout.rstrip("\n"))
    if stderr:
        out(stderr.rstrip("\n"), err=True)
    return code
