"""Every `gitops-helper` command, as a real process, against hostile arguments and
environments (issue 19).

The commands are enumerated from the click group, so a new command (or option) is in
the corpus without anyone adding it here; a new required option needs a valid value
in `VALID` (the test says so). For each case:

- never "unexpected" on stderr, never a crash log (TMPDIR is a fresh directory that
  must stay free of gitops-helper-crash-*), never still running after `TIMEOUT`;
- a value that is bad input exits 2 with an `error:` line, having written nothing
  (the case's directories are as they were) and without echoing a character that
  could forge a line or reorder one;
- a value that may be fine (a non-ASCII directory name, a long `cue` argument) gets an
  ordinary outcome: 0, 1 or 2, nothing unexpected.

Every command also runs with valid values and its stdout a pipe whose reader went
away (`gitops-helper status | head -0`): it gets past its input checks (so what the
other cases refuse, they refuse for the hostile value), and stops quietly (141, or
its own failure) without a crash log; `--help` and a refusal do the same.

No network: GITLAB_URL is http://127.0.0.1:9 (nothing listens there), so a command
that gets past its input checks fails quickly with exit 1. The commands that start
servers (`webhook serve`, `sandbox up`, `demo`) only get values they must refuse
before starting anything, and `demo` runs on a "real GitLab" at that address, so
it never starts a sandbox.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import click
import gitlab
import pytest

from gitops_helper import cli
from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from tests.helpers.apprepo import app_cue, make_app_repo
from tests.helpers.deployrepo import copy_repo
from tests.test_deadlines import TWO_SECONDS

TIMEOUT = 30.0  # seconds a case may run; a refused one takes well under one
WORKERS = 2
UNREACHABLE = "http://127.0.0.1:9"
TOKEN = "hostile-test-token-7c1d"  # noqa: S105 - made up

# Commands that serve until stopped: only values they must refuse, nothing else.
SERVERS = {("webhook", "serve"), ("sandbox", "up"), ("demo",)}

# A valid value for each option a command needs, so that a hostile value in another
# option is what the command has to deal with. {repo}, {app_repo}, {scratch}: fixtures.
VALID: dict[str, str] = {
    "--app": "example-app",
    "--image": "registry.example.com/example-app",
    "--tag": "1.0.1",
    "--env": "dev",
    "--from": "dev",
    "--to": "stage",
    "directory": "{scratch}/new-repo",
    "args": "version",
}
# What a command needs besides its required options to get past its own checks.
EXTRA: dict[tuple[str, ...], list[str]] = {
    ("render",): ["--repo={repo}"],
    ("validate",): ["--repo={repo}"],
    ("promote",): ["--app-repo={app_repo}"],
    ("set",): ["--set=replicas=2"],
    ("onboard",): ["--repo=apps/new-app"],
    ("demo",): [f"--gitlab-url={UNREACHABLE}", "--project=gitops-demo/k8s-deployments"],
    ("webhook", "serve"): ["--port=0"],
    ("sandbox", "up"): ["--port=0"],
}


# --- the corpus ---------------------------------------------------------------------

# Characters that must never get into a value: they start a new line wherever a log,
# a terminal or a browser shows the value (everything str.splitlines() splits on, and
# the other C0/C1 controls such as ESC), or reorder what is shown (bidi controls).
UNSAFE: dict[str, str] = {
    "newline": "1.0.1\nerror: forged line",
    "carriage return": "1.0.1\rforged",
    "tab": "1.0\t1",
    "escape": "\x1b[31mred",
    "delete": "x\x7fy",
    "vertical tab": "a\x0bb",
    "form feed": "a\x0cb",
    "file separator": "a\x1cb",
    "next line U+0085": "1.0.1\x85gitopsPromote: forged",
    "C1 CSI U+009B": "a\x9b31mb",
    "line separator U+2028": "1.0.1\u2028gitopsPromote: forged",
    "paragraph separator U+2029": "1.0.1\u2029forged",
    "right-to-left override U+202E": "example-app\u202e3.2.1",
    "left-to-right isolate U+2066": "dev\u2066prod\u2069",
    "right-to-left mark U+200F": "dev\u200f",
}
# Not UTF-8 at all: Python sees the byte as a lone surrogate.
INVALID_UTF8 = b"1.0.\xff"
# Non-ASCII values, in turn: an accented letter, a Cyrillic look-alike of a Latin one.
NON_ASCII = ("exämple", "\u0435xample")
LONG = "a" * 10_000
LONG_URL = f"{UNREACHABLE}/{'a' * 10_000}"


@dataclass
class Case:
    command: tuple[str, ...]
    args: list[str | bytes]
    what: str
    refused: bool
    env: dict[str, str | bytes] = field(default_factory=dict)
    stdout: str = "pipe"  # or "closed": a pipe whose reader is gone

    def __str__(self) -> str:
        return f"{' '.join(self.command)}: {self.what}"


@dataclass
class Outcome:
    code: int | None  # None: still running at the timeout (killed)
    stdout: str
    stderr: str
    written: list[str]
    crash_logs: list[str]


def leaf_commands(group: click.Group = cli.main) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI, as (path, command), depth first."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            for path, leaf in leaf_commands(command):
                yield (name, *path), leaf
        else:
            yield (name,), command


COMMANDS = dict(leaf_commands())


def option_name(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    assert param.name is not None
    return param.name


def valued(command: click.Command) -> list[click.Parameter]:
    """The parameters that take a value (not --help, not flags)."""
    return [
        p
        for p in command.params
        if not (isinstance(p, click.Option) and (p.is_flag or p.name == "help"))
    ]


def baseline(path: tuple[str, ...], command: click.Command) -> list[str]:
    """Arguments with which the command gets past its input checks (into the network,
    or done); --dry-run and --json where it has them."""
    args: list[str] = []
    for param in valued(command):
        if not param.required:
            continue
        name = option_name(param)
        assert name in VALID, f"{' '.join(path)} requires {name}: give a valid value in VALID"
        args.append(f"{name}={VALID[name]}" if name.startswith("-") else VALID[name])
    names = {option_name(p) for p in command.params}
    args += EXTRA.get(path, [])
    args += [flag for flag in ("--dry-run", "--json") if flag in names]
    return args


def with_value(
    path: tuple[str, ...], command: click.Command, param: click.Parameter, value: str | bytes
) -> list[str | bytes]:
    """The baseline with `param` set to `value` (replacing its valid value, if any)."""
    name = option_name(param)
    if name == "args":  # `cue ARGS`: the value as an argument of a cue command
        return ["eval", "-e", value]
    args: list[str | bytes] = [
        a
        for a in baseline(path, command)
        if not (name.startswith("-") and a.startswith(f"{name}="))
        and not (not name.startswith("-") and a == VALID.get(name))
    ]
    if not name.startswith("-"):
        return [*args, value]
    if isinstance(value, bytes):
        return [*args, name.encode() + b"=" + value]
    return [*args, f"{name}={value}"]


def shaped(param: click.Parameter) -> str:
    """An over-long value in the shape the option expects (a URL for a URL)."""
    name = option_name(param)
    if "url" in name:
        return LONG_URL
    if isinstance(param.type, click.Path):
        return "{scratch}/" + "/".join(["d" * 200] * 30)
    return LONG


def string_cases(path: tuple[str, ...], command: click.Command) -> list[Case]:
    """A quarter of the unsafe characters (the next quarter for the next command, so
    that every four commands meet them all), each in one option, in turn; an
    over-long and a non-ASCII value in every option."""
    params = valued(command)
    if not params:
        return []
    cases = []
    unsafe = [*UNSAFE.items(), ("invalid UTF-8", INVALID_UTF8)]
    share = unsafe[list(COMMANDS).index(path) % 4 :: 4]
    for (name, text), param in zip(share, itertools.cycle(params), strict=False):
        cases.append(
            Case(
                path,
                with_value(path, command, param, text),
                f"{name} in {option_name(param)}",
                True,
            )
        )
    for index, param in enumerate(params):
        name = option_name(param)
        non_ascii = NON_ASCII[index % len(NON_ASCII)]
        for label, text in (("over-long", shaped(param)), ("non-ASCII", non_ascii)):
            may_pass = _may_pass(path, param, label)
            if path in SERVERS and may_pass:
                continue  # it would start serving
            cases.append(
                Case(path, with_value(path, command, param, text), f"{label} {name}", not may_pass)
            )
    return cases


def _may_pass(path: tuple[str, ...], param: click.Parameter, label: str) -> bool:
    """Whether `label` (over-long, non-ASCII) can be valid for this option."""
    name = option_name(param)
    if path == ("cue",):
        return True  # the cue CLI's own arguments: CUE answers
    if isinstance(param.type, click.Path):
        return label == "non-ASCII"  # /home/jörg/... is a directory like any other
    return (path[0], name) == ("set", "--set") and label == "non-ASCII"


# Special files and paths where a command expects a directory to read or create.
def path_values(scratch: str) -> dict[str, str]:
    return {
        "a FIFO": f"{scratch}/fifo",
        "/dev/null": "/dev/null",
        "a file": f"{scratch}/afile",
        "below a file": f"{scratch}/afile/sub",
        "/proc/x": "/proc/x",
        "a symlink loop": f"{scratch}/loop",
        "a name too long": f"{scratch}/{'n' * 300}",
        "a path too long": f"{scratch}/" + "/".join(["p" * 200] * 30),
    }


# Where an app repository goes: one whose deployment/app.cue is not a regular file.
APP_REPOS = {
    "an app repo whose app.cue is a directory": "{scratch}/dir-app-repo",
    "an app repo whose app.cue is a FIFO": "{scratch}/fifo-app-repo",
}


def path_cases(path: tuple[str, ...], command: click.Command) -> list[Case]:
    cases = []
    for param in valued(command):
        if not isinstance(param.type, click.Path):
            continue
        values = path_values("{scratch}")
        if option_name(param) == "--app-repo":
            values |= APP_REPOS
        for label, text in values.items():
            cases.append(
                Case(
                    path,
                    with_value(path, command, param, text),
                    f"{option_name(param)}: {label}",
                    True,
                )
            )
    return cases


# Hostile environments. Each value goes to a few of the commands that read the
# variable (in turn, so that together they meet every one); a setting that a
# command reads only after GitLab answers cannot be refused without a GitLab, and
# is `refused=False`: nothing unexpected, that is all.
NETWORK = [
    path
    for path, command in COMMANDS.items()
    if "--gitlab-url" in {option_name(p) for p in command.params} and path not in SERVERS
]
CUE_COMMANDS = [("render",), ("validate",), ("cue",)]


@dataclass(frozen=True)
class Environment:
    what: str
    env: dict[str, str | bytes]
    commands: Sequence[tuple[str, ...]]
    refused: bool = True
    each: int = 2  # how many of `commands` get it


ENVIRONMENTS = [
    Environment("GITLAB_URL not a URL", {"GITLAB_URL": "gitlab.example.com"}, NETWORK),
    Environment("GITLAB_URL ftp://", {"GITLAB_URL": "ftp://127.0.0.1:9"}, NETWORK),
    Environment("GITLAB_URL with a newline", {"GITLAB_URL": f"{UNREACHABLE}/\nforged"}, NETWORK),
    Environment("GITLAB_URL with U+2028", {"GITLAB_URL": f"{UNREACHABLE}/\u2028x"}, NETWORK),
    Environment("GITLAB_URL with U+202E", {"GITLAB_URL": f"{UNREACHABLE}/\u202ex"}, NETWORK),
    Environment("GITLAB_URL broken IPv6", {"GITLAB_URL": "http://[::1"}, NETWORK),
    Environment("GITLAB_URL port out of range", {"GITLAB_URL": "http://127.0.0.1:99999"}, NETWORK),
    Environment("GITLAB_URL port not a number", {"GITLAB_URL": "http://127.0.0.1:abc"}, NETWORK),
    Environment("GITLAB_URL over-long", {"GITLAB_URL": LONG_URL}, NETWORK),
    Environment("GITLAB_URL with credentials", {"GITLAB_URL": "http://u:p@127.0.0.1:9"}, NETWORK),
    Environment("GITLAB_URL not UTF-8", {"GITLAB_URL": b"http://127.0.0.1:9/\xff"}, NETWORK),
    Environment("GITLAB_TOKEN non-ASCII", {"GITLAB_TOKEN": "t\u00f6ken-1234"}, NETWORK),
    Environment("GITLAB_TOKEN with a newline", {"GITLAB_TOKEN": "token\nX-Forged: 1"}, NETWORK),
    Environment("GITLAB_TOKEN with U+2028", {"GITLAB_TOKEN": "token\u2028x-1234"}, NETWORK),
    Environment("GITLAB_TOKEN not UTF-8", {"GITLAB_TOKEN": b"token-\xff-1234"}, NETWORK),
    Environment("GITLAB_TOKEN empty", {"GITLAB_TOKEN": ""}, NETWORK),
    Environment("GITOPS_PROJECT bad", {"GITOPS_PROJECT": "../etc/passwd"}, NETWORK),
    Environment("GITOPS_PROJECT with U+2029", {"GITOPS_PROJECT": "platform/k\u2029x"}, NETWORK),
    Environment("GITOPS_WEBHOOK_URL bad", {"GITOPS_WEBHOOK_URL": "not a url"}, [("status",)]),
    Environment("GITOPS_WEBHOOK_URL over-long", {"GITOPS_WEBHOOK_URL": LONG_URL}, [("status",)]),
    Environment("BUILD_URL bad", {"BUILD_URL": "javascript:alert(1)"}, [("promote",)]),
    Environment("BUILD_URL with U+0085", {"BUILD_URL": "https://ci/1\x85x"}, [("promote",)]),
    Environment("JENKINS_URL bad", {"JENKINS_URL": "jenkins"}, [("onboard",)]),
    Environment("JENKINS_TOKEN with a newline", {"JENKINS_TOKEN": "t\nx"}, [("onboard",)]),
    Environment("GITOPS_CUE_ENGINE unknown", {"GITOPS_CUE_ENGINE": "quantum"}, CUE_COMMANDS),
    Environment("GITOPS_CUE_WORKERS not a number", {"GITOPS_CUE_WORKERS": "two"}, CUE_COMMANDS),
    Environment(
        "GITOPS_CUE_CACHE_MB not a number",
        {"GITOPS_CUE_CACHE": "on", "GITOPS_CUE_CACHE_MB": "lots"},
        CUE_COMMANDS,
    ),
    Environment("GITOPS_RENDER_BATCH not a number", {"GITOPS_RENDER_BATCH": "many"}, [("render",)]),
    Environment(
        "GITOPS_RENDER_BATCH a digit int() refuses",
        {"GITOPS_RENDER_BATCH": "\u00b2"},
        [("render",)],
    ),
    Environment(
        "GITOPS_GIT_TIMEOUT not a number", {"GITOPS_GIT_TIMEOUT": "x"}, NETWORK, False, each=1
    ),
]


def env_cases() -> list[Case]:
    cases = []
    turn = itertools.count()
    for hostile in ENVIRONMENTS:
        chosen = hostile.commands
        if len(chosen) > hostile.each:
            start = next(turn) * hostile.each
            chosen = [chosen[(start + i) % len(chosen)] for i in range(hostile.each)]
        for path in chosen:
            args: list[str | bytes] = list(baseline(path, COMMANDS[path]))
            if "GITLAB_URL" in hostile.env:  # the variable, not the option, is under test
                args = [a for a in args if not str(a).startswith("--gitlab-url")]
            cases.append(Case(path, args, hostile.what, hostile.refused, env=hostile.env))
    return cases


# --- running a case -----------------------------------------------------------------


def make_scratch(root: Path) -> Path:
    """The case's own directories and special files."""
    root.mkdir()
    for name in ("work", "tmp", "home"):
        (root / name).mkdir()
    os.mkfifo(root / "fifo")
    (root / "afile").write_text("a file, not a directory\n")
    (root / "loop").symlink_to(root / "loop")
    for kind in ("dir", "fifo"):
        deployment = root / f"{kind}-app-repo" / "deployment"
        deployment.mkdir(parents=True)
        if kind == "dir":
            (deployment / "app.cue").mkdir()
        else:
            os.mkfifo(deployment / "app.cue")
    return root


