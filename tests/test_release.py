"""A release's version is written once, in jenkins_helpers/__init__.py: the package's
metadata takes it from there, the steps of vars/ pin it, and the changelog names it.
(tests/test_wheel.py builds and installs the release itself.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from jenkins_helpers import __version__

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "resources" / "jenkins-gitops-helpers" / "requirements.txt"


def test_the_package_takes_its_version_from_the_code() -> None:
    """No second copy in pyproject.toml that a release could forget to bump."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "jenkins_helpers.__version__"}


def test_the_steps_pin_the_cli_of_their_own_version() -> None:
    """A library tag installs the CLI released with it (vars/gitopsHelperCli.groovy)."""
    pins = re.findall(r"^jenkins-gitops-helpers==(\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert pins == [__version__]


def test_the_changelog_names_the_version() -> None:
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[:2] == ["Unreleased", __version__]
