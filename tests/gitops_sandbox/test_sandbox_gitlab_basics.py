"""Auth, projects, branches, files, commits, compare, protected branches: via python-gitlab."""

from __future__ import annotations

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox

WRONG = "not-the-token"


def test_bad_token_is_401_with_gitlabs_body(sandbox: Sandbox) -> None:
    with (
        gitlab.Gitlab(sandbox.gitlab_url, private_token=WRONG) as bad,
        pytest.raises(gitlab.GitlabAuthenticationError) as err,
    ):
        bad.auth()
    assert err.value.response_code == 401
    assert err.value.error_message == "401 Unauthorized"


def test_without_a_token_private_projects_do_not_exist(sandbox: Sandbox, project: Project) -> None:
    """GitLab hides a private project from anonymous callers: 404, not 401."""
    with gitlab.Gitlab(sandbox.gitlab_url) as anonymous:
        assert anonymous.projects.list(get_all=True) == []
        with pytest.raises(gitlab.GitlabGetError) as err:
            anonymous.projects.get(project.path_with_namespace)
        assert (err.value.response_code, err.value.error_message) == (
            404,
            "404 Project Not Found",
        )
        with pytest.raises(gitlab.GitlabHttpError) as err:
            anonymous.http_get(f"/projects/{project.id}/merge_requests")
        assert err.value.response_code == 404
        with pytest.raises(gitlab.GitlabAuthenticationError):
            anonymous.auth()


def test_user_with_private_token_and_with_bearer(sandbox: Sandbox, gl: gitlab.Gitlab) -> None:
    gl.auth()
    assert gl.user is not None and gl.user.username == "root"
    with gitlab.Gitlab(sandbox.gitlab_url, oauth_token=sandbox.token) as bearer:
        bearer.auth()
        assert bearer.user is not None and bearer.user.id == gl.user.id
    assert gl.version()[0].count(".") == 2


def test_project_by_id_and_by_path(sandbox: Sandbox, gl: gitlab.Gitlab, project: Project) -> None:
    by_id = gl.projects.get(project.id)
    assert by_id.path_with_namespace == "platform/k8s-deployments"
    assert project.default_branch == "main"
    assert project.http_url_to_repo == f"{sandbox.url}/platform/k8s-deployments.git"
    assert project.web_url == f"{sandbox.url}/platform/k8s-deployments"
    assert project.namespace["full_path"] == "platform"
    with pytest.raises(gitlab.GitlabGetError) as err:
        gl.projects.get("platform/nope")
    assert err.value.response_code == 404
    assert err.value.error_message == "404 Project Not Found"


def test_create_project_with_namespace_and_readme(gl: gitlab.Gitlab) -> None:
    created = gl.projects.create(
        {"name": "user-service", "namespace": "apps", "initialize_with_readme": True}
    )
    assert created.path_with_namespace == "apps/user-service"
    assert created.empty_repo is False
    readme = created.files.raw(file_path="README.md", ref="main")
    assert readme == b"# user-service\n"
    assert [p.name for p in created.protectedbranches.list(get_all=True)] == ["main"]
    with pytest.raises(gitlab.GitlabCreateError) as err:
        gl.projects.create({"name": "user-service", "namespace": "apps"})
    assert err.value.response_code == 400
    listed = gl.projects.list(search="user-serv", get_all=True)
    assert [p.path_with_namespace for p in listed] == ["apps/user-service"]


def test_branches_create_get_delete(project: Project) -> None:
    names = [b.name for b in project.branches.list(get_all=True)]
    assert names == ["dev", "main", "prod", "stage"]
    dev = project.branches.get("dev")
    assert dev.protected is True and dev.commit["title"] == "dev env"
    new = project.branches.create({"branch": "feature/x", "ref": "dev"})
    assert new.commit["id"] == dev.commit["id"] and new.protected is False
    assert project.branches.get("feature/x").name == "feature/x"
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.branches.create({"branch": "feature/x", "ref": "dev"})
    assert (err.value.response_code, err.value.error_message) == (400, "Branch already exists")
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.branches.create({"branch": "other", "ref": "no-such-ref"})
    assert err.value.error_message == (
        "Failed to create branch 'other': invalid reference name 'no-such-ref'"
    )
    project.branches.delete("feature/x")
    with pytest.raises(gitlab.GitlabGetError) as err:
        project.branches.get("feature/x")
    assert err.value.error_message == "404 Branch Not Found"
    with pytest.raises(gitlab.GitlabDeleteError) as err:
        project.branches.delete("dev")
    assert err.value.response_code == 405


def test_files_get_and_raw(project: Project) -> None:
    env_file = project.files.get(file_path="envs/dev/env.cue", ref="dev")
    assert env_file.decode() == b"replicas: 1\n"
    assert env_file.encoding == "base64"
    assert env_file.file_name == "env.cue"
    assert env_file.ref == "dev"
    assert env_file.last_commit_id == project.branches.get("dev").commit["id"]
    assert project.files.raw(file_path="envs/prod/env.cue", ref="prod") == b"replicas: 3\n"
    with pytest.raises(gitlab.GitlabGetError) as err:
        project.files.get(file_path="envs/dev/env.cue", ref="main")
    assert err.value.error_message == "404 File Not Found"
    tree = project.repository_tree(path="envs", ref="stage", get_all=True)
    assert [(t["name"], t["type"]) for t in tree] == [("stage", "tree")]


def test_commits_list_get_and_compare(project: Project) -> None:
    history = project.commits.list(ref_name="stage", get_all=True)
    assert [c.title for c in history] == ["stage env", "Initial commit"]
    one = project.commits.get(history[0].id)
    assert one.parent_ids == [history[1].id]
    assert one.stats == {"additions": 1, "deletions": 0, "total": 1}
    assert "stats" not in project.commits.get(history[0].id, stats=False).attributes
    (diff,) = one.diff()
    assert (diff["new_path"], diff["collapsed"], diff["too_large"]) == (
        "envs/stage/env.cue",
        False,
        False,
    )
    compared = project.repository_compare("main", "prod")
    assert [c["title"] for c in compared["commits"]] == ["prod env"]
    assert [d["new_path"] for d in compared["diffs"]] == ["envs/prod/env.cue"]
    assert compared["diffs"][0]["new_file"] is True
    assert "+replicas: 3" in compared["diffs"][0]["diff"]


def test_protected_branches_list_and_create(project: Project) -> None:
    names = sorted(p.name for p in project.protectedbranches.list(get_all=True))
    assert names == ["dev", "main", "prod", "stage"]
    project.protectedbranches.create({"name": "release/*"})
    prot = project.protectedbranches.get("release/*")
    assert prot.push_access_levels[0]["access_level"] == 40  # the API's default: Maintainers
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.protectedbranches.create({"name": "dev"})
    assert err.value.response_code == 409


def test_pagination_over_many_branches(
    sandbox: Sandbox, gl: gitlab.Gitlab, project: Project
) -> None:
    for i in range(23):
        project.branches.create({"branch": f"feature-{i:02d}", "ref": "main"})
    everything = project.branches.list(get_all=True)
    assert len(everything) == 27
    page = gl.http_request(
        "get", f"/projects/{project.id}/repository/branches", query_data={"per_page": 20}
    )
    assert page.headers["X-Total"] == "27"
    assert page.headers["X-Total-Pages"] == "2"
    assert page.headers["X-Next-Page"] == "2"
    assert 'rel="next"' in page.headers["Link"]
    second = project.branches.list(page=2, per_page=20)
    assert len(second) == 7
