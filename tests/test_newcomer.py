"""A newcomer's first hour (issue 22): what README.md and the Makefile promise holds.

The README's command table lists exactly the CLI's commands, with options they
have; its sentence on `--json` names exactly the commands without it; set-up's
apt-get waits for another apt instead of failing at once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gitops_helper.cli import main
from jenkins_helpers.cuesrc import editor, tokens
from jenkins_helpers.cuesrc.literals import CueTextError
from tests.helpers.deployrepo import replace_once

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
OPTION = re.compile(r"--[a-z][a-z-]*")


def _commands() -> dict[str, click.Command]:
    """Every command a user runs, by its full name (`webhook serve`)."""
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = command

    walk(main, "")
    return found


def _table() -> dict[str, str]:
    """The README's command table: a command's name -> its usage cell."""
    start = README.index("| command | what it does |")
    table = README[start : README.index("\n\n", start)]
    names = sorted(_commands(), key=len, reverse=True)  # `webhook serve` before `webhook`
    rows = {}
    for usage in ROW.findall(table):
        name = next((n for n in names if usage == n or usage.startswith(f"{n} ")), usage)
        rows[name] = usage
    return rows


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params if isinstance(p, click.Option) for o in p.opts}


def test_the_command_table_lists_every_command_and_no_other() -> None:
    assert sorted(_table()) == sorted(_commands())


def test_the_command_table_shows_only_options_a_command_has() -> None:
    commands = _commands()
    for name, usage in _table().items():
        unknown = set(OPTION.findall(usage)) - _options(commands[name])
        assert not unknown, f"README's `{usage}`: {name} has no {sorted(unknown)}"


def test_the_json_sentence_names_the_commands_without_json() -> None:
    sentence = README[README.index("Every command has `--help`") :].split(";", 1)[0]
    named = set(re.findall(r"`([a-z][a-z -]*)`", sentence))
    without = {n for n, c in _commands().items() if "--json" not in _options(c)}
    assert named == without, sentence


def test_the_demo_row_and_the_makefile_describe_the_use_cases() -> None:
    row = next(n for n in README.splitlines() if n.startswith("| `demo "))
    assert "the 28 use cases end to end in the sandbox" in row
    assert "make demo   the 28 use cases end to end" in MAKEFILE
    assert "scaffold" not in MAKEFILE.split("\n\n", 1)[0]


# slow: `sleep 5` between apt-get update's attempts
@pytest.mark.slow
def test_set_up_waits_for_another_apt(tmp_path: Path) -> None:
    """apt-get update (whose lists' lock never waits) is retried while another apt holds
    it; install is told to wait for dpkg's lock. apt-get here is a stand-in failing as a
    held lock does, twice: a test must not install packages on the machine."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        f'case "$*" in *update*) [ "$(grep -c update {calls})" -ge 3 ] || '
        '{ echo "E: Could not get lock /var/lib/apt/lists/lock" >&2; exit 100; };; esac\n'
    )
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    probe = "apt-probe: ; $(APT_UPDATE) && $(APT_INSTALL) chromium"
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", probe, "apt-probe", "SUDO="],
        env={**env, "PATH": f"{fake.parent}:{env['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        *["update -qq"] * 3,
        "-o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium",
    ]
    assert done.stdout.count("again in 5 s") == 2
    lines = [n.strip() for n in MAKEFILE.splitlines() if "apt-get " in n]
    runs = [n for n in lines if not n.startswith(("#", "echo"))]
    assert [n.split(" =")[0] for n in runs] == ["APT_INSTALL", "APT_UPDATE"], "no other apt-get"


# --- a missing colon in env.cue ------------------------------------------------------------


@pytest.mark.cue
@pytest.mark.parametrize("command", ["render", "validate"])
def test_a_missing_colon_in_env_cue_is_named_with_its_line(
    dev: Path, engine: object, command: str
) -> None:
    """`name "dev"` was read as an embedding and reported as a name that is not a string,
    with no line; it is refused where it is, before CUE runs, on either engine."""
    replace_once(dev / "env.cue", 'name:      "dev"', 'name      "dev"')
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", command, "--repo", str(dev)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    line = 1 + (dev / "env.cue").read_text().split('name      "dev"')[0].count("\n")
    assert done.stderr.startswith(
        f"error: env.cue:{line}:12: expected ':' after the label name, found \"dev\"\n"
    ), done.stderr


def test_a_missing_colon_deep_in_env_cue_stops_an_edit_at_its_line(dev: Path) -> None:
    """What `promote` and `set` do to env.cue: an edit of an app whose entry lacks a colon
    names the line (CUE says `expected label or ':'` of the same place)."""
    text = (dev / "env.cue").read_text().replace("replicas: 1", "replicas 1", 1)
    line = 1 + text.split("replicas 1")[0].count("\n")
    with pytest.raises(CueTextError) as err:
        editor.set_value(text, ("apps", "example-app", "env", "deployment", "image", "tag"), "2")
    assert err.value.message == f"{line}:11: expected ':' after the label replicas, found 1"


@pytest.mark.parametrize(
    "source",
    [
        'package p\nimport "strings"\nlet x = 1\n',
        'a: [...string]\nb: strings.Join(a, ",") @tag(b)\nc: *1 | 2\n',
        "d: [for k, v in e if v > 0 {k}]\ne: {a: 1} & {b: 2}\nf: 1Gi\ng: _|_\n",
    ],
)
def test_the_missing_colon_check_leaves_valid_cue_alone(source: str) -> None:
    tokens.read_all(tokens.parse(source))
