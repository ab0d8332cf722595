"""git.py's local helpers: staged changes with line counts, commits on a bare CI agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers import git
from jenkins_helpers.errors import BadInput


def test_stage_all_reports_status_and_line_counts(tmp_path: Path) -> None:
    git.init(tmp_path, "main")
    (tmp_path / "kept.txt").write_text("a\nb\n")
    (tmp_path / "gone.txt").write_text("x\n")
    git.commit_all(tmp_path, "first")
    (tmp_path / "kept.txt").write_text("a\nc\nd\n")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "new.txt").write_text("n\n")
    assert git.stage_all(tmp_path) == [
        git.FileChange("gone.txt", "deleted", 0, 1),
        git.FileChange("kept.txt", "modified", 2, 1),
        git.FileChange("new.txt", "added", 1, 0),
    ]
    assert "+c" in git.staged_diff(tmp_path, ["kept.txt"])


def test_commit_without_any_identity_uses_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git.init(tmp_path, "main")
    git.commit_all(tmp_path, "first")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{name}_NAME")
        monkeypatch.delenv(f"GIT_{name}_EMAIL")
    (tmp_path / "f").write_text("x\n")
    git.stage_all(tmp_path)
    git.commit_staged(tmp_path, "m")
    author = git._repo(tmp_path).head.commit.author
    assert (author.name, author.email) == (
        git.FALLBACK_IDENTITY["name"],
        git.FALLBACK_IDENTITY["email"],
    )


def test_source_of_a_plain_directory_and_a_checkout(tmp_path: Path) -> None:
    assert git.source_of(tmp_path) == (str(tmp_path.resolve()), None)
    git.init(tmp_path, "main")
    commit = git.commit_all(tmp_path, "first")
    git._repo(tmp_path).create_remote("origin", "https://oauth2:t0k@h.example/apps/a.git")
    assert git.source_of(tmp_path) == ("https://h.example/apps/a.git", commit)


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_bad_network_timeout_is_bad_input(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_GIT_TIMEOUT", value)
    with pytest.raises(BadInput, match="GITOPS_GIT_TIMEOUT must be a number of seconds"):
        git.network_timeout()
