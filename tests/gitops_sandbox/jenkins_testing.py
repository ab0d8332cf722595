"""Helpers for the Jenkins build tests: config.xml as python-jenkins users write it, a library."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

import jenkins

from gitops_sandbox import Sandbox

PARAMETER = """
        <hudson.model.StringParameterDefinition>
          <name>{name}</name>
          <defaultValue>{default}</defaultValue>
        </hudson.model.StringParameterDefinition>"""


def _job(definition: str, parameters: dict[str, str] | None = None) -> str:
    props = ""
    if parameters:
        defs = "".join(
            PARAMETER.format(name=escape(n), default=escape(v)) for n, v in parameters.items()
        )
        props = (
            "<hudson.model.ParametersDefinitionProperty><parameterDefinitions>"
            f"{defs}</parameterDefinitions></hudson.model.ParametersDefinitionProperty>"
        )
    return f"""<?xml version='1.1' encoding='UTF-8'?>
<flow-definition plugin="workflow-job">
  <description>sandbox test job</description>
  <properties>{props}</properties>
  {definition}
</flow-definition>
"""


def inline_job(script: str, parameters: dict[str, str] | None = None) -> str:
    """A Pipeline job with its script inline (CpsFlowDefinition)."""
    definition = (
        '<definition class="org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition" '
        f'plugin="workflow-cps"><script>{escape(script)}</script><sandbox>true</sandbox>'
        "</definition>"
    )
    return _job(definition, parameters)


def scm_job(url: str, branch: str = "*/main", credentials_id: str = "gitlab-git") -> str:
    """A Pipeline job whose Jenkinsfile comes from git (CpsScmFlowDefinition + GitSCM)."""
    definition = f"""<definition class="org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition" plugin="workflow-cps">
    <scm class="hudson.plugins.git.GitSCM" plugin="git">
      <configVersion>2</configVersion>
      <userRemoteConfigs>
        <hudson.plugins.git.UserRemoteConfig>
          <url>{escape(url)}</url>
          <credentialsId>{escape(credentials_id)}</credentialsId>
        </hudson.plugins.git.UserRemoteConfig>
      </userRemoteConfigs>
      <branches><hudson.plugins.git.BranchSpec><name>{escape(branch)}</name></hudson.plugins.git.BranchSpec></branches>
    </scm>
    <scriptPath>Jenkinsfile</scriptPath>
    <lightweight>true</lightweight>
  </definition>"""  # noqa: E501 - XML as Jenkins writes it
    return _job(definition)


def library(root: Path, steps: dict[str, str], resources: dict[str, str]) -> Path:
    """A shared library on disk: vars/<name>.groovy and resources/<path>."""
    for name, source in steps.items():
        (root / "vars").mkdir(parents=True, exist_ok=True)
        (root / "vars" / f"{name}.groovy").write_text(source)
    for path, text in resources.items():
        (root / "resources" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "resources" / path).write_text(text)
    return root


def started(server: jenkins.Jenkins, queue_id: int, timeout: float = 60) -> int:
    """The build number a queue item became (as python-jenkins users poll for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executable = server.get_queue_item(queue_id).get("executable")
        if executable:
            return int(executable["number"])
        time.sleep(0.05)
    raise AssertionError(f"queue item {queue_id} never started")


@contextmanager
def jenkins_client(sandbox: Sandbox) -> Iterator[jenkins.Jenkins]:
    """python-jenkins logged in as admin with the sandbox token; its session closed after."""
    client = jenkins.Jenkins(
        sandbox.jenkins_url, username="admin", password=sandbox.token, timeout=30
    )
    try:
        yield client
    finally:
        client._session.close()
