"""The version gate: a `cue` binary that mis-evaluates our layer, or is too old, is refused.

The fakes are small executables printing what `cue version` prints (its real wire
format); nothing here needs a real `cue`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jenkins_helpers import cue
from jenkins_helpers.cue import selection, versions
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.errors import BadInput

REAL_OUTPUT = """\
cue version {version}

go version go1.27.3
      -buildmode exe
       -compiler gc
"""


def fake_cue(directory: Path, first_line: str, count_to: Path | None = None) -> Path:
    """An executable `cue` in `directory` whose `cue version` prints `first_line` first."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "cue"
    count = f'echo . >> "{count_to}"\n' if count_to else ""
    body = REAL_OUTPUT.replace("cue version {version}", first_line)
    exe.write_text(f"#!/bin/sh\n{count}cat <<'EOF'\n{body}EOF\n")
    exe.chmod(0o755)
    return exe


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first on PATH; CUE_BIN and GITOPS_CUE_ENGINE unset (automatic choice)."""
    directory = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUE_BIN", raising=False)
    monkeypatch.delenv("GITOPS_CUE_ENGINE", raising=False)
    monkeypatch.setattr(selection, "tool_bin_dir", lambda: tmp_path / "venv-bin")
    return directory


@pytest.mark.parametrize("version", ["v0.17.1", "v0.17.2", "v0.18.0-rc.1", "v1.0.0+dirty"])
def test_a_supported_binary_is_used(on_path: Path, version: str) -> None:
    fake_cue(on_path, f"cue version {version}")
    engine = cue.create_engine()
    assert isinstance(engine, BinaryEngine)
    assert engine.cue_bin == str(on_path / "cue")


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("v0.15.4", "is known to mis-evaluate our platform layer: CUE v0.15.x drops the probe"),
        ("v0.15.0", "is known to mis-evaluate our platform layer: CUE v0.15.x drops the probe"),
        ("v0.16.1", "is older than v0.17.1, the oldest version tested"),
        ("v0.17.1-rc.2", "is older than v0.17.1, the oldest version tested"),
        ("v0.4.3 linux/amd64", "is older than v0.17.1, the oldest version tested"),
    ],
)
def test_an_unsupported_binary_is_refused_with_the_supported_range(
    on_path: Path, version: str, why: str
) -> None:
    exe = fake_cue(on_path, f"cue version {version}")
    with pytest.raises(BadInput) as refused:
        cue.create_engine()
    shown = version.split()[0]
    assert refused.value.message.startswith(f"the cue binary {exe} ({shown}) {why}")
    assert refused.value.message.endswith(
        "; supported: cue v0.17.1 or newer, or the embedded engine (CUE v0.4)"
    )
    assert refused.value.exit_code == 2
    assert "CUE_BIN" in (refused.value.hint or "")
    assert "GITOPS_CUE_ENGINE=wasm" in (refused.value.hint or "")


@pytest.mark.parametrize("first_line", ["cue version (devel)", "cue: unknown command", ""])
def test_a_binary_of_unknown_version_is_refused(on_path: Path, first_line: str) -> None:
    fake_cue(on_path, first_line)
    with pytest.raises(BadInput, match=r"cannot tell which CUE version .* is \(`cue version` said"):
        cue.create_engine()


def test_the_embedded_engine_needs_no_binary_check(
    on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cue(on_path, "cue version v0.15.4")
    monkeypatch.setenv("GITOPS_CUE_ENGINE", "wasm")
    engine = cue.create_engine()
    assert engine.name == "wasm"
    engine.close()


def test_cue_version_runs_once_per_binary(on_path: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake_cue(on_path, "cue version v0.17.1", count_to=calls)
    for _ in range(3):
        cue.create_engine()
    assert calls.read_text() == ".\n"


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("v0.17.1-rc.1", "v0.17.1"),
        ("v0.17.1-alpha.2", "v0.17.1-alpha.10"),
        ("v0.17.1-rc.1", "v0.17.1-rc.beta"),
        ("v0.9.9", "v0.17.0"),
    ],
)
def test_versions_order_as_semver(older: str, newer: str) -> None:
    low, high = versions.parse(older), versions.parse(newer)
    assert low is not None and high is not None
    assert low < high and not high < low


def test_the_command_line_exits_2_and_says_why(on_path: Path, dev: Path) -> None:
    """What a user sees: `render` refuses before touching anything."""
    exe = fake_cue(on_path, "cue version v0.15.4")
    before = (dev / "manifests/dev/example-app/deployment-example-app.yaml").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "render", "--repo", str(dev)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        f"error: the cue binary {exe} (v0.15.4) is known to mis-evaluate our platform layer"
    )
    assert "hint: install cue v0.17.1 or newer" in done.stderr
    after = (dev / "manifests/dev/example-app/deployment-example-app.yaml").read_text()
    assert after == before
