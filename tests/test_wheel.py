"""What `pip install` gets: the tool's wheel holds the tool and its data, never the
sandbox or the demo; those are the sandbox's own wheel (sandbox/pyproject.toml).

The wheels are built from a copy of the checkout's files (tracked or not, git's
ignored ones aside), as a fresh clone would hold them: a build in place would leave
build/ behind, whose stale files setuptools puts in the next wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# slow: builds the wheel
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not one deleted in the work tree
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def _wheel(source: Path, out: Path) -> set[str]:
    """The names in the wheel `pip wheel` builds from `source`."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _under(names: set[str], prefix: str) -> set[str]:
    return {name for name in names if name.startswith(prefix)}


def _files(root: Path, directory: str) -> set[str]:
    """Every file under `directory` of `root` (dotfiles too), relative to `root`."""
    found = (root / directory).rglob("*")
    return {path.relative_to(root).as_posix() for path in found if path.is_file()}


def test_the_tools_wheel_holds_the_tool_and_its_data_only(checkout: Path, tmp_path: Path) -> None:
    names = _wheel(checkout, tmp_path)
    for package in ("gitops_helper", "jenkins_helpers", "webhook"):
        assert f"{package}/__init__.py" in names
    assert "gitops_helper/cli.py" in names
    assert "gitops_helper/commands/demo.py" in names  # the command: says to install the sandbox
    scripts = {n for n in _files(checkout, "jenkins_helpers/cue") if n.endswith(".js")}
    assert "jenkins_helpers/cue/cue_server.js" in scripts
    assert scripts <= names
    for data in ("deployrepo/scaffold", "deployrepo/schemas", "jenkins_jobs"):
        package_data = _files(checkout, f"jenkins_helpers/{data}")
        assert _under(names, f"jenkins_helpers/{data}/") == package_data
    assert {
        "jenkins_helpers/jenkins_jobs/app-pipeline.xml",
        "jenkins_helpers/jenkins_jobs/promote-env.xml",
    } <= names
    stray = sorted(n for n in names if n.startswith(("gitops_sandbox/", "gitops_demo/")))
    assert not stray, stray
    assert not _under(names, "gitops_helper/demo/")
    tops = {name.split("/")[0] for name in names if "/" in name}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"gitops_helper", "jenkins_helpers", "webhook"}


def test_the_sandboxs_wheel_holds_the_sandbox_and_the_demo(checkout: Path, tmp_path: Path) -> None:
    names = _wheel(checkout / "sandbox", tmp_path)
    assert {"gitops_sandbox/__init__.py", "gitops_sandbox/__main__.py"} <= names
    runner = {n for n in _under(names, "gitops_sandbox/jenkins_runner/") if n.endswith(".groovy")}
    assert {
        "gitops_sandbox/jenkins_runner/RunBuild.groovy",
        "gitops_sandbox/jenkins_runner/PipelineHarness.groovy",
        "gitops_sandbox/jenkins_runner/stubs/hudson/AbortException.groovy",
    } <= runner
    on_disk = _files(checkout / "sandbox", "gitops_sandbox/jenkins_runner")
    assert runner == {name for name in on_disk if name.endswith(".groovy")}
    assert {
        "gitops_demo/__init__.py",
        "gitops_demo/launch.py",
        "gitops_demo/world.py",
        "gitops_demo/Jenkinsfile.example",
    } <= names
    tops = {name.split("/")[0] for name in names if "/" in name}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"gitops_sandbox", "gitops_demo"}
