"""The fake CLI of the Groovy tests speaks the real contract: same options, same keys.

For each command the Groovy steps run (`promote`, `promote-env`, `set`, `rollback`,
`revert`, `decommission`): the fake takes exactly the real command's options (and
the same ones are required), and every key of its JSON answer is a field of the
real result's dataclass, down to the units and file changes of `promote-env`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import click
import pytest

from gitops_helper.cli import (
    decommission_command,
    promote_command,
    promote_env_command,
    revert_command,
    rollback_command,
    set_command,
)
from jenkins_helpers.git import FileChange
from jenkins_helpers.operations.between_envs import EnvPromotion, UnitResult
from jenkins_helpers.operations.decommission import DecommissionResult
from jenkins_helpers.operations.edits import EditResult
from jenkins_helpers.operations.from_build import BuildPromotion
from jenkins_helpers.operations.revert import RevertResult
from tests.helpers import fake_gitops_helper


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _fake_options(command: str) -> set[tuple[str, bool]]:
    commands = next(
        a for a in fake_gitops_helper.parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    return {
        (opt, action.required)
        for action in commands.choices[command]._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    }


def _real_options(command: click.Command) -> set[tuple[str, bool]]:
    return {
        (opt, param.required)
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
    }


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("promote", promote_command),
        ("promote-env", promote_env_command),
        ("set", set_command),
        ("rollback", rollback_command),
        ("revert", revert_command),
        ("decommission", decommission_command),
    ],
)
def test_the_fake_takes_exactly_the_real_options(name: str, command: click.Command) -> None:
    assert command.name == name
    assert _fake_options(name) == _real_options(command)


@pytest.fixture(autouse=True)
def _gitlab_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("GITLAB_TOKEN", "t0ken-for-the-fake")


def _answer(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """The fake's exit code and its parsed --json answer."""
    code = fake_gitops_helper.main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_fakes_promote_keys_are_the_real_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _answer(capsys, "promote", "--app", "a", "--image", "r/a", "--tag", "1")
    assert code == 0
    assert set(result) <= _fields(BuildPromotion)


def test_the_fakes_promote_env_keys_are_the_real_results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every status the fake can answer, including a blocked unit (exit 1, as the real one)."""
    monkeypatch.setenv("GITOPS_FAKE_UNITS", "a=created,b=updated,platform=noop,c=blocked")
    code, result = _answer(capsys, "promote-env", "--from", "dev", "--to", "stage")
    assert code == 1
    assert set(result) <= _fields(EnvPromotion)
    assert [u["status"] for u in result["units"]] == ["created", "updated", "noop", "blocked"]
    for unit in result["units"]:
        assert set(unit) <= _fields(UnitResult)
        for change in unit["changes"]:
            assert set(change) <= _fields(FileChange)


@pytest.mark.parametrize(
    ("args", "result_class"),
    [
        (
            ["set", "--env", "prod", "--app", "a", "--image-tag", "1", "--set", "replicas=2"],
            EditResult,
        ),
        (["rollback", "--env", "prod", "--app", "a", "--to", "previous"], EditResult),
        (["revert", "--env", "stage"], RevertResult),
        (["decommission", "--app", "a", "--repo", "apps/a"], DecommissionResult),
    ],
    ids=["set", "rollback", "revert", "decommission"],
)
def test_the_fakes_one_mr_keys_are_the_real_results(
    capsys: pytest.CaptureFixture[str], args: list[str], result_class: type
) -> None:
    """Each command's answer has exactly the real result's fields (the steps read them)."""
    code, result = _answer(capsys, *args)
    assert code == 0
    assert set(result) == _fields(result_class)


@pytest.mark.parametrize("step", ["cleanup", "done"])
def test_the_fakes_decommission_clean_up_keys_are_the_real_results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    monkeypatch.setenv("GITOPS_FAKE_DECOMMISSION", step)
    code, result = _answer(capsys, "decommission", "--app", "a")
    assert code == 0
    assert result["step"] == step
    assert set(result) == _fields(DecommissionResult)
