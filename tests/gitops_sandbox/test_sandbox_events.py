"""Webhook payloads field by field: push commits, merge request `changes`, note events."""

from __future__ import annotations

import re
from pathlib import Path

import git
from gitlab.v4.objects import Project, ProjectMergeRequest

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import Receiver, commit_files

# webhook_events.md: `changes` and note events write times as "2017-09-15 16:50:55 UTC",
# merge request attributes as "2013-12-03T17:23:34Z".
UTC_FORM = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
ISO_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _bodies(receiver: Receiver, event: str) -> list[dict]:
    return [r.body for r in receiver.requests if r.headers["X-Gitlab-Event"] == event]


def _hooked_mr(
    project: Project, receiver: Receiver, branch: str, events: str
) -> ProjectMergeRequest:
    """A hook for `events` only (push off), then an MR from a new branch `branch` into dev."""
    project.hooks.create({"url": receiver.url, events: True, "push_events": False})
    project.branches.create({"branch": branch, "ref": "main"})
    return project.mergerequests.create(
        {"source_branch": branch, "target_branch": "dev", "title": branch.title()}
    )


def test_push_lists_each_commits_paths_and_only_new_commits(
    sandbox: Sandbox, project: Project, receiver: Receiver, tmp_path: Path
) -> None:
    project.hooks.create({"url": receiver.url, "push_events": True})
    with git.Repo.clone_from(
        sandbox.clone_url(project.path_with_namespace), tmp_path / "c"
    ) as repo:
        work = Path(repo.working_tree_dir or "")
        repo.git.checkout("-b", "feature/a", "origin/dev")
        first = commit_files(work, {"a.txt": "a\n", "README.md": "# changed\n"}, "add a")
        repo.git.push("origin", "feature/a")
        repo.git.rm("a.txt")
        repo.git.commit("-m", "drop a")
        repo.git.push("origin", "feature/a")
    project.branches.create({"branch": "copy-of-dev", "ref": "dev"})
    assert sandbox.wait_for_deliveries()

    created, moved, copied = _bodies(receiver, "Push Hook")
    assert created["before"] == "0" * 40
    # A new branch brings only the commit no other branch has, not dev's history.
    (commit,) = created["commits"]
    assert commit["id"] == first
    assert (commit["added"], commit["modified"], commit["removed"]) == (
        ["a.txt"],
        ["README.md"],
        [],
    )
    assert created["total_commits_count"] == 1
    assert moved["before"] == first
    assert [(c["added"], c["removed"]) for c in moved["commits"]] == [([], ["a.txt"])]
    assert (copied["commits"], copied["total_commits_count"]) == ([], 0)


def test_merge_request_changes_as_gitlab_writes_them(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    mr = _hooked_mr(project, receiver, "feat", "merge_requests_events")
    mr.description = "first words"
    mr.save()
    mr.labels = ["b", "a"]
    mr.save()
    assert sandbox.wait_for_deliveries()
    opened, described, labelled = _bodies(receiver, "Merge Request Hook")

    attrs = described["object_attributes"]
    assert ISO_FORM.match(attrs["created_at"]) and ISO_FORM.match(attrs["updated_at"])
    changes = described["changes"]
    assert changes["description"] == {"previous": None, "current": "first words"}
    assert changes["updated_by_id"] == {"previous": None, "current": 1}
    stamps = changes["updated_at"]
    assert UTC_FORM.match(stamps["previous"]) and UTC_FORM.match(stamps["current"])
    assert stamps["previous"] == opened["changes"]["updated_at"]["current"]
    assert UTC_FORM.match(changes["last_edited_at"]["current"])
    # Only what changed: the editor is the same the second time.
    assert "updated_by_id" not in labelled["changes"]
    assert labelled["changes"]["updated_at"]["previous"] == stamps["current"]
    assert [lab["title"] for lab in labelled["changes"]["labels"]["current"]] == ["b", "a"]
    assert ISO_FORM.match(labelled["labels"][0]["created_at"])


def test_merge_request_notes_are_delivered_as_note_events(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    mr = _hooked_mr(project, receiver, "talk", "note_events")
    note = mr.notes.create({"body": "/promote please"})
    assert sandbox.wait_for_deliveries()

    (delivered,) = receiver.requests
    assert delivered.headers["X-Gitlab-Event"] == "Note Hook"
    body = delivered.body
    assert (body["object_kind"], body["event_type"]) == ("note", "note")
    attrs = body["object_attributes"]
    assert (attrs["id"], attrs["note"], attrs["noteable_type"]) == (
        note.id,
        "/promote please",
        "MergeRequest",
    )
    assert attrs["action"] == "create"
    assert attrs["url"] == f"{mr.web_url}#note_{note.id}"
    assert UTC_FORM.match(attrs["created_at"])
    assert body["merge_request"]["iid"] == mr.iid
    assert UTC_FORM.match(body["merge_request"]["updated_at"])
    assert body["project"]["path_with_namespace"] == project.path_with_namespace