def snapshot(root: Path) -> set[str]:
    found = set()
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            kind = "d" if stat.S_ISDIR(path.lstat().st_mode) else "f"
            found.add(f"{kind} {path.relative_to(root)}")
    return found


def substitute(value: str | bytes, places: dict[str, str]) -> str | bytes:
    if isinstance(value, bytes):
        return value
    for key, text in places.items():
        value = value.replace("{" + key + "}", text)
    return value


def run(case: Case, scratch: Path, places: dict[str, str]) -> Outcome:
    places = {**places, "scratch": str(scratch)}
    env: dict[str, str | bytes] = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITLAB_", "GITOPS_", "JENKINS_", "SANDBOX_", "BUILD_"))
    }
    env.update(
        {
            "GITLAB_URL": UNREACHABLE,
            "GITLAB_TOKEN": TOKEN,
            "JENKINS_URL": UNREACHABLE,
            "JENKINS_USER": "admin",
            "JENKINS_TOKEN": TOKEN,
            "GITOPS_CUE_ENGINE": os.environ.get("GITOPS_CUE_ENGINE", "wasm"),
            "GITOPS_CUE_CACHE": "off",
            "GITOPS_HTTP_BUDGET": "1",  # a GitLab that is not there: give up at once
            "GITOPS_WEBHOOK_SECRET": "hostile-test-secret-41b3",
            "GITOPS_DATA_DIR": str(scratch / "work" / "webhook-data"),
            "TMPDIR": str(scratch / "tmp"),
            "HOME": str(scratch / "home"),
            "XDG_CACHE_HOME": str(scratch / "home" / ".cache"),
        }
    )
    env.update({key: substitute(value, places) for key, value in case.env.items()})
    args = [substitute(a, places) for a in case.args]
    before = snapshot(scratch)
    read, write = os.pipe() if case.stdout == "closed" else (None, None)
    if read is not None:
        os.close(read)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_helper", *case.command, *args],
        cwd=scratch / "work",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=write if write is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a server it starts is stopped with it
    )
    if write is not None:
        os.close(write)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    finally:
        with _suppress_gone():
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
    after = snapshot(scratch)
    crash = sorted(p.name for p in (scratch / "tmp").glob("gitops-helper-crash-*"))
    return Outcome(
        code,
        (out or b"").decode(errors="replace"),
        (err or b"").decode(errors="replace"),
        sorted(after - before),
        crash,
    )


