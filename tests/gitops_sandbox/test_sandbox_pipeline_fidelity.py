"""Pipelines as Jenkins runs them (issue 21): junit, options, streaming, git credentials.

Each test drives the sandbox's Jenkins with python-jenkins (and requests for the
progressive console), as their users do, and expects what Jenkins and its plugins
document or do in their source:

- `junit` (JUnit plugin, JUnitResultsStepExecution / JUnitResultArchiver): "Recording
  test results"; failures make the build UNSTABLE (`run.setResult` never improves a
  result, so a failed `sh` stays FAILURE); the report at `<build>/testReport/api/json`
  (hudson.tasks.junit.TestResult), python-jenkins' `get_build_test_report`.
- `options { timeout(...) }` and the `timeout` step (workflow-basic-steps,
  TimeoutStepExecution): "Timeout set to expire in 3 sec", "Cancelling nested steps
  due to timeout", the `sh` told "Sending interrupt signal to process"
  (DurableTaskStep), the build ABORTED with the cause "Timeout has been exceeded".
- `buildDiscarder(logRotator(numToKeepStr:))` (core, LogRotator): after a build, the
  builds beyond the newest N are deleted, except the last successful and the last
  stable ones.
- `disableConcurrentBuilds()` (workflow-job, WorkflowJob.getCauseOfBlockage): a new
  build waits while one runs; with `abortPrevious: true` (WorkflowRun) the new build
  starts and interrupts the running one with Result.NOT_BUILT, "Superseded by #2".
- `sh` output reaches the console as it comes (logText/progressiveText grows while
  the step runs); `returnStdout` still captures.
- git credentials (Git plugin, GitSCM.lookupScanCredentials and GitSCMFileSystem):
  only a *Username with password* (StandardUsernameCredentials) authenticates git; a
  Secret text one is not found, so the fetch goes without credentials and fails.
- Credentials Binding (MultiBinding.getCredentials): a credential of the wrong type
  fails with "Credentials 'x' is of type 'A' where 'B' was expected".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jenkins
import pytest
import requests

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.jenkins_testing import inline_job, jenkins_client, scm_job, started
from tests.gitops_sandbox.sandbox_testing import make_repo

ROOT = Path(__file__).resolve().parents[2]
GIT_CREDENTIAL = "gitlab-git"  # the sandbox's Username with password credential for git

# `make test` for our own Jenkinsfile, quick: it writes the JUnit report pytest's
# --junitxml writes, to the path the Jenkinsfile's PYTEST_ADDOPTS names.
MAKEFILE = "test:\n\tsh report.sh\n"
REPORT_SH = """set -e
out="${{PYTEST_ADDOPTS#--junitxml=}}"
mkdir -p "$(dirname "$out")"
cat > "$out" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="{failures}" skipped="1" tests="3"
 time="0.050" timestamp="2025-01-01T00:00:00.000000" hostname="agent">
