"""Which build may replace a pending MR's version: SemVer first, then the app's history."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jenkins_helpers import semver
from jenkins_helpers.promotion.ordering import older_than_pending
from tests.helpers.apprepo import app_cue, commit_app_cue, head, make_app_repo


@pytest.mark.parametrize(
    ("tag", "pending", "older"),
    [
        ("2.4.0", "2.4.1", True),
        ("2.4.1", "2.4.0", False),
        ("2.4.1", "2.4.1", False),  # a rebuild of the same version may replace it
        ("v2.3.0", "2.3.1", True),  # with or without the v
        ("2.0.0-rc.1", "2.0.0", True),  # a release sorts after its pre-releases
        ("2.0.0-rc.2", "2.0.0-rc.10", True),  # numeric identifiers compare as numbers
        ("1.10.0", "1.9.9", False),  # not as text
        ("2.0.0+build.7", "2.0.0+build.3", False),  # build metadata does not order
    ],
)
def test_semver_tags_order_builds(tag: str, pending: str, older: bool, tmp_path: Path) -> None:
    why = older_than_pending(tag, None, pending, None, tmp_path)
    assert (why is not None) == older
    if older:
        assert why == f"{tag} is older than {pending}"


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, str, str]:
    """An app repository with two commits, the second a child of the first."""
    repo = make_app_repo(tmp_path / "app", app_cue("app", "registry.example.com/app"))
    first = head(repo)
    commit_app_cue(repo, app_cue("app", "registry.example.com/app", "port: 9090"))
    return repo, first, head(repo)


def test_other_tags_order_by_the_app_repositorys_history(history: tuple[Path, str, str]) -> None:
    repo, first, second = history
    why = older_than_pending("build-17", first, "build-18", second, repo)
    assert why == f"its commit {first} is an ancestor of {second}, the commit of build-18"
    assert older_than_pending("build-18", second, "build-17", first, repo) is None
    assert older_than_pending("build-18", second, "build-18b", second, repo) is None


def test_builds_that_cannot_be_ordered_may_replace_the_pending_one(
    history: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, first, second = history
    unrelated = make_app_repo(tmp_path / "other", app_cue("app", "registry.example.com/b"))
    assert older_than_pending("latest", None, "main", second, repo) is None, "no commit"
    assert older_than_pending("a", head(unrelated), "b", second, repo) is None, "unknown here"
    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", first], check=True)
    assert older_than_pending("a", second, "b", "f" * 40, repo) is None, "a commit git lacks"


@pytest.mark.parametrize(
    ("text", "v_prefix", "parsed"),
    [
        ("1.2.3", None, "v1.2.3"),
        ("v1.2.3-rc.1", None, "v1.2.3-rc.1"),
        ("1.2.3", True, None),
        ("v1.2.3", False, None),
        ("01.2.3", None, None),
        ("1.2", None, None),
        ("latest", None, None),
        ("1.2.3-", None, None),
    ],
)
def test_semver_parse(text: str, v_prefix: bool | None, parsed: str | None) -> None:
    found = semver.parse(text, v_prefix=v_prefix)
    assert (str(found) if found else None) == parsed