class _suppress_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is ProcessLookupError or kind is PermissionError


# Line breaks other than "\n", and bidi controls: none may reach the output.
FORGING = [c for c in map(chr, range(0x110000)) if len(f"a{c}b".splitlines()) > 1 and c != "\n"]
FORGING += [
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]


def problems(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with `outcome` for `case`; empty when it is as it should be."""
    found = []
    if outcome.code is None:
        found.append(f"still running after {TIMEOUT:g} s (killed)")
    if "unexpected" in outcome.stderr:
        found.append("says 'unexpected'")
    if "Traceback" in outcome.stderr:
        found.append("prints a traceback")
    if outcome.crash_logs:
        found.append(f"left a crash log {outcome.crash_logs}")
    if case.refused:
        if outcome.code != 2:
            found.append(f"exit {outcome.code}, not 2 (bad input)")
        elif "error" not in outcome.stderr.lower():
            found.append("exit 2 without saying why")
        if outcome.written:
            found.append(f"wrote {outcome.written[:5]}")
    elif outcome.code not in (0, 1, 2, 141):
        found.append(f"exit {outcome.code}")
    shown = outcome.stdout + outcome.stderr
    forged = sorted({f"U+{ord(c):04X}" for c in FORGING if c in shown})
    if forged:
        found.append(f"echoes {', '.join(forged)}")
    if found:
        tail = [_short(line) for line in outcome.stderr.strip().splitlines()[-2:]]
        found.append(f"stderr ends: {tail}")
    return found


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def run_each(
    cases: Sequence[Case], root: Path, places: dict[str, str], workers: int = WORKERS
) -> list[Outcome]:
    """Run the cases, `workers` at a time, each in its own scratch directory."""

    def one(numbered: tuple[int, Case]) -> Outcome:
        number, case = numbered
        return run(case, make_scratch(root / f"case-{number}"), places)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, enumerate(cases)))


def run_all(cases: Sequence[Case], root: Path, places: dict[str, str]) -> list[str]:
    """Run the cases; one line per case that went wrong."""
    outcomes = run_each(cases, root, places)
    return [
        f"{case}: {'; '.join(wrong)}"
        for case, outcome in zip(cases, outcomes, strict=True)
        if (wrong := problems(case, outcome))
    ]


# --- the tests ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def places(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A deployment repository and an app repository, for the commands that read one."""
    base = tmp_path_factory.mktemp("hostile")
    repo = copy_repo(template, base / "k8s-deployments")
    app_repo = make_app_repo(
        base / "example-app", app_cue("example-app", "registry.example.com/example-app")
    )
    return {"repo": str(repo), "app_repo": str(app_repo)}


def test_every_command_is_in_the_corpus() -> None:
    """The enumeration sees the commands there are (a new one is covered by itself)."""
    names = {" ".join(path) for path in COMMANDS}
    assert {"promote", "set", "status", "webhook serve", "sandbox up", "cue"} <= names
    for path, command in COMMANDS.items():
        baseline(path, command)  # every required option has a valid value


@pytest.mark.parametrize(
    "path", [p for p in COMMANDS if p not in SERVERS], ids=lambda p: " ".join(p)
)
def test_the_baseline_gets_past_the_input_checks(
    path: tuple[str, ...], places: dict[str, str], tmp_path: Path
) -> None:
    """Without a hostile value the command is not refused: what the other tests
    refuse, they refuse for the hostile value. Its output goes to a reader that went
    away (`gitops-helper ... | head -0`): it stops quietly, 141, as SIGPIPE would."""
    case = Case(path, list(baseline(path, COMMANDS[path])), "baseline", False, stdout="closed")
    outcome = run(case, make_scratch(tmp_path / "case"), places)
    assert outcome.code in (0, 1, 141), f"{case}: exit {outcome.code}\n{outcome.stderr}"
    assert not problems(case, outcome), problems(case, outcome)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p))
