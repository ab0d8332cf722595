"""One module per external system (STYLE.md): checked here rather than by memory."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jenkins_helpers"
# Third-party package -> the one module (relative to jenkins_helpers/) allowed to import it.
OWNERS = {"gitlab": "gitlab_api.py", "git": "git.py", "click": "cli.py"}


def _imported_packages(path: Path) -> set[str]:
    """Top-level names of the absolute imports in `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(OWNERS))
def test_only_the_owner_imports_the_package(package: str) -> None:
    importers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if package in _imported_packages(path)
    )
    assert importers in ([], [OWNERS[package]])
