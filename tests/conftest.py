"""Test-run wide settings: a pinned git identity and config, and the CUE engine matrix.

Git: every git call of the run gets the same identity and an empty global config,
so a developer's own never leaks in.

CUE engines. A test whose result depends on how CUE evaluates carries the `cue`
marker and runs once per engine, its id ending in `[wasm]` (the embedded CUE v0.4,
always there) or `[binary]` (a supported `cue` binary: $CUE_BIN, else PATH). A module
opts in with one line at its top (a single test with `@pytest.mark.cue`):

    pytestmark = pytest.mark.cue

Each run sets GITOPS_CUE_ENGINE (and CUE_BIN) in os.environ, so the `gitops-helper`
processes a test starts use the same engine, and installs the engine as the process's
own (`get_engine()`). The `engine` fixture is the engine of the run; a marked test
that asks for the `binary` fixture itself runs on the binary only. `[binary]` runs
skip, saying why, when no supported binary is found, and fail when
GITOPS_TEST_REQUIRE_CUE_BINARY=1 (.ci/run sets it).

Everything else runs on the run's default engine, the one the tool itself would
pick: the binary when a supported one is found, else the embedded engine. That is
unmarked tests (the end-to-end ones above all: a `gitops-helper` process on the
binary starts in a fraction of the time node takes) and fixtures wider than one test
(module or session scope, such as `template`) even for marked tests. That the two
engines agree is what the marked tests prove: each runs on both, and the renders are
compared byte for byte; a machine without Go runs the whole suite on the embedded
engine (tests/test_setup.py runs `make demo` so). A test whose outcome depends on
the engine (CUE's own error text, what `cue version` says) is marked `cue`.
A module whose tests share state across tests (one sandbox per module) must give
each engine its own state before it opts in: every test runs twice.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jenkins_helpers import git
from jenkins_helpers.cue import CueEngine, selection
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.wasm import WasmEngine
from tests.helpers.deployrepo import copy_repo, make_scaffold
from tests.helpers.engines import cue_binary, embedded

if TYPE_CHECKING:
    from gitops_sandbox import Sandbox

ENGINES = ("wasm", "binary")


# Tiers. `make check` runs the fast tier: every test not marked e2e, groovy or slow.
# e2e and groovy are given here, by what a module imports (so a new test that starts
# the sandbox is in its tier without anyone remembering to say so); `slow` is the
# module's own `pytestmark`, for tests that take seconds without either.
TIERS = {
    "e2e": "drives the sandbox (GitLab and Jenkins stand-ins), the webhook's chain or the demo",
    "groovy": "runs Groovy 2.4: the vars/ steps, or Jenkins pipelines in the sandbox",
    "slow": "takes seconds on its own (CLI processes, many CUE evaluations); not in make check",
}
# Modules whose import puts a test module in a tier.
TIER_IMPORTS = {
    "e2e": (
        "gitops_sandbox",
        "tests.gitops_sandbox",
        "tests.helpers.chain",
        "gitops_demo",
    ),
    "groovy": ("tests.helpers.groovy",),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cue: evaluates CUE: runs once per engine, [wasm] and [binary] (conftest.py)"
    )
    for name, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning} (conftest.py, Tiers)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tiers its module's imports put it in."""
    for item in items:
        module = getattr(item, "module", None)
        for tier in _tiers(module) if module is not None else ():
            item.add_marker(tier)


@functools.cache
def _tiers(module: types.ModuleType) -> tuple[str, ...]:
    imported = {
        getattr(value, "__name__", "")
        if isinstance(value, types.ModuleType)
        else getattr(value, "__module__", "") or ""
        for value in vars(module).values()
    }
    return tuple(
        tier
        for tier, prefixes in TIER_IMPORTS.items()
        if any(name == p or name.startswith(f"{p}.") for name in imported for p in prefixes)
    )


def pytest_report_header() -> str:
    """The engine matrix, on top of pytest's output."""
    try:
        found, why = cue_binary()
    except AssertionError as e:
        found, why = None, str(e)
    binary = f"binary {found}" if found else f"no binary ({why})"
    return f"CUE engines: wasm (embedded CUE v0.4), {binary}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test marked `cue` once per engine (see the module docstring)."""
    if metafunc.definition.get_closest_marker("cue") is None:
        return
    engines = ENGINES
    if "binary" in metafunc.fixturenames and "engine" not in metafunc.fixturenames:
        engines = ("binary",)  # the test runs the binary itself
    metafunc.parametrize("cue_engine", engines, indirect=True)