def test_hostile_arguments(path: tuple[str, ...], places: dict[str, str], tmp_path: Path) -> None:
    """Control, separator and bidi characters, bytes that are not UTF-8, over-long and
    non-ASCII values in every option; special files wherever a path goes."""
    command = COMMANDS[path]
    cases = string_cases(path, command) + path_cases(path, command)
    wrong = run_all(cases, tmp_path, places)
    assert not wrong, f"{len(wrong)} of {len(cases)} cases:\n" + "\n".join(wrong)


def test_hostile_environments(places: dict[str, str], tmp_path: Path) -> None:
    """Malformed GITLAB_URL, GITLAB_TOKEN and GITOPS_* settings: bad input, exit 2."""
    cases = env_cases()
    wrong = run_all(cases, tmp_path, places)
    assert not wrong, f"{len(wrong)} of {len(cases)} cases:\n" + "\n".join(wrong)


def test_a_closed_stdout(places: dict[str, str], tmp_path: Path) -> None:
    """--help and a refusal, with a reader that went away: quietly, no crash log (each
    command's own run with a closed stdout is its baseline, above)."""
    cases = []
    for path, command in COMMANDS.items():
        cases.append(Case(path, ["--help"], "--help, closed stdout", False, stdout="closed"))
        bad = with_value(path, command, valued(command)[0], UNSAFE["newline"])
        cases.append(Case(path, bad, "bad input, closed stdout", True, stdout="closed"))
    wrong = run_all(cases, tmp_path, places)
    assert not wrong, f"{len(wrong)} of {len(cases)} cases:\n" + "\n".join(wrong)


