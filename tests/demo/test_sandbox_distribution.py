"""The sandbox's own distribution (sandbox/pyproject.toml) as the commands see it.

Without it, `demo` and `sandbox up` say so and how to install it (exit 2), and start
nothing. Absence is simulated by the names looked up (`SANDBOX_PACKAGES`);
tests/test_wheel.py checks that the tool's wheel really lacks both packages. With it,
the sandbox's Jenkins gets this checkout's shared library.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_helper import cli
from gitops_helper.commands import sandbox
from jenkins_helpers import proc
from jenkins_helpers.errors import BadInput

ABSENT = "gitops_no_such_package_for_this_test"
ROOT = Path(__file__).resolve().parents[2]


def test_require_sandbox_names_what_is_missing_and_how_to_install_it() -> None:
    with pytest.raises(BadInput) as raised:
        sandbox.require_sandbox("demo", ("json", ABSENT))
    assert raised.value.exit_code == 2
    assert "`gitops-helper demo` needs the sandbox" in raised.value.message
    assert ABSENT in raised.value.message and "json" not in raised.value.message
    assert raised.value.hint is not None
    assert "pip install ./sandbox" in raised.value.hint and "make demo" in raised.value.hint


def test_require_sandbox_passes_when_installed() -> None:
    sandbox.require_sandbox("demo")  # this checkout's venv: make setup installs it


@pytest.mark.parametrize(
    "args", [["demo", "A1"], ["demo"], ["sandbox", "up"], ["sandbox", "up", "--port", "0"]]
)
def test_the_commands_exit_2_and_start_nothing(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_process(*_: object, **__: object) -> None:
        raise AssertionError("started a process")

    monkeypatch.setattr(sandbox, "SANDBOX_PACKAGES", ("gitops_demo", ABSENT))
    monkeypatch.setattr(proc, "spawn", no_process)
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert "error: `gitops-helper" in result.output
    assert f"not installed (jenkins-gitops-helpers-sandbox: no {ABSENT})" in result.output
    assert "hint: from a checkout of jenkins-gitops-helpers: `pip install ./sandbox`" in (
        result.output
    )


def test_the_sandbox_gets_this_checkouts_shared_library(tmp_path: Path) -> None:
    """sandbox/gitops_demo/launch.py finds the repository's root (vars/) from its own place."""
    from gitops_demo import launch  # here: a module-level import would make this e2e

    assert launch.shared_library() == ROOT
    args = launch.sandbox_args(None, 0, tmp_path / "ready.json")
    assert args[args.index("--library") + 1] == f"jenkins-gitops-helpers={ROOT}"
