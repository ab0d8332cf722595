"""docs/CLI.md is click's help of every command, as the CLI prints it today."""

from __future__ import annotations

from gitops_helper import clidoc


def test_cli_reference_is_current() -> None:
    assert clidoc.DOC.read_text() == clidoc.render(), (
        "docs/CLI.md is stale: run `python -m gitops_helper.clidoc`"
    )


def test_cli_reference_covers_every_command() -> None:
    text = clidoc.DOC.read_text()
    for name in ("promote", "promote-env", "demo", "sandbox up", "set", "rollback", "revert"):
        assert f"## `gitops-helper {name}`" in text