<testcase classname="tests.test_app" name="test_one" time="0.010" />
<testcase classname="tests.test_app" name="test_two" time="0.020">{failure}</testcase>
<testcase classname="tests.test_app" name="test_three" time="0.000">
<skipped type="pytest.skip" message="not here">skipped</skipped></testcase>
</testsuite></testsuites>
EOF
echo "tests written to $out"
exit {code}
"""
FAILURE = '<failure message="assert 1 == 2">def test_two():\n&gt;       assert 1 == 2</failure>'


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    # A Jenkins agent's environment, not this run's: under `make test VAR=...` GNU make
    # passes VAR to every make below it through MAKEFLAGS, the build's `make test` too.
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        monkeypatch.delenv(name, raising=False)
    with Sandbox.start(state_dir=tmp_path / "state") as sb:
        yield sb


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[jenkins.Jenkins]:
    with jenkins_client(sandbox) as client:
        yield client


def run(sandbox: Sandbox, server: jenkins.Jenkins, job: str, timeout: float = 120) -> int:
    """Trigger a build of `job`, wait for it to end; its number."""
    number = started(server, server.build_job(job))
    assert sandbox.wait_for_builds(timeout)
    return number


def workspace(sandbox: Sandbox, job: str) -> Path:
    return sandbox.state_dir / "jenkins" / "workspace" / job


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def progressive(sandbox: Sandbox, job: str, number: int) -> requests.Response:
    return requests.get(
        f"{sandbox.jenkins_url}/job/{job}/{number}/logText/progressiveText",
        params={"start": 0},
        auth=("admin", sandbox.token),
        timeout=10,
    )


# --- 1. our own Jenkinsfile: junit and the options ------------------------------------


@pytest.mark.parametrize(
    ("failure", "code", "result"),
    [("", 0, "SUCCESS"), (FAILURE, 0, "UNSTABLE"), (FAILURE, 2, "FAILURE")],
    ids=["all-pass", "a-test-fails", "make-fails"],
)
def test_our_jenkinsfile_runs_from_scm_and_records_its_junit_report(
    sandbox: Sandbox,
    server: jenkins.Jenkins,
    tmp_path: Path,
    failure: str,
    code: int,
    result: str,
) -> None:
    """The repository's own Jenkinsfile, byte for byte, from git: `make test`, then
    `junit` in `post { always }`. A failed test makes the build UNSTABLE; a failed
    `make` keeps it FAILURE (a result only gets worse), the report still recorded."""
    report = REPORT_SH.format(failures=1 if failure else 0, failure=failure, code=code)
    ours = (ROOT / "Jenkinsfile").read_text(encoding="utf-8")
    files = {"Jenkinsfile": ours, "Makefile": MAKEFILE, "report.sh": report}
    repo = make_repo(tmp_path / "self", files)
    assert (repo / "Jenkinsfile").read_bytes() == (ROOT / "Jenkinsfile").read_bytes()
    sandbox.create_project("ci/jenkins-gitops-helpers", source_dir=repo)
    url = sandbox.clone_url("ci/jenkins-gitops-helpers", with_token=False)
    server.create_job("self", scm_job(url, credentials_id=GIT_CREDENTIAL))

    number = run(sandbox, server, "self")
    console = server.get_build_console_output("self", number)
    assert server.get_build_info("self", number)["result"] == result, console
    assert "Timeout set to expire in 45 min" in console
    assert "tests written to build/test-results/pytest.xml" in console
    assert "Recording test results" in console
    assert console.rstrip().endswith(f"Finished: {result}")

    tests = server.get_build_test_report("self", number)
    assert tests is not None and tests["_class"] == "hudson.tasks.junit.TestResult"
    failed = 1 if failure else 0
    counts = (tests["passCount"], tests["failCount"], tests["skipCount"])
    assert counts == (2 - failed, failed, 1)
    (action,) = [
        a
        for a in server.get_build_info("self", number)["actions"]
        if a.get("_class") == "hudson.tasks.junit.TestResultAction"
    ]
    assert (action["failCount"], action["skipCount"], action["totalCount"]) == (failed, 1, 3)
    (suite,) = tests["suites"]
    cases = {c["name"]: c for c in suite["cases"]}
    assert cases["test_three"]["status"] == "SKIPPED"
    assert cases["test_two"]["status"] == ("FAILED" if failure else "PASSED")
    assert cases["test_two"]["className"] == "tests.test_app"
    if failure:
        assert cases["test_two"]["errorDetails"] == "assert 1 == 2"
        assert "assert 1 == 2" in cases["test_two"]["errorStackTrace"]
    # PermalinkProjectAction.Permalink: UNSTABLE counts as successful, not as stable.
    job = server.get_job_info("self")
    successful = None if result == "FAILURE" else {"number": number}
    stable = {"number": number} if result == "SUCCESS" else None
    assert [_number(job["lastSuccessfulBuild"]), _number(job["lastStableBuild"])] == [
        successful,
        stable,
    ]


def _number(build: dict[str, Any] | None) -> dict[str, int] | None:
    return None if build is None else {"number": build["number"]}


def test_junit_without_reports_fails_unless_empty_results_are_allowed(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    """JUnitParser: no file matches -> "No test report files were found. Configuration
    error?", an error unless `allowEmptyResults: true` (then only printed)."""
    allowed = "node { junit(testResults: 'none/*.xml', allowEmptyResults: true); echo 'on' }"
    server.create_job("allowed", inline_job(allowed))
    server.create_job("strict", inline_job("node { junit 'none/*.xml' }"))
    ok, bad = run(sandbox, server, "allowed"), run(sandbox, server, "strict")
    console = server.get_build_console_output("allowed", ok)
    assert server.get_build_info("allowed", ok)["result"] == "SUCCESS", console
    assert "No test report files were found. Configuration error?" in console
    assert "on" in console.splitlines()
    assert server.get_build_test_report("allowed", ok) is None
    console = server.get_build_console_output("strict", bad)
    assert server.get_build_info("strict", bad)["result"] == "FAILURE", console
    assert "ERROR: No test report files were found. Configuration error?" in console


