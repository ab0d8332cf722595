"""Import boundaries (docs/ARCHITECTURE.md, "Modules"), checked here rather than by memory.

One module per external system: only that module imports the library that talks
to it. The sandbox stands in for GitLab and Jenkins, so it and the tool never
import each other: a test passing against the sandbox proves the tool's real path.
The sandbox and the demo are a distribution of their own (sandbox/pyproject.toml):
the demo imports the library and the webhook, never the command line above it, and
the command line imports the demo only when a command needs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "gitops_helper"
TOOL = ROOT / "jenkins_helpers"
SANDBOX = ROOT / "sandbox" / "gitops_sandbox"
DEMO = ROOT / "sandbox" / "gitops_demo"
WEBHOOK = ROOT / "webhook"
# The top-level packages, each above the ones it may import: the command line over
# the demo over the webhook over the library. The sandbox stands alone (tested below).
LAYERS = {
    "gitops_helper": {"gitops_demo", "webhook", "jenkins_helpers"},
    "gitops_demo": {"webhook", "jenkins_helpers"},
    "webhook": {"jenkins_helpers"},
    "jenkins_helpers": set(),
}
PACKAGES = {"gitops_helper": CLI, "gitops_demo": DEMO, "webhook": WEBHOOK, "jenkins_helpers": TOOL}
# Third-party package (or stdlib module) -> the one module allowed to import it.
OWNERS = {
    "click": "gitops_helper/cli.py",
    "git": "jenkins_helpers/git.py",
    "gitlab": "jenkins_helpers/gitlab.py",
    "jenkins": "jenkins_helpers/jenkins.py",
    "subprocess": "jenkins_helpers/proc.py",
}
# The demo plays the user and Jenkins: like a user's script, it merges through
# python-gitlab, builds through python-jenkins and runs `gitops-helper` as a process,
# so the tool's own boundary modules are what it exercises, not what it uses.
USERS_HANDS = {
    "gitlab": ("sandbox/gitops_demo/world.py", "sandbox/gitops_demo/ground.py"),
    "jenkins": ("sandbox/gitops_demo/world.py",),
    "subprocess": ("sandbox/gitops_demo/world.py",),
}
SANDBOX_THIRD_PARTY = {"flask", "werkzeug", "markdown", "yaml"}  # yaml: Argo CD reads manifests


def _imports(path: Path) -> set[str]:
    """Full dotted names of the absolute imports in `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module or "")
    return names


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _python_files(*dirs: Path) -> list[Path]:
    return sorted(p for d in dirs for p in d.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(OWNERS))
def test_only_the_owner_imports_the_package(package: str) -> None:
    importers = [
        path.relative_to(ROOT).as_posix()
        for path in _python_files(CLI, DEMO, TOOL, WEBHOOK)
        if package in _top(_imports(path))
    ]
    assert set(importers) <= {OWNERS[package], *USERS_HANDS.get(package, ())}


def test_only_the_cue_package_runs_node() -> None:
    """node is started by the WASM engine and nowhere else (a string naming it is enough)."""
    users = []
    for path in _python_files(CLI, DEMO, TOOL, WEBHOOK):
        tree = ast.parse(path.read_text(), str(path))
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        if strings & {"node", "NODE_BIN"}:
            users.append(path.relative_to(ROOT).as_posix())
    assert users == ["jenkins_helpers/cue/selection.py"]


def test_the_tool_never_imports_the_sandbox() -> None:
    """Nor does the demo: it starts the sandbox as a process (gitops_demo/launch.py)."""
    for path in _python_files(CLI, DEMO, TOOL, WEBHOOK):
        assert "gitops_sandbox" not in _top(_imports(path)), f"{path} imports the sandbox"


def test_the_command_line_imports_the_demo_only_when_a_command_runs() -> None:
    """The tool installed without the sandbox's distribution still starts: `gitops_demo`
    is imported inside a function (after `require_sandbox`) or for type checking only."""
    found = []
    for path in _python_files(CLI, TOOL, WEBHOOK):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # module level; `if TYPE_CHECKING:` blocks are not run
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = {a.name for a in node.names} if isinstance(node, ast.Import) else set()
                if isinstance(node, ast.ImportFrom):
                    names.add(node.module or "")
                if "gitops_demo" in _top(names):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"gitops_demo imported at module level: {found}"


def test_the_sandbox_imports_nothing_of_the_tool() -> None:
    """Only the standard library, Flask/Werkzeug, Markdown and itself."""
    for path in _python_files(SANDBOX):
        for name in _top(_imports(path)):
            assert (
                name == "gitops_sandbox"
                or name in sys.stdlib_module_names
                or name in SANDBOX_THIRD_PARTY
            ), f"{path.relative_to(ROOT)} imports {name}: the sandbox stands alone"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_a_top_level_package_imports_only_the_layers_below_it(package: str) -> None:
    """No two of our packages import each other: the webhook never reaches up into the
    command line, the library into either, the demo into the command line."""
    ours = set(LAYERS) | {"gitops_sandbox"}
    found = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files(PACKAGES[package])
        for name in _top(_imports(path)) & ours
        if name != package and name not in LAYERS[package]
    }
    assert not found, sorted(found)
