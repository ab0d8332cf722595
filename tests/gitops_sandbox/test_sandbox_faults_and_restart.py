"""Fault injection seen through python-gitlab, and state that survives a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import git
import gitlab
import jenkins
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import deployments_repo


def _admin(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        f"{sandbox.url}/-/sandbox/{path}",
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
        **kwargs,
    )


def test_injected_502_then_success(sandbox: Sandbox, gl: gitlab.Gitlab, project: Project) -> None:
    rule = _admin(
        sandbox,
        "POST",
        "faults",
        json={"method": "GET", "path_prefix": "/api/v4/projects/", "status": 502, "count": 1},
    )
    assert rule.status_code == 201
    with pytest.raises(gitlab.GitlabGetError) as err:
        gl.projects.get(project.id)
    assert err.value.response_code == 502
    assert gl.projects.get(project.id).id == project.id
    assert _admin(sandbox, "GET", "faults").json() == []


def test_python_gitlab_retries_transient_errors(sandbox: Sandbox, project: Project) -> None:
    _admin(
        sandbox,
        "POST",
        "faults",
        json={"route_regex": r"/merge_requests$", "method": "POST", "status": 502, "count": 2},
    )
    with gitlab.Gitlab(
        sandbox.gitlab_url, private_token=sandbox.token, retry_transient_errors=True
    ) as patient:
        proj = patient.projects.get(project.id)
        proj.branches.create({"branch": "flaky", "ref": "main"})
        mr = proj.mergerequests.create(
            {"source_branch": "flaky", "target_branch": "dev", "title": "made it"}
        )
    assert mr.iid == 1
    assert len(project.mergerequests.list(get_all=True)) == 1


def test_injected_delay(sandbox: Sandbox, gl: gitlab.Gitlab, project: Project) -> None:
    _admin(
        sandbox,
        "POST",
        "faults",
        json={"path_prefix": "/api/v4/projects/", "delay": 0.3, "count": 1},
    )
    started = time.monotonic()
    assert gl.projects.get(project.id).id == project.id
    assert time.monotonic() - started >= 0.3
    _admin(sandbox, "POST", "faults", json={"path_prefix": "/api/", "delay": 0.5})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{sandbox.url}/api/v4/user", timeout=0.1, headers={"PRIVATE-TOKEN": sandbox.token}
        )
    assert _admin(sandbox, "DELETE", "faults").status_code == 204


def test_bad_fault_rule_is_400(sandbox: Sandbox) -> None:
    assert _admin(sandbox, "POST", "faults", json={"status": 500}).status_code == 400
    assert (
        _admin(sandbox, "POST", "faults", json={"route_regex": "(", "status": 500}).status_code
        == 400
    )
    assert requests.get(f"{sandbox.url}/-/sandbox/faults", timeout=5).status_code == 401


JOB_XML = "<flow-definition><description>kept</description></flow-definition>"


def test_restart_keeps_state(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with Sandbox.start(state_dir=state_dir) as first:
        first.create_project(
            "platform/k8s-deployments",
            source_dir=deployments_repo(tmp_path / "seed"),
            protected=["main", "dev", "stage", "prod"],
        )
        with gitlab.Gitlab(first.gitlab_url, private_token=first.token) as gl:
            proj = gl.projects.get("platform/k8s-deployments")
            proj.branches.create({"branch": "feature", "ref": "main"})
            mr = proj.mergerequests.create(
                {
                    "source_branch": "feature",
                    "target_branch": "dev",
                    "title": "survives",
                    "labels": ["keep"],
                }
            )
            mr.merge()
            proj.hooks.create({"url": "http://127.0.0.1:9/x", "push_events": False})
        server = jenkins.Jenkins(first.jenkins_url, username="admin", password=first.token)
        server.create_job("kept-job", JOB_XML)
        server._session.close()
        merge_sha = mr.merge_commit_sha
        first_port = first.port

    with Sandbox.start(state_dir=state_dir) as second:
        assert second.port != first_port or second.url
        with gitlab.Gitlab(second.gitlab_url, private_token=second.token) as gl:
            proj = gl.projects.get("platform/k8s-deployments")
            assert proj.http_url_to_repo.startswith(second.url)
            (kept,) = proj.mergerequests.list(get_all=True)
            assert (kept.title, kept.state, kept.labels) == ("survives", "merged", ["keep"])
            assert kept.merge_commit_sha == merge_sha
            assert len(proj.hooks.list(get_all=True)) == 1
            assert sorted(p.name for p in proj.protectedbranches.list(get_all=True)) == [
                "dev",
                "main",
                "prod",
                "stage",
            ]
            proj.branches.create({"branch": "next", "ref": "main"})
            nxt = proj.mergerequests.create(
                {"source_branch": "next", "target_branch": "dev", "title": "after restart"}
            )
            assert nxt.iid == 2
        with git.Repo.clone_from(
            second.clone_url("platform/k8s-deployments"), tmp_path / "clone", branch="dev"
        ) as repo:
            assert repo.head.commit.hexsha == merge_sha
        server = jenkins.Jenkins(second.jenkins_url, username="admin", password=second.token)
        assert server.job_exists("kept-job")
        server._session.close()
