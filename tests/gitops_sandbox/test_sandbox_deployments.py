"""Deployments and environments through python-gitlab, as GitLab documents them
(doc/api/deployments.md, doc/api/environments.md; the rules are cited in
sandbox/gitops_sandbox/deployments.py)."""

from __future__ import annotations

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox


def _merged(project: Project, target: str, name: str) -> str:
    """An MR into `target` changing one file, merged; its merge commit."""
    branch = f"change/{target}/{name}"
    project.commits.create(
        {
            "branch": branch,
            "start_branch": target,
            "commit_message": f"change {name}",
            "actions": [{"action": "create", "file_path": f"{name}.txt", "content": name}],
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": branch, "target_branch": target, "title": f"Change {name}"}
    )
    mr.merge()
    return str(project.mergerequests.get(mr.iid).merge_commit_sha)


def _deploy(project: Project, env: str, sha: str, status: str = "success") -> object:
    return project.deployments.create(
        {"environment": env, "ref": env, "sha": sha, "tag": False, "status": status}
    )


def test_a_deployment_records_its_environment_and_links_the_merged_mrs(
    project: Project, dev_project: Project
) -> None:
    """A developer records deployments of what a maintainer merged; the environment
    appears with a guessed tier and its newest successful deployment; each deployment
    lists the MRs it shipped."""
    first = _merged(project, "dev", "one")
    dep1 = _deploy(dev_project, "dev", first)
    assert (dep1.status, dep1.ref, dep1.sha, dep1.deployable) == ("success", "dev", first, None)
    assert dep1.user["username"] == "developer"
    assert dep1.environment["name"] == "dev"
    # The first deployment of an environment: every MR merged into its ref.
    assert [m.title for m in dep1.mergerequests.list()] == ["Change one"]

    second = _merged(project, "dev", "two")
    dep2 = _deploy(dev_project, "dev", second)
    # Later ones: the MRs merged since the previous successful deployment.
    assert [m.title for m in dep2.mergerequests.list()] == ["Change two"]
    failed = _deploy(dev_project, "dev", _merged(project, "dev", "three"), "failed")
    assert failed.mergerequests.list() == []

    envs = dev_project.environments.list(get_all=True)
    assert [(e.name, e.tier, e.slug, e.state) for e in envs] == [
        ("dev", "development", "dev", "available")
    ]
    env = dev_project.environments.get(envs[0].id)
    # The last *successful* deployment, without its environment.
    assert (env.last_deployment["id"], env.last_deployment["sha"]) == (dep2.id, second)
    assert "environment" not in env.last_deployment

    listed = dev_project.deployments.list(environment="dev", status="success", get_all=True)
    assert [d.id for d in listed] == [dep1.id, dep2.id]  # order_by id, sort asc
    newest = dev_project.deployments.list(order_by="id", sort="desc", per_page=1, page=1)
    assert [d.id for d in newest] == [failed.id]
    assert dev_project.deployments.list(environment="nowhere") == []
    assert dev_project.deployments.get(dep2.id).iid == dep2.iid == dep1.iid + 1


def test_tiers_explicit_environments_and_status_updates(project: Project) -> None:
    """Tiers guessed as GitLab guesses them; an environment created with a tier and an
    external URL; a running deployment turned successful links its MRs then."""
    sha = _merged(project, "prod", "p")
    for name, tier in (("stage", "staging"), ("prod", "production"), ("eu-west", "other")):
        _deploy(project, name, sha)
        assert project.environments.list(name=name)[0].tier == tier
    made = project.environments.create(
        {"name": "qa-eu", "tier": "testing", "external_url": "https://qa.example.com"}
    )
    assert (made.tier, made.external_url, made.project["path_with_namespace"]) == (
        "testing",
        "https://qa.example.com",
        project.path_with_namespace,
    )
    running = _deploy(project, "qa-eu", sha, "running")
    assert running.mergerequests.list() == []
    assert project.environments.get(made.id).last_deployment is None
    running.status = "success"
    running.save()
    assert project.deployments.get(running.id).status == "success"
    assert [m.title for m in running.mergerequests.list()] == []  # ref qa-eu: nothing merged
    assert project.environments.get(made.id).last_deployment["id"] == running.id


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [
        ("post", "deployments", {"environment": "dev", "ref": "dev"}, 400, "sha is missing"),
        (
            "post",
            "deployments",
            {"environment": "dev", "ref": "dev", "sha": "0" * 40, "tag": "x", "status": "success"},
            400,
            "tag is invalid",
        ),
        (
            "post",
            "deployments",
            {"environment": "dev", "ref": "dev", "sha": "0" * 40, "tag": False, "status": "done"},
            400,
            "status does not have a valid value",
        ),
        (
            "post",
            "deployments",
            {
                "environment": "/dev",
                "ref": "dev",
                "sha": "0" * 40,
                "tag": False,
                "status": "success",
            },
            400,
            "cannot start or end with '/'",
        ),
        ("post", "environments", {"name": "dev", "tier": "live"}, 400, "tier does not have"),
        ("get", "deployments?order_by=name", None, 400, "order_by does not have a valid value"),
        ("get", "environments?search=de", None, 400, "less than 3 characters"),
        ("get", "deployments/999", None, 404, "404 Not found"),
        ("get", "environments/999", None, 404, "404 Not found"),
    ],
)
def test_bad_requests_change_nothing(
    sandbox: Sandbox,
    project: Project,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    answer: str,
) -> None:
    url = f"{sandbox.gitlab_url}/api/v4/projects/{project.id}/{path}"
    got = requests.request(
        method, url, json=body, headers={"PRIVATE-TOKEN": sandbox.token}, timeout=10
    )
    assert got.status_code == status
    assert answer in got.text
    assert project.deployments.list() == []
    assert project.environments.list() == []


