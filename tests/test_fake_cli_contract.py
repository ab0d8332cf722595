"""The fake CLI of the Groovy tests speaks the real `promote` contract: same options, same keys."""

from __future__ import annotations

import argparse
import dataclasses
import json

import click
import pytest

from jenkins_helpers.cli import promote_command
from jenkins_helpers.promotion import BuildPromotion
from tests.helpers import fake_gitops_helper


def _fake_promote() -> argparse.ArgumentParser:
    commands = next(
        a for a in fake_gitops_helper.parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    return commands.choices["promote"]


def test_the_fake_takes_exactly_the_real_options() -> None:
    fake = {
        (opt, action.required)
        for action in _fake_promote()._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    }
    real = {
        (opt, param.required)
        for param in promote_command.params
        if isinstance(param, click.Option)
        for opt in param.opts
    }
    assert fake == real


def test_the_fakes_json_keys_are_the_real_results(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("GITLAB_TOKEN", "t0ken-for-the-fake")
    args = ["promote", "--app", "a", "--image", "r/a", "--tag", "1", "--json"]
    assert fake_gitops_helper.main(args) == 0
    keys = set(json.loads(capsys.readouterr().out))
    assert keys <= {f.name for f in dataclasses.fields(BuildPromotion)}
