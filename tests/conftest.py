"""Test-run wide settings: a pinned git identity and config, so a developer's own never leaks in."""

from __future__ import annotations

import os

import pytest


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
