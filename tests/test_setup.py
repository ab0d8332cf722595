"""The Makefile's set-up of the current cue: built with Go where it can be, else a line
saying why and everything on the embedded engine (`make demo` included).

Set-up runs here against a scratch venv (`make VENV=...`), so the checkout's own
venv, which the rest of the suite uses, is never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from jenkins_helpers.cue import versions

# slow: runs make itself
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FALLBACK = "; CUE runs on the embedded engine (CUE v0.4 as WASM)"


def cue_version_in_makefile() -> str:
    found = re.search(r"^CUE_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found is not None, "the Makefile pins no CUE_VERSION"
    return found[1]


def path_without(*programs: str) -> str:
    """PATH without the directories that hold any of `programs`."""
    kept = [
        entry
        for entry in os.environ["PATH"].split(os.pathsep)
        if entry and not any(os.access(Path(entry, p), os.X_OK) for p in programs)
    ]
    return os.pathsep.join(kept)


def make(
    venv: Path, *targets: str, path: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # As a user's shell would be: no engine chosen by this test run (conftest.py).
    env = {k: v for k, v in os.environ.items() if k not in ("CUE_BIN", "GITOPS_CUE_ENGINE")}
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", *targets],
        cwd=ROOT,
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def cue_stamp(venv: Path) -> str:
    return f"{venv}/.stamps/cue-{cue_version_in_makefile()}"


def test_the_makefile_builds_the_oldest_supported_cue() -> None:
    """The cue set-up builds is the one the tool accepts as its oldest (versions.py)."""
    assert cue_version_in_makefile() == str(versions.OLDEST)


def test_without_go_set_up_says_so_in_one_line_and_builds_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    done = make(venv, cue_stamp(venv), path=path_without("go", "cue"))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("== set-up")]
    assert lines == [
        f"== set-up: no Go toolchain on PATH, so cue {versions.OLDEST} is not built{FALLBACK}"
    ]
    assert not (venv / "bin" / "cue").exists()
    assert not Path(cue_stamp(venv)).exists(), "a later run with Go must still build it"


def test_a_go_older_than_cue_needs_is_named(tmp_path: Path) -> None:
    old = tmp_path / "old-go"
    old.mkdir()
    # What `go env GOVERSION` prints for Go 1.24 (a release older than cue's go.mod asks).
    (old / "go").write_text("#!/bin/sh\necho go1.24.3\n")
    (old / "go").chmod(0o755)
    venv = tmp_path / "venv"
    path = os.pathsep.join([str(old), path_without("go", "cue")])
    done = make(venv, cue_stamp(venv), path=path)
    assert done.returncode == 0, done.stderr
    assert (
        f"== set-up: go1.24.3 is older than go1.25, which cue {versions.OLDEST} needs, "
        f"so it is not built{FALLBACK}"
    ) in done.stdout
    assert not (venv / "bin" / "cue").exists()


def test_make_demo_without_go_runs_on_the_embedded_engine(tmp_path: Path) -> None:
    """`make demo` where set-up could not build cue: the use cases pass on CUE v0.4.

    The scratch venv is what set-up leaves on a machine without Go: the tool
    installed (here: this venv's packages, through a .pth file) and no cue beside it.
    """
    venv = scratch_venv(tmp_path / "venv")
    done = make(
        venv,
        "demo",
        "USE_CASES=E1",
        path=path_without("go", "cue"),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"not built{FALLBACK}" in done.stdout
    assert "CUE engine: the embedded CUE v0.4" in done.stdout
    assert re.search(r"^E1 +PASS", done.stdout, re.MULTILINE)
    assert "1 passed, 0 failed" in done.stdout


def scratch_venv(venv: Path) -> Path:
    """A venv that imports this one's packages, with set-up's other steps marked done."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_path("purelib")
    Path(purelib, "test-tool.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    script = venv / "bin" / "gitops-helper"
    script.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom gitops_helper.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    stamps = venv / ".stamps"
    stamps.mkdir()
    for done in ("python", "node", "groovy"):
        (stamps / done).touch()
    return venv


@pytest.fixture(autouse=True)
def _no_make_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `make test` running this suite passes its MAKEFLAGS down: not to these makes."""
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        monkeypatch.delenv(name, raising=False)