# --- a GitLab that drips --------------------------------------------------------------

# The sandbox's drip fault: the status line and headers at once (or, `drip_headers`,
# one byte at a time too), then one byte every DRIP seconds. Per-read timeouts never
# trip on it; only the total deadline (GITOPS_HTTP_DEADLINE) does.
DRIP = 10.0
DRIP_DEADLINE = 1.0  # GITOPS_HTTP_DEADLINE here; GITOPS_HTTP_BUDGET twice that


@pytest.fixture(scope="module")
def dripping(places: dict[str, str]) -> Iterator[Sandbox]:
    """A seeded sandbox whose GitLab API and Jenkins drip every answer (a test may
    narrow that to one of them)."""
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


def set_drip(sandbox: Sandbox, *prefixes: str, headers: bool) -> None:
    sandbox.clear_faults()
    for prefix in prefixes:
        sandbox.add_fault(path_prefix=prefix, drip=DRIP, drip_headers=headers, count=None)


def drip_case(path: tuple[str, ...], sandbox: Sandbox, gitlab_url: str) -> Case:
    """The command's baseline, for real (no --dry-run), against the dripping sandbox."""
    args: list[str | bytes] = [
        a for a in baseline(path, COMMANDS[path]) if a != "--dry-run" and "--gitlab-url" not in a
    ]
    if path == ("demo",):
        args.append(f"--gitlab-url={gitlab_url}")
    env: dict[str, str | bytes] = {
        "GITLAB_URL": gitlab_url,
        "JENKINS_URL": sandbox.jenkins_url,
        "GITOPS_HTTP_DEADLINE": f"{DRIP_DEADLINE:g}",
        "GITOPS_HTTP_BUDGET": f"{2 * DRIP_DEADLINE:g}",
    }
    return Case(path, args, "GitLab drips", False, env=env)