TIMEOUT_OPTION = """pipeline {
    agent any
    options { timeout(time: 3, unit: 'SECONDS') }
    stages {
        stage('Slow') { steps { sh 'echo sleeping; sleep 40; echo woke up' } }
    }
    post {
        always { echo 'post: always' }
        aborted { echo 'post: aborted' }
        success { echo 'post: success' }
    }
}
"""


def test_the_timeout_option_aborts_the_build(sandbox: Sandbox, server: jenkins.Jenkins) -> None:
    server.create_job("slow", inline_job(TIMEOUT_OPTION))
    begun = time.monotonic()
    number = run(sandbox, server, "slow")
    assert time.monotonic() - begun < 30
    console = server.get_build_console_output("slow", number)
    info = server.get_build_info("slow", number)
    assert info["result"] == "ABORTED", console
    lines = console.splitlines()
    for line in (
        "Timeout set to expire in 3 sec",
        "Cancelling nested steps due to timeout",
        "Sending interrupt signal to process",
        "post: always",
        "post: aborted",
        "Timeout has been exceeded",
        "Finished: ABORTED",
    ):
        assert line in lines, (line, console)
    assert "woke up" not in lines and "post: success" not in lines
    assert lines.index("post: always") < lines.index("post: aborted")
    assert lines.index("[Pipeline] End of Pipeline") < lines.index("Timeout has been exceeded")


