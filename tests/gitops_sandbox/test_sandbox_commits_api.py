"""Commits and files through the API (python-gitlab's commits.create and files.*)."""

from __future__ import annotations

import base64

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import Receiver


def _raw(project: Project, path: str, ref: str) -> bytes:
    return bytes(project.files.raw(file_path=path, ref=ref))


def test_commits_create_on_a_new_branch_is_a_push(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    project.hooks.create({"url": receiver.url, "push_events": True})
    commit = project.commits.create(
        {
            "branch": "feature/api",
            "start_branch": "main",
            "commit_message": "Add a, edit the README",
            "author_name": "Ada",
            "author_email": "ada@example.com",
            "actions": [
                {"action": "create", "file_path": "a.txt", "content": "a\n"},
                {"action": "update", "file_path": "README.md", "content": "# new\n"},
                {
                    "action": "create",
                    "file_path": "bin/run",
                    "content": base64.b64encode(b"#!/bin/sh\n").decode(),
                    "encoding": "base64",
                    "execute_filemode": True,
                },
            ],
        }
    )
    assert commit.title == "Add a, edit the README"
    assert (commit.author_name, commit.committer_name) == ("Ada", "Administrator")
    assert commit.stats == {"additions": 3, "deletions": 1, "total": 4}
    assert project.branches.get("feature/api").commit["id"] == commit.id
    assert commit.parent_ids == [project.branches.get("main").commit["id"]]
    assert _raw(project, "a.txt", "feature/api") == b"a\n"
    assert project.files.get(file_path="bin/run", ref="feature/api").execute_filemode is True
    assert sandbox.wait_for_deliveries()
    (push,) = receiver.requests
    assert push.body["ref"] == "refs/heads/feature/api"
    (pushed,) = push.body["commits"]
    assert (pushed["id"], pushed["added"], pushed["modified"]) == (
        commit.id,
        ["a.txt", "bin/run"],
        ["README.md"],
    )


def test_delete_move_and_chmod_then_an_mr_follows(project: Project) -> None:
    project.branches.create({"branch": "tidy", "ref": "dev"})
    mr = project.mergerequests.create(
        {"source_branch": "tidy", "target_branch": "dev", "title": "Tidy"}
    )
    commit = project.commits.create(
        {
            "branch": "tidy",
            "commit_message": "Tidy up",
            "actions": [
                {"action": "delete", "file_path": "README.md"},
                {
                    "action": "move",
                    "previous_path": "envs/dev/env.cue",
                    "file_path": "envs/dev/moved.cue",
                },
                {"action": "chmod", "file_path": "envs/dev/moved.cue", "execute_filemode": True},
            ],
        }
    )
    names = {t["path"] for t in project.repository_tree(ref="tidy", recursive=True, get_all=True)}
    assert "README.md" not in names and "envs/dev/env.cue" not in names
    assert _raw(project, "envs/dev/moved.cue", "tidy") == b"replicas: 1\n"
    assert project.files.get(file_path="envs/dev/moved.cue", ref="tidy").execute_filemode
    assert project.mergerequests.get(mr.iid).sha == commit.id


def test_protected_branches_and_bad_actions_are_refused(project: Project) -> None:
    dev = project.branches.get("dev").commit["id"]
    create = {"action": "create", "file_path": "x.txt", "content": "x"}
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.commits.create({"branch": "dev", "commit_message": "direct", "actions": [create]})
    assert (err.value.response_code, err.value.error_message) == (
        403,
        "403 Forbidden - You are not allowed to push into this branch",
    )
    assert project.branches.get("dev").commit["id"] == dev

    def refusal(branch: str, action: dict, **extra: str) -> tuple[int, str]:
        data = {"branch": branch, "commit_message": "m", "actions": [action], **extra}
        with pytest.raises(gitlab.GitlabCreateError) as err:
            project.commits.create(data)
        return err.value.response_code, str(err.value.error_message)

    project.branches.create({"branch": "work", "ref": "main"})
    readme = {"action": "create", "file_path": "README.md", "content": "x"}
    assert refusal("work", readme) == (400, "A file with this name already exists")
    ghost = {"action": "update", "file_path": "ghost.txt", "content": "x"}
    assert refusal("work", ghost) == (400, "A file with this name doesn't exist")
    assert refusal("nowhere", create) == (
        400,
        "You can only create or edit files when you are on a branch",
    )
    assert refusal("work", create, start_branch="dev")[1].startswith("A branch called 'work'")
    assert refusal("work", {"action": "rename", "file_path": "a"})[1] == (
        "400 Bad request - actions[0][action] must be one of: create, update, move, delete, chmod"
    )
    traversal = {"action": "create", "file_path": "../etc/passwd", "content": "x"}
    assert refusal("work", traversal) == (400, "Path cannot include directory traversal")


def test_files_create_update_delete(project: Project) -> None:
    project.branches.create({"branch": "files", "ref": "main"})
    created = project.files.create(
        {
            "file_path": "docs/new.md",
            "branch": "files",
            "content": "one\n",
            "commit_message": "Add docs",
        }
    )
    assert (created.file_path, created.branch) == ("docs/new.md", "files")
    assert _raw(project, "docs/new.md", "files") == b"one\n"

    current = project.files.get(file_path="docs/new.md", ref="files")
    stale = current.last_commit_id
    current.content = "two\n"
    current.save(branch="files", commit_message="Edit docs")
    assert _raw(project, "docs/new.md", "files") == b"two\n"
    with pytest.raises(gitlab.GitlabUpdateError) as err:
        project.files.update(
            "docs/new.md",
            {
                "branch": "files",
                "content": "three\n",
                "commit_message": "late",
                "last_commit_id": stale,
            },
        )
    assert "has changed since you started editing it" in str(err.value.error_message)

    project.files.delete(file_path="docs/new.md", branch="files", commit_message="Drop docs")
    with pytest.raises(gitlab.GitlabGetError):
        project.files.get(file_path="docs/new.md", ref="files")
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.files.create(
            {"file_path": "x.md", "branch": "dev", "content": "x", "commit_message": "direct"}
        )
    assert (err.value.response_code, err.value.error_message) == (
        400,
        "You are not allowed to push into this branch",
    )
