"""FakeForge answers as GitLab (through jenkins_helpers.gitlab.GitLab) does, where the
decision tests rely on it: duplicate MRs, label filters, iids, merges, diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.forge import MergeRequest
from tests.helpers.fakeforge import (
    BOT,
    PERSON,
    PROJECT,
    FakeForge,
    FakeForgeError,
    deployment_project,
)


@pytest.fixture
def forge(tmp_path: Path) -> FakeForge:
    found = FakeForge(tmp_path)
    deployment_project(found, {"dev": {"a": "1.0.0"}, "stage": {"a": "1.0.0"}})
    return found


def branch(forge: FakeForge, name: str, target: str = "dev", path: str = "x.txt") -> str:
    forge.commit(PROJECT, name, {path: name}, f"{name}\n", start=target)
    return name


def open_mr(
    forge: FakeForge, source: str, target: str = "dev", labels: tuple[str, ...] = ()
) -> int:
    mr, created = forge.create_merge_request(
        PROJECT, source=source, target=target, title=source, description="", labels=labels
    )
    assert created
    return mr.iid


def test_a_second_mr_for_the_same_branches_updates_the_open_one_as_gitlab_py_does(
    forge: FakeForge,
) -> None:
    first = open_mr(forge, branch(forge, "b1"))
    again, created = forge.create_merge_request(
        PROJECT, source="b1", target="dev", title="new title", description="d", labels=("x",)
    )
    assert (again.iid, created, again.title, again.labels) == (first, False, "new title", ("x",))


def test_someone_elses_duplicate_mr_is_refused_with_409(forge: FakeForge) -> None:
    open_mr(forge, branch(forge, "b1"))
    with pytest.raises(Exception, match="409"):
        forge.open_as(PERSON, PROJECT, source="b1", target="dev", title="t")


def test_iids_count_per_project_and_the_same_branch_may_target_another_branch(
    forge: FakeForge,
) -> None:
    branch(forge, "b1")
    assert [open_mr(forge, "b1", "dev"), open_mr(forge, "b1", "stage")] == [1, 2]
    forge.add_project("other/p")
    forge.commit("other/p", "main", {"f": "1"}, "init")
    forge.commit("other/p", "b", {"f": "2"}, "b")
    assert open_mr_in(forge, "other/p") == 1


def open_mr_in(forge: FakeForge, path: str) -> int:
    mr, _ = forge.create_merge_request(
        path, source="b", target="main", title="t", description="", labels=()
    )
    return mr.iid


@pytest.mark.parametrize(
    ("wanted", "found"),
    [((), [3, 2, 1]), (("promotion",), [3, 1]), (("promotion", "app::a"), [1]), (("nope",), [])],
)
def test_a_label_filter_keeps_mrs_carrying_all_labels_newest_first(
    forge: FakeForge, wanted: tuple[str, ...], found: list[int]
) -> None:
    for name, labels in (("b1", ("promotion", "app::a")), ("b2", ()), ("b3", ("promotion",))):
        open_mr(forge, branch(forge, name), labels=labels)
    seen = forge.merge_requests(PROJECT, labels=wanted, target_branch="dev")
    assert [m.iid for m in seen] == found


def test_a_merge_commit_names_its_mr_and_removes_the_source_branch(forge: FakeForge) -> None:
    iid = open_mr(forge, branch(forge, "b1"))
    before = forge.head(PROJECT, "dev")
    merged = forge.merge(PROJECT, iid)
    assert merged.state == "merged" and merged.merge_commit_sha == forge.head(PROJECT, "dev")
    assert forge.commit_parents(PROJECT, merged.merge_commit_sha) == [before, merged.sha]
    assert forge.commit_message(PROJECT, merged.merge_commit_sha).endswith(
        f"See merge request {PROJECT}!{iid}\n"
    )
    assert forge.head(PROJECT, "b1") is None
    assert forge.merge_request_paths(PROJECT, iid) == ["x.txt"], "kept after the branch is gone"
    assert forge.file_text(PROJECT, "x.txt", "dev") == "b1"


def test_a_fast_forward_merge_has_no_merge_commit_sha(forge: FakeForge) -> None:
    iid = open_mr(forge, branch(forge, "b1"))
    merged = forge.merge(PROJECT, iid, fast_forward=True)
    assert merged.merge_commit_sha is None and forge.head(PROJECT, "dev") == merged.sha
    assert merged.merged_commit == merged.sha


@pytest.mark.parametrize(
    ("state", "merge_commit", "squash_commit", "expected"),
    [
        ("merged", "m" * 40, None, "m" * 40),  # a merge commit
        ("merged", None, "q" * 40, "q" * 40),  # squash and fast-forward
        ("merged", None, None, "h" * 40),  # fast-forward: the source's head
        ("opened", None, None, None),  # nothing landed yet
        ("closed", None, None, None),
    ],
    ids=["merge commit", "squash and fast-forward", "fast-forward", "open", "closed"],
)
def test_the_merged_commit_is_what_each_merge_method_put_on_the_target(
    state: str, merge_commit: str | None, squash_commit: str | None, expected: str | None
) -> None:
    mr = MergeRequest(
        1, "u", "t", "s", "dev", (), state, "", sha="h" * 40,
        merge_commit_sha=merge_commit, squash_commit_sha=squash_commit,
    )  # fmt: skip
    assert mr.merged_commit == expected


def test_an_mr_not_open_cannot_be_merged(forge: FakeForge) -> None:
    iid = open_mr(forge, branch(forge, "b1"))
    forge.close_merge_request(PROJECT, iid, "Closed: because")
    assert forge.merge_request(PROJECT, iid).state == "closed"
    assert forge.notes(PROJECT, iid) == ["Closed: because"]
    with pytest.raises(FakeForgeError, match="405"):
        forge.merge(PROJECT, iid)


def test_an_mr_diff_starts_at_the_merge_base_not_at_the_target_head(forge: FakeForge) -> None:
    iid = open_mr(forge, branch(forge, "b1"))
    forge.commit(PROJECT, "dev", {"later.txt": "on dev after b1 branched"}, "later")
    assert forge.merge_request_paths(PROJECT, iid) == ["x.txt"]


def test_files_and_blob_ids_are_read_from_git(forge: FakeForge) -> None:
    assert forge.file_text(PROJECT, "env.cue", "dev") is not None
    assert forge.file_text(PROJECT, "missing.cue", "dev") is None
    assert forge.file_text(PROJECT, "env.cue", "no-such-ref") is None
    assert forge.file_text(PROJECT, "platform", "dev") is None, "a directory is no file"
    assert list(forge.blob_ids(PROJECT, "main", "platform")) == ["platform/app.cue"]
    assert "platform/app.cue" not in forge.blob_ids(PROJECT, "main", recursive=False)
    assert forge.blob_ids(PROJECT, "main", "nowhere") == {}


def test_hooks_are_created_updated_and_deleted_by_url(forge: FakeForge) -> None:
    assert forge.ensure_hook(PROJECT, "https://hook", "s") == "created"
    assert forge.ensure_hook(PROJECT, "https://hook", "s2", events=("push",)) == "updated"
    [hook] = forge.hooks(PROJECT)
    assert (hook.events, hook.ssl_verification) == (("push",), True)
    forge.delete_hook(PROJECT, hook.id)
    forge.delete_hook(PROJECT, hook.id)
    assert forge.hooks(PROJECT) == [] and forge.user_id() == BOT
