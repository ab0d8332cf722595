"""Fault injection seen through python-gitlab, and state that survives a restart."""

from __future__ import annotations

import json
import socket
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
    for bad in ({}, {"drip": -1}, {"drip": "slow"}, {"drip": True}, {"drip_headers": True}):
        rule = {"path_prefix": "/api/", **bad}
        assert _admin(sandbox, "POST", "faults", json=rule).status_code == 400, bad
    assert requests.get(f"{sandbox.url}/-/sandbox/faults", timeout=5).status_code == 401


def _raw_get(sandbox: Sandbox, path: str) -> list[tuple[float, bytes]]:
    """GET `path` on a plain socket: each piece as it arrived, with when (seconds)."""
    pieces: list[tuple[float, bytes]] = []
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=30) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"PRIVATE-TOKEN: {sandbox.token}\r\n\r\n".encode()
        )
        started = time.monotonic()
        while piece := sock.recv(65536):
            pieces.append((time.monotonic() - started, piece))
    return pieces


def _arrived(pieces: list[tuple[float, bytes]], size: int) -> float:
    """When the first `size` bytes were in."""
    received = 0
    for at, piece in pieces:
        received += len(piece)
        if received >= size:
            return at
    raise AssertionError(f"only {received} bytes came")


def test_a_dripping_answer_sends_the_headers_then_the_body_a_byte_at_a_time(
    sandbox: Sandbox,
) -> None:
    """As a slow proxy passes an answer on: status line and headers at once, with the
    whole body's Content-Length, then one body byte every `drip` seconds."""
    _admin(
        sandbox,
        "POST",
        "faults",
        json={"path_prefix": "/api/v4/user", "status": 502, "body": {"pad": "x" * 12}, "drip": 0.1},
    )
    pieces = _raw_get(sandbox, "/api/v4/user")
    answer = b"".join(p for _, p in pieces)
    head, _, got = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 BAD GATEWAY\r\n")
    assert f"Content-Length: {len(got)}".encode() in head.split(b"\r\n")
    assert json.loads(got) == {"pad": "x" * 12}
    headers_at = _arrived(pieces, len(head) + 4)
    assert pieces[-1][0] - headers_at >= (len(got) - 1) * 0.1, (
        "the headers at once, then the body one byte every 0.1 s"
    )
    assert len(pieces) > len(got) // 2, "in many pieces"


def test_a_drip_can_start_at_the_status_line_and_passes_the_real_answer_on(
    sandbox: Sandbox, gl: gitlab.Gitlab, project: Project
) -> None:
    """With `drip_headers`, every byte from the status line on drips; without `status`
    the answer is GitLab's own, whole (python-gitlab reads it as usual)."""
    _admin(
        sandbox,
        "POST",
        "faults",
        json={"path_prefix": "/api/v4/version", "drip": 0.01, "drip_headers": True, "count": 2},
    )
    pieces = _raw_get(sandbox, "/api/v4/version")
    answer = b"".join(p for _, p in pieces)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    head = answer.partition(b"\r\n\r\n")[0]
    assert _arrived(pieces, len(head) + 4) >= (len(head) + 3) * 0.01, "the headers drip too"
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["version"]
    assert gl.version()[0] != "unknown"  # the second dripping answer, read whole
    _admin(
        sandbox,
        "POST",
        "faults",
        json={"path_prefix": "/api/v4/projects/", "drip": 0.001, "count": None},
    )
    assert gl.projects.get(project.id).path_with_namespace == project.path_with_namespace
    (rule,) = _admin(sandbox, "GET", "faults").json()
    assert (rule["drip"], rule["drip_headers"], rule["hits"]) == (0.001, False, 1)


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
