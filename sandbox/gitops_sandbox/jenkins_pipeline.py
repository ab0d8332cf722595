"""What one build runs: its pipeline script, SCM, environment, as the runner's JSON spec.

At the start of a build Jenkins reads the job's pipeline definition: an inline
script, or a Jenkinsfile from git (`jenkins_scm.py`, at the branch's head, which
`checkout scm` then checks out). The build's steps see the agent's environment,
the global properties and Jenkins' build variables (BUILD_NUMBER, BUILD_URL,
JOB_NAME, JENKINS_URL, ...; WORKSPACE is set inside `node`, GIT_COMMIT by
`checkout scm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from gitops_sandbox import jenkins_jobs
from gitops_sandbox.jenkins_config import JenkinsSettings
from gitops_sandbox.jenkins_scm import CheckoutError, read_pipeline


class BuildFailed(Exception):
    """The build cannot run; the message goes to its console after `ERROR: `."""


@dataclass(frozen=True)
class Build:
    """The build being prepared, and where."""

    job: str
    number: int
    slot: int  # the executor's number
    config: str  # the job's config.xml
    cls: str  # the job's class
    parameters: list[dict[str, Any]]  # name, value
    types: dict[str, str]  # parameter name -> definition type
    workspace: Path
    result_file: Path


def environment(
    settings: JenkinsSettings, token: str, base_url: str, build: Build, root: Path
) -> dict[str, str]:
    """What a build's steps see: the agent's, global properties, Jenkins' build variables."""
    job, number = build.job, build.number
    job_url = f"{base_url}/jenkins/job/{quote(job, safe='')}/"
    return {
        **settings.agent_env(token),
        **settings.global_env(base_url),
        "BUILD_NUMBER": str(number),
        "BUILD_ID": str(number),
        "BUILD_DISPLAY_NAME": f"#{number}",
        "BUILD_TAG": f"jenkins-{job}-{number}",
        "BUILD_URL": f"{job_url}{number}/",
        "JOB_NAME": job,
        "JOB_BASE_NAME": job,
        "JOB_URL": job_url,
        "JENKINS_URL": f"{base_url}/jenkins/",
        "JENKINS_HOME": str(root),
        "NODE_NAME": "built-in",
        "NODE_LABELS": "built-in",
        "EXECUTOR_NUMBER": str(build.slot),
    }


def spec(
    settings: JenkinsSettings,
    token: str,
    base_url: str,
    build: Build,
    root: Path,
    log: IO[bytes],
) -> dict[str, Any] | None:
    """The runner's input for `build`, or None when there is nothing to run (freestyle)."""
    try:
        definition = jenkins_jobs.pipeline(build.config)
    except jenkins_jobs.ConfigError as e:
        raise BuildFailed(str(e)) from e
    if definition is None:
        if build.cls == "hudson.model.FreeStyleProject":
            log.write(b"Freestyle build steps are not run by the sandbox's Jenkins\n")
            return None
        raise BuildFailed("the job has no pipeline definition (<definition> in config.xml)")
    credentials = settings.credential_store(token)
    script, scm = definition.script, None
    if definition.url:
        secret = credentials.get(definition.credentials_id or "")
        try:
            commit, script = read_pipeline(root / "scm" / f"{build.job}.git", definition, secret)
        except CheckoutError as e:
            raise BuildFailed(str(e)) from e
        log.write(f"Obtained {definition.script_path} from git {definition.url}\n".encode())
        scm = {
            "url": definition.url,
            "branch": definition.branch,
            "commit": commit,
            "credentialsId": definition.credentials_id,
        }
    return {
        "script": script,
        "libraries": {name: str(path) for name, path in settings.libraries.items()},
        "workspace": str(build.workspace),
        "env": environment(settings, token, base_url, build, root),
        "credentials": credentials,
        "params": [
            {"name": p["name"], "value": p["value"], "type": build.types.get(p["name"])}
            for p in build.parameters
        ],
        "scm": scm,
        "number": build.number,
        "resultFile": str(build.result_file),
    }