def test_the_timeout_step_interrupts_its_body_only(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    """A caught FlowInterruptedException leaves the build's result alone."""
    script = """node {
    try {
        timeout(time: 2, unit: 'SECONDS') { sh 'sleep 40' }
    } catch (org.jenkinsci.plugins.workflow.steps.FlowInterruptedException e) {
        echo "caught ${e.result}: ${e.causes*.shortDescription}"
    }
    timeout(1) { echo 'a minute is plenty' }
}"""
    server.create_job("caught", inline_job(script))
    number = run(sandbox, server, "caught")
    console = server.get_build_console_output("caught", number)
    assert server.get_build_info("caught", number)["result"] == "SUCCESS", console
    lines = console.splitlines()
    assert "Timeout set to expire in 2 sec" in lines
    assert "caught ABORTED: [Timeout has been exceeded]" in lines
    assert "Timeout set to expire in 1 min 0 sec" in lines
    assert "a minute is plenty" in lines


DISCARDING = """pipeline {
    agent any
    options { buildDiscarder(logRotator(numToKeepStr: '2')) }
    stages {
        stage('Build') {
            steps {
                script {
                    if (env.BUILD_NUMBER.toInteger() > 2) { error('failing on purpose') }
                }
            }
        }
    }
}
"""


def test_build_discarder_keeps_the_newest_and_the_last_successful(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    """Builds 1 and 2 succeed, 3 to 5 fail; keeping 2 leaves 5, 4 and 2 (the last
    successful and last stable build are never discarded)."""
    server.create_job("rotating", inline_job(DISCARDING))
    for _ in range(5):
        run(sandbox, server, "rotating")
    kept = [b["number"] for b in server.get_job_info("rotating")["builds"]]
    assert kept == [5, 4, 2]
    for gone in (1, 3):
        with pytest.raises(jenkins.JenkinsException, match="does not exist"):
            server.get_build_info("rotating", gone)
        with pytest.raises(jenkins.JenkinsException, match="does not exist"):
            server.get_build_console_output("rotating", gone)
    assert server.get_build_info("rotating", 2)["result"] == "SUCCESS"


def waiting_script(options: str) -> str:
    return f"""pipeline {{
    agent any
    options {{ {options} }}
    stages {{
        stage('Wait') {{
            steps {{
                sh 'touch "$WORKSPACE_TMP-started-$BUILD_NUMBER"; while [ ! -f "$JENKINS_HOME/release" ]; do sleep 0.1; done'
            }}
        }}
    }}
    post {{ notBuilt {{ echo 'post: not built' }} }}
}}
"""  # noqa: E501 - a pipeline as written


def test_disable_concurrent_builds_makes_the_next_build_wait(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job("serial", inline_job(waiting_script("disableConcurrentBuilds()")))
    first = started(server, server.build_job("serial"))
    wait_for(Path(f"{workspace(sandbox, 'serial')}@tmp-started-1"))
    queued = server.build_job("serial")
    time.sleep(2)  # two executors: without the option the second build would start now
    item = server.get_queue_item(queued)
    assert "executable" not in item or item["executable"] is None
    assert (item["_class"], item["blocked"]) == ("hudson.model.Queue$BlockedItem", True)
    assert item["why"] == "Build #1 is already in progress (ETA: N/A)"
    assert [b["number"] for b in server.get_job_info("serial")["builds"]] == [first]

    (sandbox.state_dir / "jenkins" / "release").touch()
    second = started(server, queued)
    assert sandbox.wait_for_builds(60)
    one, two = server.get_build_info("serial", first), server.get_build_info("serial", second)
    assert (one["result"], two["result"]) == ("SUCCESS", "SUCCESS")
    assert two["timestamp"] >= one["timestamp"] + one["duration"]
    assert server.get_job_info("serial")["concurrentBuild"] is False


def test_abort_previous_supersedes_the_running_build(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    options = "disableConcurrentBuilds(abortPrevious: true)"
    server.create_job("latest", inline_job(waiting_script(options)))
    first = started(server, server.build_job("latest"))
    wait_for(Path(f"{workspace(sandbox, 'latest')}@tmp-started-1"))
    second = started(server, server.build_job("latest"))
    deadline = time.monotonic() + 60
    while server.get_build_info("latest", first)["building"]:
        assert time.monotonic() < deadline, "the first build was never superseded"
        time.sleep(0.1)
    console = server.get_build_console_output("latest", first)
    assert server.get_build_info("latest", first)["result"] == "NOT_BUILT", console
    lines = console.splitlines()
    assert "Sending interrupt signal to process" in lines
    assert "post: not built" in lines
    assert "Superseded by #2" in lines and lines[-1] == "Finished: NOT_BUILT"
    assert server.get_build_info("latest", second)["building"]

    (sandbox.state_dir / "jenkins" / "release").touch()
    assert sandbox.wait_for_builds(60)
    assert server.get_build_info("latest", second)["result"] == "SUCCESS"


# --- 2. the console as it grows -------------------------------------------------------


def test_sh_output_streams_to_the_console_while_the_step_runs(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    script = """node {
    def captured = sh(script: 'echo captured; echo to stderr >&2', returnStdout: true).trim()
    echo "returned: ${captured}"
    sh 'echo first line; while [ ! -f "$JENKINS_HOME/release" ]; do sleep 0.1; done; echo second line'
}"""  # noqa: E501 - a pipeline as written
    server.create_job("talker", inline_job(script))
    number = started(server, server.build_job("talker"))
    deadline = time.monotonic() + 60
    while "first line" not in (so_far := progressive(sandbox, "talker", number)).text:
        assert time.monotonic() < deadline, f"no output while the step runs:\n{so_far.text}"
        time.sleep(0.1)
    assert so_far.headers["X-More-Data"] == "true"
    assert "second line" not in so_far.text

    (sandbox.state_dir / "jenkins" / "release").touch()
    assert sandbox.wait_for_builds(60)
    lines = server.get_build_console_output("talker", number).splitlines()
    assert server.get_build_info("talker", number)["result"] == "SUCCESS"
    assert "returned: captured" in lines and "captured" not in lines
    assert "to stderr" in lines  # stderr of a returnStdout sh goes to the console
    assert lines.index("first line") < lines.index("second line")


# --- 3. git credentials -----------------------------------------------------------------


CHECKOUT = """pipeline {
    agent any
    stages {
        stage('Show') {
            steps {
                sh 'cat app.txt'
                withCredentials([usernamePassword(credentialsId: 'gitlab-git',
                                                  usernameVariable: 'GIT_USER',
                                                  passwordVariable: 'GIT_PASSWORD')]) {
                    sh 'echo "user $GIT_USER password $GIT_PASSWORD"'
                }
            }
        }
    }
}
"""


@pytest.fixture
def app_url(sandbox: Sandbox, tmp_path: Path) -> str:
    repo = make_repo(tmp_path / "app", {"Jenkinsfile": CHECKOUT, "app.txt": "app content\n"})
    sandbox.create_project("apps/checked-out", source_dir=repo)
    return sandbox.clone_url("apps/checked-out", with_token=False)


def test_git_takes_a_username_with_password_credential(
    sandbox: Sandbox, server: jenkins.Jenkins, app_url: str
) -> None:
    server.create_job("checked-out", scm_job(app_url, credentials_id=GIT_CREDENTIAL))
    number = run(sandbox, server, "checked-out")
    console = server.get_build_console_output("checked-out", number)
    assert server.get_build_info("checked-out", number)["result"] == "SUCCESS", console
    lines = console.splitlines()
    assert f"Obtained Jenkinsfile from git {app_url}" in lines
    assert f"using credential {GIT_CREDENTIAL}" in lines
    assert "app content" in lines
    assert "user oauth2 password ****" in lines and sandbox.token not in console


@pytest.mark.parametrize("credential", ["gitlab-api-token", "no-such-credential"])
def test_git_refuses_a_secret_text_credential(
    sandbox: Sandbox, server: jenkins.Jenkins, app_url: str, credential: str
) -> None:
    """The Git plugin looks the id up as a StandardUsernameCredentials: a Secret text
    one (or none) is not found, git fetches without credentials, GitLab refuses."""
    server.create_job("refused", scm_job(app_url, credentials_id=credential))
    number = run(sandbox, server, "refused")
    console = server.get_build_console_output("refused", number)
    assert server.get_build_info("refused", number)["result"] == "FAILURE", console
    assert "Obtained Jenkinsfile" not in console
    assert re.search(
        r"^java\.io\.IOException: hudson\.plugins\.git\.GitException: "
        r'Command "git fetch .*" returned status code 128:$',
        console,
        re.MULTILINE,
    ), console
    assert "could not read Username" in console or "Authentication failed" in console


def test_credentials_binding_refuses_the_wrong_type(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    script = """node {
    withCredentials([string(credentialsId: 'gitlab-git', variable: 'TOKEN')]) { echo 'bound' }
}"""
    server.create_job("mistyped", inline_job(script))
    number = run(sandbox, server, "mistyped")
    console = server.get_build_console_output("mistyped", number)
    assert server.get_build_info("mistyped", number)["result"] == "FAILURE", console
    assert (
        "ERROR: Credentials 'gitlab-git' is of type 'Username with password' "
        "where 'Secret text' was expected" in console.splitlines()
    )


# --- 4. the documentation names what runs ----------------------------------------------


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#+ ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def test_the_docs_name_the_plugins_and_every_step_the_sandbox_runs(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    """docs/JENKINS.md lists the plugins a controller needs; docs/SANDBOX.md's "Builds
    run" names every step the sandbox's Jenkins binds (as its own error lists them) and
    "Not emulated" none of them."""
    plugins = section((ROOT / "docs" / "JENKINS.md").read_text(), "### Plugins")
    for plugin in (
        "workflow-aggregator",
        "git",
        "credentials",
        "credentials-binding",
        "gitlab-plugin",
        "junit",
    ):
        assert f"`{plugin}`" in plugins, plugin

    server.create_job("lister", inline_job("node { noSuchStep() }"))
    console = server.get_build_console_output("lister", run(sandbox, server, "lister"))
    found = re.search(r"No such DSL method 'noSuchStep' found among steps \[(.*)\]", console)
    assert found, console
    steps = [s.strip() for s in found.group(1).split(",")]
    assert {"junit", "timeout", "usernamePassword"} <= set(steps)
    sandbox_md = (ROOT / "docs" / "SANDBOX.md").read_text()
    builds_run = section(sandbox_md, "### Builds run")
    not_emulated = section(sandbox_md, "## Not emulated")
    for step in steps:
        assert re.search(rf"`{step}\b", builds_run), step
        assert f"`{step}`" not in not_emulated, step  # (a variant of one may be listed)