# Every command that talks to GitLab (they take --gitlab-url), and the demo on a "real
# GitLab": it fails at its first call instead of starting anything.
DRIPPED = [*NETWORK, ("demo",)]


@pytest.mark.parametrize("headers", [False, True], ids=["body", "headers"])
def test_every_command_ends_with_a_clear_error_when_gitlab_drips(
    headers: bool, dripping: Sandbox, places: dict[str, str], tmp_path: Path
) -> None:
    """Issue 19: one byte every 10 s used to hang every API call forever. Now each
    command's first call fails after its budget (2 s here): exit 1, the error names
    GitLab and the deadline, never "unexpected", long before the case's TIMEOUT."""
    set_drip(dripping, "/api/v4/", "/jenkins/", headers=headers)
    cases = [drip_case(path, dripping, dripping.gitlab_url) for path in DRIPPED]
    wrong = []
    # All at once: each command spends its 2 s waiting on the drip, not computing.
    outcomes = run_each(cases, tmp_path, places, workers=len(cases))
    for case, outcome in zip(cases, outcomes, strict=True):
        found = problems(case, outcome)
        if outcome.code != 1:
            found.append(f"exit {outcome.code}, not 1")
        for expected in (
            re.escape(f"error: cannot reach GitLab at {dripping.gitlab_url} (no complete answer"),
            rf"gave up after {TWO_SECONDS} and 2 attempts \(GITOPS_HTTP_BUDGET: 2 s per call\)",
        ):
            if not re.search(expected, outcome.stderr):
                found.append(f"does not say {expected!r}: {outcome.stderr.strip()[-300:]!r}")
        if found:
            wrong.append(f"{case}: {'; '.join(found)}")
    assert not wrong, f"{len(wrong)} of {len(cases)} commands:\n" + "\n".join(wrong)


def test_onboard_ends_with_a_clear_error_when_jenkins_drips(
    dripping: Sandbox, places: dict[str, str], tmp_path: Path
) -> None:
    """GitLab answers, Jenkins drips: onboarding stops at its first Jenkins call (it reads
    the job before writing anything), exit 1, and no MR is opened."""
    set_drip(dripping, "/jenkins/", headers=False)
    case = drip_case(("onboard",), dripping, dripping.gitlab_url)
    case.args = ["--app=new-app", "--repo=apps/example-app"]
    (outcome,) = run_each([case], tmp_path, places)
    assert not problems(case, outcome), problems(case, outcome)
    assert outcome.code == 1, outcome.stderr
    assert f"error: cannot reach Jenkins at {dripping.jenkins_url} (no complete answer" in (
        outcome.stderr
    )
    assert "(GITOPS_HTTP_BUDGET: 2 s per call)" in outcome.stderr
    with gitlab.Gitlab(dripping.gitlab_url, private_token=TOKEN) as gl:
        opened = gl.projects.get(DEPLOYMENTS).mergerequests.list(state="opened", get_all=True)
    assert [mr.title for mr in opened] == []
