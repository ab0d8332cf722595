"""What one build runs: its pipeline script, SCM, environment, as the runner's JSON spec.

At the start of a build Jenkins reads the job's pipeline definition: an inline
script, or a Jenkinsfile from git (`jenkins_scm.py`, at the branch's head, which
`checkout scm` then checks out). The build's steps see the agent's environment,
the global properties and Jenkins' build variables (BUILD_NUMBER, BUILD_URL,
JOB_NAME, JENKINS_URL, ...; WORKSPACE is set inside `node`, GIT_COMMIT by
`checkout scm`).

Credentials come in the two kinds the Credentials plugin's users meet: the Secret
text ones of `JenkinsSettings` (`gitlab-api-token`, for `withCredentials([string(...)])`)
and one *Username with password*, `gitlab-git` (user `oauth2`, password the sandbox's
token: GitLab takes a token as the password of git over HTTP), the kind the Git
plugin needs to fetch a repository (`usernamePassword(...)` binds it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from gitops_sandbox import jenkins_jobs
from gitops_sandbox.jenkins_config import JenkinsSettings
from gitops_sandbox.jenkins_scm import CheckoutError, read_pipeline

GIT_CREDENTIAL = "gitlab-git"  # a credential id, not a secret
GIT_USERNAME = "oauth2"


class BuildFailed(Exception):
    """The build cannot run; the message goes to its console (after `ERROR: ` unless `raw`)."""

    def __init__(self, message: str, *, raw: bool = False) -> None:
        super().__init__(message)
        self.raw = raw  # a Java exception's text as Jenkins prints it, not an ERROR line


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
    result_file: Path  # in the build's directory, with the other files the runner writes

    @property
    def test_report_file(self) -> Path:
        """The `junit` steps' TestResult (as `<build>/testReport/api/json` answers)."""
        return self.result_file.parent / "junitResult.json"

    @property
    def properties_file(self) -> Path:
        """The job properties a declarative `options { }` set, written as the build starts."""
        return self.result_file.parent / "properties.json"


def username_passwords(settings: JenkinsSettings, token: str) -> dict[str, tuple[str, str]]:
    """The Username with password credentials: `gitlab-git`, unless a Secret text has its id."""
    if GIT_CREDENTIAL in settings.credentials:
        return {}
    return {GIT_CREDENTIAL: (GIT_USERNAME, token)}


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
    logins = username_passwords(settings, token)
    script, scm = definition.script, None
    if definition.url:
        # Only a Username with password authenticates git (GitSCMFileSystem): another
        # kind of credential, or none with that id, means no credentials at all.
        login = logins.get(definition.credentials_id or "")
        try:
            commit, script = read_pipeline(root / "scm" / f"{build.job}.git", definition, login)
        except CheckoutError as e:
            raise BuildFailed(str(e), raw=str(e).startswith("java.")) from e
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
        "usernamePasswords": {
            cid: {"username": user, "password": password}
            for cid, (user, password) in logins.items()
        },
        "params": [
            {"name": p["name"], "value": p["value"], "type": build.types.get(p["name"])}
            for p in build.parameters
        ],
        "scm": scm,
        "number": build.number,
        "resultFile": str(build.result_file),
        "testReportFile": str(build.test_report_file),
        "propertiesFile": str(build.properties_file),
    }
