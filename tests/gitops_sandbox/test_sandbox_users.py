"""Two users: the admin (the tool's own token) and a developer with a token of their own.

The developer has GitLab's Developer role on every project: they read, clone, push
to and create unprotected branches, open and edit merge requests and comment; they
may not push to a protected branch, merge into one, or administer the project.
Every check is what a client notices: python-gitlab's answers and exceptions, git's
exit status and message, and the webhook bodies a receiver gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox, SandboxError, banner
from gitops_sandbox.__main__ import main
from gitops_sandbox.jenkins_config import JenkinsSettings
from tests.gitops_sandbox.sandbox_testing import Receiver, commit_files

DEPLOYMENTS = "platform/k8s-deployments"
DEVELOPER = {"id": 2, "username": "developer", "name": "Dev Eloper"}
WRONG_TOKEN = "not-a-sandbox-token"  # noqa: S105 - test values, not secrets
OWN_DEV_TOKEN = "my-dev-token"  # noqa: S105
DEFAULT_DEV_TOKEN = "sandbox-developer-token"  # noqa: S105 - the documented default


def _hook(project: Project, receiver: Receiver) -> None:
    """The admin points every event kind the sandbox sends at the receiver."""
    project.hooks.create(
        {
            "url": receiver.url,
            "merge_requests_events": True,
            "push_events": True,
            "note_events": True,
        }
    )


def _bodies(sandbox: Sandbox, receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    """The webhook bodies of one `object_kind` the receiver got, once all are delivered."""
    assert sandbox.wait_for_deliveries()
    return [r.body for r in receiver.requests if r.body["object_kind"] == kind]


def _who(user: dict[str, Any]) -> tuple[Any, Any, Any]:
    return user["id"], user["username"], user["name"]


# ---- who is calling ---------------------------------------------------------------


def test_get_user_answers_each_tokens_owner(
    sandbox: Sandbox, gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab
) -> None:
    assert sandbox.developer_token == DEFAULT_DEV_TOKEN
    gl.auth()
    dev_gl.auth()
    assert gl.user is not None and dev_gl.user is not None
    admin, dev = gl.user.attributes, dev_gl.user.attributes
    assert (admin["id"], admin["username"], admin["is_admin"]) == (1, "root", True)
    assert _who(dev) == tuple(DEVELOPER.values())
    assert dev["email"] == "developer@example.com"
    # GitLab answers a non-admin with UserPublic, which has no `is_admin` at all.
    assert "is_admin" not in dev


def test_wrong_token_is_401_for_api_git_and_pages(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=WRONG_TOKEN) as bad:
        with pytest.raises(gitlab.GitlabAuthenticationError) as err:
            bad.auth()
        assert (err.value.response_code, err.value.error_message) == (401, "401 Unauthorized")
    url = sandbox.clone_url(DEPLOYMENTS, token=WRONG_TOKEN)
    with pytest.raises(git.GitCommandError):
        git.Repo.clone_from(url, tmp_path / "c")
    page = requests.get(project.web_url, auth=("developer", WRONG_TOKEN), timeout=5)
    assert page.status_code == 401
    assert requests.get(project.web_url, auth=("x", sandbox.developer_token), timeout=5).ok


def test_project_permissions_are_the_callers_role(
    project: Project, dev_project: Project, sandbox: Sandbox
) -> None:
    assert project.permissions["project_access"]["access_level"] == 50
    assert dev_project.permissions["project_access"]["access_level"] == 30
    assert dev_project.creator_id == 1


# ---- merge requests by the developer -----------------------------------------------


def test_developer_mr_has_developer_as_author_and_admin_as_merger(
    sandbox: Sandbox, project: Project, dev_project: Project, receiver: Receiver
) -> None:
    _hook(project, receiver)
    dev_project.branches.create({"branch": "feature/dev-change", "ref": "dev"})
    dev_mr = dev_project.mergerequests.create(
        {"source_branch": "feature/dev-change", "target_branch": "dev", "title": "Dev change"}
    )
    assert _who(dev_mr.author) == tuple(DEVELOPER.values())
    assert dev_mr.user["can_merge"] is False  # dev is protected: Maintainers merge
    note = dev_mr.notes.create({"body": "please merge"})
    assert note.author["username"] == "developer"

    admin_mr = project.mergerequests.get(dev_mr.iid)
    assert admin_mr.author["username"] == "developer"  # the author, not whoever asks
    assert admin_mr.user["can_merge"] is True
    admin_mr.title = "Dev change, reviewed"
    admin_mr.save()
    admin_mr.merge()
    merged = dev_project.mergerequests.get(dev_mr.iid)
    assert merged.state == "merged"
    assert merged.author["username"] == "developer"
    assert merged.merge_user["username"] == "root" and merged.merged_by["username"] == "root"

    events = _bodies(sandbox, receiver, "merge_request")
    assert [e["object_attributes"]["action"] for e in events] == ["open", "update", "merge"]
    opened, updated, merge = events
    assert _who(opened["user"]) == tuple(DEVELOPER.values())
    assert opened["object_attributes"]["author_id"] == 2
    assert opened["changes"]["author_id"] == {"previous": None, "current": 2}
    assert updated["user"]["username"] == "root"
    edit = updated["object_attributes"]
    assert (edit["author_id"], edit["updated_by_id"], edit["last_edited_by_id"]) == (2, 1, 1)
    assert merge["user"]["username"] == "root"
    accepted = merge["object_attributes"]
    assert (accepted["author_id"], accepted["merge_user_id"]) == (2, 1)
    (comment,) = _bodies(sandbox, receiver, "note")
    assert comment["user"]["username"] == "developer"
    assert comment["object_attributes"]["author_id"] == 2


def test_developer_cannot_merge_into_a_protected_branch(
    project: Project, dev_project: Project
) -> None:
    dev_project.branches.create({"branch": "feature/blocked", "ref": "dev"})
    dev_project.commits.create(
        {
            "branch": "feature/blocked",
            "commit_message": "change",
            "actions": [{"action": "create", "file_path": "blocked.txt", "content": "x\n"}],
        }
    )
    mr = dev_project.mergerequests.create(
        {"source_branch": "feature/blocked", "target_branch": "dev", "title": "Blocked"}
    )
    dev_head = project.branches.get("dev").commit["id"]
    # GitLab documents 401 for "not allowed to accept this merge request"; python-gitlab
    # turns every 401 into GitlabAuthenticationError.
    with pytest.raises(gitlab.GitlabAuthenticationError) as err:
        mr.merge()
    assert (err.value.response_code, err.value.error_message) == (401, "401 Unauthorized")
    assert project.mergerequests.get(mr.iid).state == "opened"
    assert project.branches.get("dev").commit["id"] == dev_head


def test_developer_merges_into_an_unprotected_branch(
    sandbox: Sandbox, project: Project, dev_project: Project, receiver: Receiver
) -> None:
    _hook(project, receiver)
    dev_project.branches.create({"branch": "feature/base", "ref": "dev"})
    dev_project.branches.create({"branch": "feature/top", "ref": "dev"})
    created = dev_project.commits.create(
        {
            "branch": "feature/top",
            "commit_message": "top",
            "actions": [{"action": "create", "file_path": "top.txt", "content": "top\n"}],
        }
    )
    assert (created.author_name, created.committer_name) == ("Dev Eloper", "Dev Eloper")
    mr = dev_project.mergerequests.create(
        {"source_branch": "feature/top", "target_branch": "feature/base", "title": "Top"}
    )
    assert mr.user["can_merge"] is True
    mr.merge()
    merged = dev_project.mergerequests.get(mr.iid)
    assert merged.state == "merged" and merged.merge_user["username"] == "developer"
    merge_commit = dev_project.commits.get(merged.merge_commit_sha)
    assert merge_commit.author_name == "Dev Eloper"

    (merge_event,) = [
        e
        for e in _bodies(sandbox, receiver, "merge_request")
        if e["object_attributes"]["action"] == "merge"
    ]
    assert merge_event["user"]["username"] == "developer"
    assert merge_event["object_attributes"]["merge_user_id"] == 2
    pushes = _bodies(sandbox, receiver, "push")
    assert pushes and {p["user_username"] for p in pushes} == {"developer"}
    assert {p["user_id"] for p in pushes} == {2}


# ---- pushes and writes to protected branches ---------------------------------------


def test_developer_git_push_refused_on_protected_allowed_elsewhere(
    sandbox: Sandbox, project: Project, receiver: Receiver, tmp_path: Path
) -> None:
    _hook(project, receiver)
    dev_before = project.branches.get("dev").commit["id"]
    url = sandbox.clone_url(DEPLOYMENTS, token=sandbox.developer_token)
    with git.Repo.clone_from(url, tmp_path / "c") as repo:
        repo.git.checkout("dev")
        commit_files(Path(repo.working_tree_dir or ""), {"envs/dev/env.cue": "x\n"}, "direct")
        with pytest.raises(git.GitCommandError) as err:
            repo.git.push("origin", "dev")
        assert "You are not allowed to push code to protected branches" in err.value.stderr
        repo.git.push("origin", "HEAD:refs/heads/feature/pushed")
    assert project.branches.get("dev").commit["id"] == dev_before
    assert project.branches.get("feature/pushed").commit["id"] != dev_before
    (push,) = _bodies(sandbox, receiver, "push")
    assert push["ref"] == "refs/heads/feature/pushed"
    assert (push["user_id"], push["user_username"], push["user_name"]) == (
        2,
        "developer",
        "Dev Eloper",
    )
    assert push["user_email"] == "developer@example.com"


def test_developer_api_writes_to_protected_branches_are_refused(
    project: Project, dev_project: Project
) -> None:
    with pytest.raises(gitlab.GitlabCreateError) as err:
        dev_project.files.create(
            {"file_path": "x.txt", "branch": "dev", "content": "x", "commit_message": "x"}
        )
    assert (err.value.response_code, err.value.error_message) == (
        400,
        "You are not allowed to push into this branch",
    )
    with pytest.raises(gitlab.GitlabCreateError) as err:
        dev_project.commits.create(
            {
                "branch": "dev",
                "commit_message": "x",
                "actions": [{"action": "create", "file_path": "x.txt", "content": "x"}],
            }
        )
    assert (err.value.response_code, err.value.error_message) == (
        403,
        "403 Forbidden - You are not allowed to push into this branch",
    )
    project.protectedbranches.create({"name": "release/*"})
    with pytest.raises(gitlab.GitlabCreateError) as err:
        dev_project.branches.create({"branch": "release/1.0", "ref": "dev"})
    assert (err.value.response_code, err.value.error_message) == (
        400,
        "You are not allowed to create protected branches on this project.",
    )
    project.branches.create({"branch": "release/1.0", "ref": "dev"})  # a Maintainer may
    unprotected = {"branch": "feature/x", "start_branch": "dev", "commit_message": "x"}
    dev_project.files.create({"file_path": "x.txt", "content": "x", **unprotected})
    assert dev_project.files.raw(file_path="x.txt", ref="feature/x") == b"x"


# ---- project administration --------------------------------------------------------


def test_developer_is_refused_project_administration(
    sandbox: Sandbox, project: Project, dev_project: Project, receiver: Receiver
) -> None:
    _hook(project, receiver)
    forbidden = (403, "403 Forbidden")
    refusals = [
        (gitlab.GitlabListError, lambda: dev_project.hooks.list(get_all=True)),
        (gitlab.GitlabCreateError, lambda: dev_project.hooks.create({"url": receiver.url})),
        (gitlab.GitlabCreateError, lambda: dev_project.protectedbranches.create({"name": "x"})),
        (gitlab.GitlabDeleteError, lambda: dev_project.protectedbranches.delete("dev")),
        (gitlab.GitlabDeleteError, lambda: dev_project.delete()),
    ]
    for error, call in refusals:
        with pytest.raises(error) as err:
            call()
        assert (err.value.response_code, err.value.error_message) == forbidden
    # Reading the protections needs only read access, as on GitLab.
    assert {p.name for p in dev_project.protectedbranches.list(get_all=True)} >= {"dev", "main"}
    assert [h.url for h in project.hooks.list(get_all=True)] == [receiver.url]
    assert project.protectedbranches.get("dev").name == "dev"
    admin_only = requests.get(
        f"{sandbox.url}/-/sandbox/deliveries",
        headers={"PRIVATE-TOKEN": sandbox.developer_token},
        timeout=5,
    )
    assert admin_only.status_code == 403


def test_developer_creates_projects_only_in_their_namespace(
    gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab
) -> None:
    own = dev_gl.projects.create({"name": "scratch", "initialize_with_readme": True})
    assert own.path_with_namespace == "developer/scratch"
    assert own.permissions["project_access"]["access_level"] == 50  # the creator owns it
    assert own.creator_id == 2
    readme = own.commits.list(get_all=True)[0]
    assert readme.author_name == "Dev Eloper"
    group = gl.projects.create({"name": "svc", "namespace": "platform"}).namespace["id"]
    with pytest.raises(gitlab.GitlabCreateError) as err:
        dev_gl.projects.create({"name": "other", "namespace_id": group})
    assert err.value.response_code == 400
    assert err.value.error_message == {"namespace": ["is not valid"]}


# ---- configuration ------------------------------------------------------------------


def test_developer_token_is_configurable() -> None:
    with Sandbox.start(developer_token=OWN_DEV_TOKEN) as sb:
        assert sb.developer_token == OWN_DEV_TOKEN
        with gitlab.Gitlab(sb.gitlab_url, private_token=OWN_DEV_TOKEN) as client:
            client.auth()
            assert client.user is not None and client.user.username == "developer"
        default = gitlab.Gitlab(sb.gitlab_url, private_token=DEFAULT_DEV_TOKEN)
        with default, pytest.raises(gitlab.GitlabAuthenticationError):
            default.auth()
        assert OWN_DEV_TOKEN in banner(sb)
    with pytest.raises(SandboxError, match="differ"):
        Sandbox.start(token=OWN_DEV_TOKEN, developer_token=OWN_DEV_TOKEN)


def test_up_reads_the_developer_token_and_refuses_a_shared_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", "shared-token")
    monkeypatch.setenv("SANDBOX_DEVELOPER_TOKEN", "shared-token")
    assert main(["up", "--port", "0"]) == 2
    assert "must differ" in capsys.readouterr().err
    monkeypatch.delenv("SANDBOX_DEVELOPER_TOKEN")
    assert main(["up", "--port", "0", "--developer-token", "short"]) == 2
    assert "8 characters" in capsys.readouterr().err


def test_jenkins_builds_never_see_the_developer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_DEVELOPER_TOKEN", "dev-secret-value")
    assert "SANDBOX_DEVELOPER_TOKEN" not in JenkinsSettings().agent_env("admin-token")