@pytest.fixture(autouse=True, scope="session")
def _pinned_git_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Give every git call in the run the same identity and an empty global config;
    no CUE evaluation cache."""
    home = tmp_path_factory.mktemp("home")
    pinned = {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # Every evaluation runs: a test that counts evaluations or makes one fail must
        # not get an earlier test's result (tests/cue/test_cache.py turns it on).
        "GITOPS_CUE_CACHE": "off",
    }
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    saved = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    yield
    _restore_environ(saved)


def _restore_environ(saved: dict[str, str | None]) -> None:
    """Put back variables as they were (None: was not set)."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def _embedded() -> Iterator[WasmEngine]:
    # Not `wasm` itself: a module may override `wasm`, and the session needs this one.
    engine = embedded()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def wasm(_embedded: WasmEngine) -> WasmEngine:
    """The embedded engine (CUE v0.4 as WASM): always there, `make test` installs it."""
    return _embedded


@pytest.fixture(scope="session")
def _run_engine(_embedded: WasmEngine) -> CueEngine:
    """The run's default engine, the tool's own choice: the binary when a supported one
    is found ($CUE_BIN, the venv's, PATH), else the embedded engine."""
    found, _ = cue_binary()
    return BinaryEngine(found) if found else _embedded


@pytest.fixture(autouse=True, scope="session")
def _user_cue_bin(_run_engine: CueEngine) -> Iterator[str | None]:
    """Make `_run_engine` the default of the run, for this process and the ones it
    starts; yield the CUE_BIN the environment had."""
    saved = {name: os.environ.get(name) for name in ("CUE_BIN", "GITOPS_CUE_ENGINE")}
    default = _run_engine
    os.environ["GITOPS_CUE_ENGINE"] = default.name
    if isinstance(default, BinaryEngine):
        os.environ["CUE_BIN"] = default.cue_bin
    else:
        os.environ.pop("CUE_BIN", None)
    previous = selection._engine, selection._engine_pid
    selection._engine, selection._engine_pid = default, os.getpid()
    yield saved["CUE_BIN"]
    selection._engine, selection._engine_pid = previous
    _restore_environ(saved)


@pytest.fixture(scope="session")
def binary(_user_cue_bin: str | None) -> BinaryEngine:
    """A supported `cue` binary (CI installs v0.17.1); skipped when there is none."""
    with pytest.MonkeyPatch.context() as mp:
        if _user_cue_bin is not None:
            mp.setenv("CUE_BIN", _user_cue_bin)
        found, why = cue_binary()
    if found is None:
        pytest.skip(why)
    return BinaryEngine(found)


@pytest.fixture(autouse=True)
def cue_engine(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _run_engine: CueEngine
) -> str:
    """The engine this test runs on: its parameter for a `cue` test, else the run's."""
    name: str = getattr(request, "param", _run_engine.name)
    if name == _run_engine.name:
        return name  # the run's default, set up by _user_cue_bin
    engine: CueEngine = request.getfixturevalue(name)
    monkeypatch.setenv("GITOPS_CUE_ENGINE", name)
    if isinstance(engine, BinaryEngine):
        monkeypatch.setenv("CUE_BIN", engine.cue_bin)
    else:
        monkeypatch.delenv("CUE_BIN", raising=False)
    monkeypatch.setattr(selection, "_engine", engine)
    monkeypatch.setattr(selection, "_engine_pid", os.getpid())
    return name


@pytest.fixture
def engine(request: pytest.FixtureRequest, cue_engine: str, _run_engine: CueEngine) -> CueEngine:
    """The engine this test runs on: in a `cue`-marked test each in turn (the test id
    says which), else the run's."""
    if request.node.get_closest_marker("cue") is None:
        return _run_engine
    found: CueEngine = request.getfixturevalue(cue_engine)
    return found


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's `sandbox`, its fault rules (docs/SANDBOX.md) cleared after the test."""
    yield sandbox
    sandbox.clear_faults()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, _pinned_git_environment: None) -> Path:
    """A deployment repository laid down once by init-repo; tests work on copies."""
    return make_scaffold(tmp_path_factory.mktemp("scaffold") / "k8s-deployments")


@pytest.fixture
def dev(template: Path, tmp_path: Path) -> Path:
    """A private copy of the deployment repository with the dev branch checked out."""
    repo = copy_repo(template, tmp_path / "k8s-deployments")
    git.switch(repo, "dev")
    return repo
