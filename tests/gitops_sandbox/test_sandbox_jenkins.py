"""The Jenkins side through python-jenkins: jobs, reconfiguration, parameters, job kinds.

Pipeline builds that really run are in test_sandbox_jenkins_builds.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import jenkins
import pytest
import requests

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.jenkins_testing import jenkins_client

CONFIG = """<?xml version='1.1' encoding='UTF-8'?>
<flow-definition plugin="workflow-job">
  <description>example-app pipeline</description>
  <properties>
    <hudson.model.ParametersDefinitionProperty>
      <parameterDefinitions>
        <hudson.model.StringParameterDefinition>
          <name>IMAGE_TAG</name>
          <description>Image tag to promote</description>
          <defaultValue>1.0.0</defaultValue>
        </hudson.model.StringParameterDefinition>
        <hudson.model.StringParameterDefinition>
          <name>TARGET_ENV</name>
          <defaultValue>dev</defaultValue>
        </hudson.model.StringParameterDefinition>
      </parameterDefinitions>
    </hudson.model.ParametersDefinitionProperty>
  </properties>
</flow-definition>
"""


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[jenkins.Jenkins]:
    """A python-jenkins client logged in as admin with the sandbox token."""
    with jenkins_client(sandbox) as client:
        yield client


def test_version_whoami_and_bad_password(sandbox: Sandbox, server: jenkins.Jenkins) -> None:
    assert server.get_version().count(".") >= 1
    assert server.get_whoami()["id"] == "admin"
    bad = jenkins.Jenkins(sandbox.jenkins_url, username="admin", password=sandbox.token + "x")
    with pytest.raises(jenkins.JenkinsException):
        bad.get_whoami()
    bad._session.close()


def test_job_lifecycle_and_parameterised_build(sandbox: Sandbox, server: jenkins.Jenkins) -> None:
    server.create_job("example-app", CONFIG)
    assert server.job_exists("example-app")
    assert [j["name"] for j in server.get_jobs()] == ["example-app"]
    assert server.get_job_config("example-app") == CONFIG
    with pytest.raises(jenkins.JenkinsException, match="already exists"):
        server.create_job("example-app", CONFIG)

    reconfigured = CONFIG.replace("example-app pipeline", "reconfigured")
    server.reconfig_job("example-app", reconfigured)
    assert server.get_job_config("example-app") == reconfigured
    info = server.get_job_info("example-app")
    assert info["description"] == "reconfigured" and info["nextBuildNumber"] == 1
    definitions = info["property"][0]["parameterDefinitions"]
    assert [d["name"] for d in definitions] == ["IMAGE_TAG", "TARGET_ENV"]

    queue_id = server.build_job("example-app", {"IMAGE_TAG": "1.0.42", "SNEAKY": "x"})
    assert sandbox.wait_for_builds()
    item = server.get_queue_item(queue_id)
    assert item["executable"]["number"] == 1
    build = server.get_build_info("example-app", 1)
    # A Pipeline job without a pipeline definition cannot run, as on Jenkins.
    assert build["result"] == "FAILURE" and build["building"] is False
    assert "ERROR: the job has no pipeline definition" in server.get_build_console_output(
        "example-app", 1
    )
    assert server.get_job_info("example-app")["lastBuild"]["number"] == 1

    reported = requests.get(
        f"{sandbox.url}/-/sandbox/jenkins/builds",
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
    ).json()
    assert [b["parameters"] for b in reported] == [
        [{"name": "IMAGE_TAG", "value": "1.0.42"}, {"name": "TARGET_ENV", "value": "dev"}]
    ]
    assert reported[0]["job"] == "example-app" and reported[0]["number"] == 1
    assert sandbox.jenkins_builds("example-app")[0]["queue_id"] == queue_id

    server.delete_job("example-app")
    assert not server.job_exists("example-app")
    with pytest.raises(jenkins.NotFoundException):
        server.get_job_config("example-app")


def test_unparameterised_job(sandbox: Sandbox, server: jenkins.Jenkins) -> None:
    server.create_job("plain", "<project><description/></project>")
    assert server.get_job_info("plain")["_class"] == "hudson.model.FreeStyleProject"
    server.disable_job("plain")
    assert server.get_job_info("plain")["disabled"] is True
    server.enable_job("plain")
    assert server.get_job_info("plain")["buildable"] is True
    server.build_job("plain")
    assert sandbox.wait_for_builds()
    assert server.get_build_info("plain", 1)["result"] == "NOT_BUILT"  # freestyle steps: not run
    # Jenkins: IllegalStateException "This build is not parameterized!", a 500
    # (ParameterizedJobMixIn.doBuildWithParameters), python-jenkins' JenkinsException.
    with pytest.raises(jenkins.JenkinsException, match=r"\[500\]"):
        server.build_job("plain", {"X": "1"})
    with pytest.raises(jenkins.JenkinsException):
        server.create_job("broken", "<project>")