def test_duplicate_environment_and_refused_transition(project: Project) -> None:
    project.environments.create({"name": "dev"})
    with pytest.raises(gitlab.GitlabCreateError) as taken:
        project.environments.create({"name": "dev"})
    assert taken.value.response_code == 400
    assert "has already been taken" in str(taken.value.error_message)
    done = _deploy(project, "dev", _merged(project, "dev", "d"))
    done.status = "running"  # `run` only from created
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        done.save()
    assert refused.value.response_code == 400
    assert project.deployments.get(done.id).status == "success"
    assert len(project.environments.list()) == 1


def test_environments_pages_show_the_last_deployment_and_the_history(
    sandbox: Sandbox, project: Project
) -> None:
    """GitLab's Environments page: each environment's last deployment, linked to its
    history, which names the merge requests each deployment shipped."""
    sha = _merged(project, "dev", "web")
    dep = _deploy(project, "dev", sha)
    _deploy(project, "dev", sha, "failed")
    env = project.environments.list(name="dev")[0]
    auth = ("anyone", sandbox.token)
    base = f"{sandbox.gitlab_url}/{project.path_with_namespace}/-/environments"
    listing = requests.get(base, auth=auth, timeout=10)
    assert listing.status_code == 200
    assert f'href="/{project.path_with_namespace}/-/environments/{env.id}">dev</a>' in listing.text
    assert f"#{dep.iid} " in listing.text and sha[:8] in listing.text
    history = requests.get(f"{base}/{env.id}", auth=auth, timeout=10).text
    assert history.count("<tr><td>#") == 2 and "failed" in history and "success" in history
    iid = dep.mergerequests.list()[0].iid
    assert f'/-/merge_requests/{iid}">!{iid}</a>' in history
    assert requests.get(f"{base}/{env.id}", timeout=10).status_code == 401
    assert requests.get(f"{base}/999", auth=auth, timeout=10).status_code == 404
    project_page = requests.get(base.removesuffix("/-/environments"), auth=auth, timeout=10)
    assert (
        f'href="/{project.path_with_namespace}/-/environments">Environments</a>'
        in project_page.text
    )
    assert f'/-/environments/{env.id}">dev</a>: <a href=' in project_page.text
    assert f'/-/commit/{sha}">{sha[:8]}</a></li>' in project_page.text
