"""Pipeline builds that run: python-jenkins creates, triggers and reads them; Groovy runs them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jenkins
import pytest
import requests

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.jenkins_testing import (
    inline_job,
    jenkins_client,
    library,
    scm_job,
    started,
)
from tests.gitops_sandbox.sandbox_testing import make_repo

GREET = """
def call(Map config = [:]) {
    withCredentials([string(credentialsId: 'gitlab-api-token', variable: 'TOKEN')]) {
        sh 'echo "token: $TOKEN"'
    }
    echo "greet: ${config.who} via ${libraryResource('greet/word.txt').trim()}"
    currentBuild.description = "greeted ${config.who}"
}
"""
SCRIPTED = """@Library('test-lib') _
node {
    stage('Greet') {
        greet(who: params.WHO)
        sh 'echo "job $JOB_NAME #$BUILD_NUMBER at $GITLAB_URL in $WORKSPACE"'
    }
}
"""
FAILING = "node { stage('Fail') { sh 'echo about to fail; exit 3' } }"
DECLARATIVE = """@Library('test-lib') _
pipeline {
    agent any
    parameters {
        string(name: 'WHO', defaultValue: 'declarative', description: 'whom to greet')
    }
    stages {
        stage('Show') {
            steps {
                sh 'cat app.txt; echo "commit $GIT_COMMIT"'
                greet(who: params.WHO)
            }
        }
    }
}
"""


@pytest.fixture
def jenkins_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose Jenkins has the library `test-lib`."""
    lib = library(tmp_path / "lib", {"greet": GREET}, {"greet/word.txt": "hello\n"})
    with Sandbox.start(state_dir=tmp_path / "state", libraries={"test-lib": lib}) as sb:
        yield sb


@pytest.fixture
def server(jenkins_sandbox: Sandbox) -> Iterator[jenkins.Jenkins]:
    with jenkins_client(jenkins_sandbox) as client:
        yield client


def test_pipeline_builds_run_and_end_success_or_failure(
    jenkins_sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job("greet", inline_job(SCRIPTED, {"WHO": "nobody"}))
    server.create_job("broken", inline_job(FAILING))
    greet = started(server, server.build_job("greet", {"WHO": "sandbox"}))
    broken = started(server, server.build_job("broken"))
    assert jenkins_sandbox.wait_for_builds()

    info = server.get_build_info("greet", greet)
    assert (info["result"], info["building"], info["description"]) == (
        "SUCCESS",
        False,
        "greeted sandbox",
    )
    console = server.get_build_console_output("greet", greet)
    assert "greet: sandbox via hello" in console
    assert "token: ****" in console and jenkins_sandbox.token not in console
    workspace = jenkins_sandbox.state_dir / "jenkins" / "workspace" / "greet"
    assert f"job greet #1 at {jenkins_sandbox.url} in {workspace}" in console
    assert console.rstrip().endswith("Finished: SUCCESS")

    failed = server.get_build_info("broken", broken)
    assert failed["result"] == "FAILURE"
    console = server.get_build_console_output("broken", broken)
    assert "+ exit 3" in console and "ERROR: script returned exit code 3" in console
    assert console.rstrip().endswith("Finished: FAILURE")
    job = server.get_job_info("broken")
    assert (job["color"], job["lastFailedBuild"]["number"]) == ("red", broken)
    assert server.get_job_info("greet")["lastSuccessfulBuild"]["number"] == greet


def test_a_running_build_shows_building_and_can_be_stopped(
    jenkins_sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job(
        "forever", inline_job("node { sh 'touch started; while true; do sleep 1; done' }")
    )
    number = started(server, server.build_job("forever"))
    marker = jenkins_sandbox.state_dir / "jenkins" / "workspace" / "forever" / "started"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    running = server.get_build_info("forever", number)
    assert (running["building"], running["result"]) == (True, None)
    assert server.get_job_info("forever")["color"].endswith("_anime")
    progressive = requests.get(
        f"{jenkins_sandbox.jenkins_url}/job/forever/{number}/logText/progressiveText",
        params={"start": 0},
        auth=("admin", jenkins_sandbox.token),
        timeout=10,
    )
    assert progressive.headers["X-More-Data"] == "true" and "[Pipeline] sh" in progressive.text

    server.stop_build("forever", number)
    assert jenkins_sandbox.wait_for_builds()
    assert server.get_build_info("forever", number)["result"] == "ABORTED"
    assert server.get_build_console_output("forever", number).rstrip().endswith("Finished: ABORTED")


def test_a_jenkinsfile_from_git_runs_at_the_branch_head(
    jenkins_sandbox: Sandbox, server: jenkins.Jenkins, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app", {"Jenkinsfile": DECLARATIVE, "app.txt": "app content\n"})
    project = jenkins_sandbox.create_project("apps/declared", source_dir=repo)
    url = jenkins_sandbox.clone_url("apps/declared", with_token=False)
    server.create_job("declared", scm_job(url))
    first = started(server, server.build_job("declared"))
    assert jenkins_sandbox.wait_for_builds()
    console = server.get_build_console_output("declared", first)
    assert server.get_build_info("declared", first)["result"] == "SUCCESS", console
    head = requests.get(
        f"{jenkins_sandbox.url}/api/v4/projects/{project['id']}/repository/branches/main",
        headers={"PRIVATE-TOKEN": jenkins_sandbox.token},
        timeout=10,
    ).json()["commit"]["id"]
    assert f"Obtained Jenkinsfile from git {url}" in console
    assert f"Checking out Revision {head}" in console and f"commit {head}" in console
    assert "app content" in console and "greet: declarative via hello" in console

    # The declared parameters became the job's, so it now takes them (as on Jenkins).
    definitions = server.get_job_info("declared")["property"][0]["parameterDefinitions"]
    assert [d["name"] for d in definitions] == ["WHO"]
    second = started(server, server.build_job("declared", {"WHO": "again"}))
    assert jenkins_sandbox.wait_for_builds()
    console = server.get_build_console_output("declared", second)
    assert "Fetching changes from the remote Git repository" in console  # workspace kept
    assert "greet: again via hello" in console
