"""Which `cue` binaries the tool runs: `cue version` is read once, the wrong ones refused.

A `cue` that evaluates our platform layer wrongly renders wrong manifests without
any error: CUE v0.15.4 silently drops the probe handlers `platform/app.cue` merges,
and `validate` cannot notice. So a binary is accepted only from the oldest release
the test suite runs on (OLDEST), and never from a series known to mis-evaluate
(KNOWN_BAD), with a message that says which versions are supported. The embedded
engine (CUE v0.4 as WASM) is pinned and tested; it needs no check.
"""

from __future__ import annotations

import functools
import os
import re

from jenkins_helpers import proc, semver
from jenkins_helpers.errors import BadInput
from jenkins_helpers.semver import Version

# Release series (major, minor) known to render our layer wrongly, and how.
KNOWN_BAD = {
    (0, 15): "drops the probe handlers that platform/app.cue merges (a CUE bug, fixed later)",
}
# `cue version v0.17.1` on the first line (older releases add ` linux/amd64`).
_FIRST_LINE = re.compile(r"cue version (?P<version>\S+)")
# The only `cue` release the suite runs on besides the embedded v0.4 (.ci/run installs it).
OLDEST = Version(0, 17, 1)
SUPPORTED = f"cue {OLDEST} or newer, or the embedded engine (CUE v0.4)"
HINT = (
    f"install cue {OLDEST} or newer (`go install cuelang.org/go/cmd/cue@{OLDEST}`) and put it "
    "on PATH or in CUE_BIN, or set GITOPS_CUE_ENGINE=wasm to use the embedded engine"
)


def parse(text: str) -> Version | None:
    """`v0.17.1` (or `v0.18.0-rc.1`) as a Version; None for anything else, e.g. `(devel)`."""
    return semver.parse(text, v_prefix=True)


def problem(version: Version) -> str | None:
    """Why `version` must not be used, or None when it is supported."""
    bad = KNOWN_BAD.get((version.major, version.minor))
    if bad is not None:
        series = f"v{version.major}.{version.minor}.x"
        return f"is known to mis-evaluate our platform layer: CUE {series} {bad}"
    if version < OLDEST:
        return f"is older than {OLDEST}, the oldest version tested"
    return None


def require_supported(cue_bin: str) -> Version:
    """The version of `cue_bin`; BadInput (exit 2) when it is not a supported one."""
    stat = os.stat(cue_bin)
    return _checked(cue_bin, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _checked(cue_bin: str, mtime_ns: int, size: int) -> Version:
    # Cached per binary (and its mtime and size: a replaced binary is read again), so a
    # process that creates several engines runs `cue version` once.
    try:
        done = proc.run([cue_bin, "version"], timeout=30, check=False)
    except proc.CommandFailed as e:
        raise BadInput(f"cannot run `{cue_bin} version`: {e.message}", hint=HINT) from e
    first = (done.stdout.strip().splitlines() or [""])[0]
    match = _FIRST_LINE.match(first)
    version = parse(match["version"]) if match else None
    if done.returncode != 0 or version is None:
        said = first or done.stderr.strip()[:200] or f"exit code {done.returncode}"
        raise BadInput(
            f"cannot tell which CUE version {cue_bin} is (`cue version` said: {said}); "
            f"supported: {SUPPORTED}",
            hint=HINT,
        )
    why = problem(version)
    if why is not None:
        raise BadInput(
            f"the cue binary {cue_bin} ({version}) {why}; supported: {SUPPORTED}", hint=HINT
        )
    return version
