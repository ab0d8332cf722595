"""`demo --gitlab-url URL --project GROUP/NAME`: the use cases on a GitLab the user names.

A second sandbox stands in for the user's GitLab here; the demo talks to it only
through GitLab's REST API and git, as it would to gitlab.com, never through the
sandbox's admin API. It creates the project when missing, resets only what it
created, and refuses someone's project unless told --i-know-what-i-am-doing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from gitops_sandbox import Sandbox
from tests.helpers.apprepo import app_cue, make_app_repo

TOKEN = "real-gitlab-demo-token-5d1e"  # noqa: S105 - the sandbox's test credential


@pytest.fixture(scope="module")
def their_gitlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A GitLab with the test group and, in it, a project that is someone's work."""
    with Sandbox.start(token=TOKEN) as sb:
        work = tmp_path_factory.mktemp("theirs")
        source = make_app_repo(work / "theirs", app_cue("theirs", "registry.example.com/theirs"))
        sb.create_project("gitops-demo/theirs", source_dir=source, protected=["main"])
        yield sb


def demo(sb: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JENKINS_", "GITLAB_"))}
    env["GITLAB_TOKEN"] = TOKEN
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "gitops-helper"),
            "demo",
            *args,
            "--gitlab-url",
            sb.gitlab_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def test_the_demo_creates_its_project_and_runs_there_again(their_gitlab: Sandbox) -> None:
    for _ in range(2):  # the second run resets the branches the first one made
        done = demo(their_gitlab, "A1", "--project", "gitops-demo/k8s-deployments", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["use_cases"][0]["outcome"] == "PASS"
    with gitlab.Gitlab(their_gitlab.gitlab_url, private_token=TOKEN) as gl:
        project = gl.projects.get("gitops-demo/k8s-deployments")
        branches = {b.name for b in project.branches.list(get_all=True)}
        assert {"main", "dev", "stage", "prod"} <= branches
        protected = {p.name for p in project.protectedbranches.list(get_all=True)}
        assert protected == {"main", "dev", "stage", "prod"}
        assert gl.projects.get("gitops-demo/example-app").default_branch == "main"


def test_someone_elses_project_is_refused_unless_told(their_gitlab: Sandbox) -> None:
    with gitlab.Gitlab(their_gitlab.gitlab_url, private_token=TOKEN) as gl:
        before = gl.projects.get("gitops-demo/theirs").branches.get("main").commit["id"]
        done = demo(their_gitlab, "A1", "--project", "gitops-demo/theirs")
        assert done.returncode == 2
        assert "gitops-demo/theirs has branches the demo did not create" in done.stderr
        assert "--i-know-what-i-am-doing" in done.stderr
        after = gl.projects.get("gitops-demo/theirs").branches.get("main").commit["id"]
        assert after == before, "nothing was pushed"

        done = demo(
            their_gitlab,
            "A1",
            "--project",
            "gitops-demo/theirs",
            "--i-know-what-i-am-doing",
            "--json",
        )
        assert done.returncode == 0, done.stderr
        branches = {b.name for b in gl.projects.get("gitops-demo/theirs").branches.list()}
        assert {"dev", "stage", "prod"} <= branches


def test_real_gitlab_options_go_together(their_gitlab: Sandbox) -> None:
    done = demo(their_gitlab, "A1")
    assert done.returncode == 2 and "--gitlab-url needs --project" in done.stderr
