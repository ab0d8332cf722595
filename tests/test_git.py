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


@pytest.mark.parametrize("how", ["commit_staged", "commit_all"])
def test_commit_without_any_identity_uses_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A bare agent, or a newcomer's machine running `init-repo` before any git config."""
    git.init(tmp_path, "main")
    git.commit_all(tmp_path, "first")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{name}_NAME")
        monkeypatch.delenv(f"GIT_{name}_EMAIL")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (tmp_path / "f").write_text("x\n")
    if how == "commit_all":
        git.commit_all(tmp_path, "m")
    else:
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


def test_a_sparse_clone_holds_the_patterns_files_and_commits_whole(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    git.init(origin, "dev")
    for name in ("env.cue", "apps/a.cue", "apps/b.cue", "manifests/a/x.yaml", "manifests/b/x.yaml"):
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        (origin / name).write_text(f"{name}\n")
    git.commit_all(origin, "first")
    clone = tmp_path / "clone"
    git.clone(origin.as_uri(), clone, "dev", {}, ["/*", "!/apps/", "!/manifests/", "/apps/a.cue"])
    on_disk = sorted(
        p.relative_to(clone).as_posix()
        for p in clone.rglob("*")
        if ".git" not in p.parts and p.is_file()
    )
    assert on_disk == ["apps/a.cue", "env.cue"]
    assert git.is_sparse(clone)
    assert git.tracked_text(clone, "manifests/b/x.yaml") == "manifests/b/x.yaml\n"
    assert git.tracked_files(clone, "manifests/") == ["manifests/a/x.yaml", "manifests/b/x.yaml"]
    (clone / "apps/a.cue").write_text("changed\n")
    assert [c.path for c in git.stage_all(clone)] == ["apps/a.cue"], "the others are not deleted"
    git.unsparse(clone)
    assert (clone / "manifests/b/x.yaml").read_text() == "manifests/b/x.yaml\n"
    assert (clone / "apps/a.cue").read_text() == "changed\n", "a change survives filling in"
    assert not git.is_sparse(clone)


@pytest.mark.parametrize(
    ("version", "sparse"),
    [((2, 34, 1), False), ((2, 35, 0), True), ((2, 39, 5), True), ((3, 0), True)],
)
def test_sparse_clones_need_git_2_35(version: tuple[int, ...], sparse: bool) -> None:
    assert git.sparse_supported(version) is sparse


def test_texts_at_reads_a_directory_at_a_revision_as_git_show_does(tmp_path: Path) -> None:
    git.init(tmp_path, "main")
    for name, text in (("m/a/x.yaml", "a: 1\n"), ("m/b/y.yaml", "b: é\n"), ("other.txt", "o\n")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git.commit_all(tmp_path, "first")
    (tmp_path / "m/a/x.yaml").write_text("a: 2\n")  # not committed: not at main
    assert git.texts_at(tmp_path, "main", "m") == {"m/a/x.yaml": "a: 1\n", "m/b/y.yaml": "b: é\n"}
    assert git.texts_at(tmp_path, "main", "missing") == {}


def test_files_reads_what_git_show_reads_through_one_process(tmp_path: Path) -> None:
    """Files.text is file_at without a process per file: same texts, same Nones, and it
    sees commits made while it is open (HEAD is resolved on every read)."""
    git.init(tmp_path, "main")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.cue").write_text("x: é\n")
    first = git.commit_all(tmp_path, "first")
    with git.Files(tmp_path) as files:
        reads = [("HEAD", "d/x.cue"), ("main", "d/x.cue"), (first, "d/x.cue")]
        reads += [("HEAD", "missing.cue"), ("no-such-branch", "d/x.cue")]
        for rev, file in reads:
            assert files.text(rev, file) == git.file_at(tmp_path, rev, file), (rev, file)
        assert files.text("HEAD", "d") is None  # a directory: no file there
        assert files.text("HEAD", "d/x.cue") == "x: é\n"
        (tmp_path / "d" / "x.cue").write_text("x: 2\n")
        git.commit_all(tmp_path, "second")
        assert files.text("HEAD", "d/x.cue") == "x: 2\n"
        assert files.text(first, "d/x.cue") == "x: é\n"
