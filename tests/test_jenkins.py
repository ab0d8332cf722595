"""The Jenkins module against the sandbox's Jenkins: real HTTP through python-jenkins, real builds.

One sandbox for the module, seeded (k8s-deployments with dev one promotion ahead of
stage), with this repository as the `jenkins-gitops-helpers` library and the
project's own `gitops-helper` on the agent's PATH; so a job made from
promote-env.xml really runs gitopsPromoteEnv -> gitops-helper promote-env -> GitLab.
"""

from __future__ import annotations

import base64
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import gitlab
import pytest
import requests

from gitops_sandbox import DEPLOYMENTS, EXAMPLE_APP, Sandbox, seed_default
from jenkins_helpers import jenkins, retry, secrets
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.jenkins import Jenkins, JenkinsAccess, access_from_environment, job_config
from jenkins_helpers.jenkins_jobs import placeholders
from tests.gitops_sandbox.jenkins_testing import inline_job, jenkins_client, started
from tests.helpers.groovy import ROOT, agent_path, dev_ahead_of_stage
from tests.helpers.secretscan import recoverable
from webhook.executors import RESULT_MARKER

TOKEN = "jenkins-api-test-token-5b7e1f"  # noqa: S105 - the sandbox's test credential
FAKE_DOCKER = '#!/bin/sh\necho "fake docker $*"\n'
PROMOTE_ENV_VALUES = {
    "project": DEPLOYMENTS,
    "gitlab_url": "",  # the agent's GITLAB_URL: the sandbox sets it
    "credentials_id": "gitlab-api-token",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The seeded sandbox, dev ahead of stage, the library and the real CLI; stopped after."""
    work = tmp_path_factory.mktemp("jenkins")
    (work / "bin").mkdir()
    (work / "bin" / "docker").write_text(FAKE_DOCKER)
    (work / "bin" / "docker").chmod(0o755)
    with Sandbox.start(
        token=TOKEN,
        libraries={"jenkins-gitops-helpers": ROOT},
        agent_path=agent_path(work / "bin", Path(sys.executable).parent),
    ) as sb:
        seed_default(sb)
        dev_ahead_of_stage(sb, work)
        yield sb


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[Jenkins]:
    """Our client, as the sandbox's admin."""
    with Jenkins(JenkinsAccess(sandbox.jenkins_url, "admin", TOKEN)) as client:
        yield client


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry without waiting, so fault tests stay quick."""
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.01, 0.01, 0.01))


# --- configuration and templates (no server) ------------------------------------------


def test_access_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JENKINS_URL", "JENKINS_USER", "JENKINS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BadInput) as err:
        access_from_environment()
    assert [line.split(":")[0] for line in err.value.message.splitlines()[1:]] == [
        "  JENKINS_URL",
        "  JENKINS_USER",
        "  JENKINS_TOKEN",
    ]
    monkeypatch.setenv("JENKINS_URL", "https://jenkins.example.com/")
    monkeypatch.setenv("JENKINS_USER", "gitops-bot")
    monkeypatch.setenv("JENKINS_TOKEN", f" {TOKEN}\n")
    access = access_from_environment()
    assert access == JenkinsAccess("https://jenkins.example.com", "gitops-bot", TOKEN)
    assert TOKEN not in repr(access)
    monkeypatch.setenv("JENKINS_URL", f"https://bot:{TOKEN}@jenkins.example.com")
    with pytest.raises(BadInput) as err:
        access_from_environment()
    assert TOKEN not in f"{err.value.message} {err.value.hint}"
    assert "JENKINS_TOKEN" in str(err.value.hint)


def test_templates_are_package_data() -> None:
    """A pip-installed tool ships the job templates next to its code."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (
        "jenkins_jobs/*.xml" in pyproject["tool"]["setuptools"]["package-data"]["jenkins_helpers"]
    )
    assert placeholders("promote-env") == ["project", "gitlab_url", "credentials_id"]
    assert placeholders("app-pipeline") == [
        "branch",
        "push_token",
        "repository_url",
        "credentials_id",
    ]


def test_values_are_escaped_for_xml_and_for_groovy() -> None:
    """A value cannot end the script's string nor the XML element it stands in."""
    hostile = "group/x'); sh('touch marker') //</script>${env.X}\\"
    config = job_config("promote-env", **{**PROMOTE_ENV_VALUES, "project": hostile})
    script = ET.fromstring(config).findtext("definition/script") or ""  # noqa: S314 - ours
    literal = "'group/x\\'); sh(\\'touch marker\\') //</script>${env.X}\\\\'"
    assert f"project: {literal}, gitlabUrl: null," in script
    app = job_config(
        "app-pipeline",
        repository_url="https://h/a.git?x=1&y=<2>",
        branch="main",
        credentials_id="c",
        push_token="",
    )
    url = ET.fromstring(app).findtext(".//userRemoteConfigs//url")  # noqa: S314 - ours
    assert url == "https://h/a.git?x=1&y=<2>"


def test_template_misuse_is_bad_input() -> None:
    with pytest.raises(BadInput, match="missing branch; unknown brnch"):
        job_config(
            "app-pipeline", repository_url="u", brnch="main", credentials_id="c", push_token=""
        )
    with pytest.raises(BadInput, match="no Jenkins job template 'promote'"):
        job_config("promote")
    with pytest.raises(BadInput, match="branch must be text on one line"):
        job_config(
            "app-pipeline", repository_url="u", branch="main\n", credentials_id="c", push_token=""
        )


def test_names_and_parameters_are_checked_before_any_request(server: Jenkins) -> None:
    for bad in ("", "a:b", "../x", "x\ny", "folder//job"):
        with pytest.raises(BadInput, match="invalid Jenkins job name"):
            server.job_exists(bad)
    with pytest.raises(BadInput, match="invalid build parameter 'FROM TO'"):
        server.run("promote-env", {"FROM TO": "dev"}, timeout=5)
    with pytest.raises(BadInput, match="not well-formed XML"):
        server.ensure_job("broken", "<flow-definition>")


# --- jobs -----------------------------------------------------------------------------


def test_ensure_job_creates_updates_and_leaves_unchanged(server: Jenkins, sandbox: Sandbox) -> None:
    url = sandbox.clone_url(EXAMPLE_APP, with_token=False)
    values = {"repository_url": url, "credentials_id": "gitlab-git", "push_token": ""}
    main = job_config("app-pipeline", branch="main", **values)
    assert not server.job_exists("app-ensure")
    assert server.ensure_job("app-ensure", main) == "created"
    assert server.job_exists("app-ensure")
    assert server.ensure_job("app-ensure", main) == "unchanged"

    # Jenkins' own copy after a save: other layout, plugin versions added. Same meaning.
    saved = re.sub(r'plugin="([\w-]+)"', r'plugin="\1@1.2.3"', main).replace("\n  ", "\n    ")
    with jenkins_client(sandbox) as raw:
        raw.reconfig_job("app-ensure", saved)
    assert server.ensure_job("app-ensure", main) == "unchanged"

    release = job_config("app-pipeline", branch="release", **values)
    assert server.ensure_job("app-ensure", release) == "updated"
    with jenkins_client(sandbox) as raw:
        assert "<name>*/release</name>" in raw.get_job_config("app-ensure")


def test_delete_job(server: Jenkins) -> None:
    server.ensure_job("doomed", inline_job("node { echo 'hi' }"))
    assert server.delete_job("doomed") is True
    assert not server.job_exists("doomed")
    assert server.delete_job("doomed") is False


# --- builds ---------------------------------------------------------------------------


def test_a_promote_env_job_promotes_dev_to_stage(server: Jenkins, sandbox: Sandbox) -> None:
    """promote-env.xml -> gitopsPromoteEnv -> gitops-helper promote-env -> the stage MR."""
    assert server.ensure_job("promote-env", job_config("promote-env", **PROMOTE_ENV_VALUES)) in (
        "created",
        "unchanged",
    )
    outcome = server.run(
        "promote-env", {"FROM": "dev", "TO": "stage"}, timeout=300, report_marker=RESULT_MARKER
    )
    assert outcome.succeeded, outcome.console_tail
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        (mr,) = gl.projects.get(DEPLOYMENTS).mergerequests.list(
            state="opened", target_branch="stage", get_all=True
        )
    assert outcome.report is not None and (outcome.report["source"], outcome.report["target"]) == (
        "dev",
        "stage",
    )
    assert [
        (u["unit"], u["status"], u["mr_iid"], u["mr_url"]) for u in outcome.report["units"]
    ] == [("example-app", "created", mr.iid, mr.web_url)]
    assert outcome.description == f"dev -> stage: example-app !{mr.iid} created"
    assert f"gitopsPromoteEnv: dev -> stage: example-app 1.0.1: !{mr.iid} created" in (
        outcome.console_tail
    )
    assert mr.web_url in outcome.console_tail
    assert outcome.url == f"{sandbox.jenkins_url}/job/promote-env/{outcome.number}/"
    assert TOKEN not in outcome.console_tail


def test_the_report_is_the_last_marked_line_of_the_console() -> None:
    """What a step printed on its marked line, even after a timestamp; only the last
    marked line counts, and one that is not a JSON object is no report."""
    marker = "step result (JSON): "
    secrets.register(TOKEN)
    first = f'{marker}{{"n": 1}}'
    last = f'[2025-01-02T03:04:05Z] {marker}{{"n": 2, "token": "{TOKEN}"}}'
    assert jenkins.console_report(f"a\n{first}\nb\n{last}\nFinished: SUCCESS\n", marker) == {
        "n": 2,
        "token": "*****",
    }
    assert jenkins.console_report(f"{first}\n{marker}{{not json\n", marker) is None
    assert jenkins.console_report(f"{marker}[1, 2]\n", marker) is None
    assert jenkins.console_report("no marker here\n", marker) is None


def test_a_failing_build_is_reported_with_its_console_tail(server: Jenkins) -> None:
    server.ensure_job("promote-env", job_config("promote-env", **PROMOTE_ENV_VALUES))
    outcome = server.run("promote-env", {"FROM": "dev", "TO": "prod"}, timeout=300)
    assert (outcome.result, outcome.succeeded) == ("FAILURE", False)
    tail = outcome.console_tail.splitlines()
    assert "error: dev -> prod skips stage" in tail
    assert tail[-2].startswith(
        "ERROR: gitopsPromoteEnv: gitops-helper rejected the input for promoting dev -> prod"
    )
    assert tail[-1] == "Finished: FAILURE"


def test_an_app_pipeline_job_runs_the_apps_jenkinsfile(server: Jenkins, sandbox: Sandbox) -> None:
    """app-pipeline.xml: the pipeline comes from the app repository, with the credential."""
    config = job_config(
        "app-pipeline",
        repository_url=sandbox.clone_url(EXAMPLE_APP, with_token=False),
        branch="main",
        credentials_id="gitlab-git",
        push_token="",
    )
    assert server.ensure_job("example-app", config) == "created"
    # The Jenkinsfile builds what the commit's VERSION says (1.0.0).
    outcome = server.run("example-app", {}, timeout=300)
    assert outcome.succeeded, outcome.console_tail
    assert "fake docker push registry.example.com/example-app:1.0.0" in outcome.console_tail
    assert re.fullmatch(r"example-app 1\.0\.0 -> dev: !\d+ created", outcome.description or "")


def test_a_push_starts_a_build_only_on_the_jobs_branch(server: Jenkins, sandbox: Sandbox) -> None:
    """The GitLab plugin's NameBasedFilter: a push to another branch starts nothing.
    (The job's branch does not exist: the build it starts fails at checkout, harmlessly.)"""
    config = job_config(
        "app-pipeline",
        repository_url=sandbox.clone_url(EXAMPLE_APP, with_token=False),
        branch="release",
        credentials_id="gitlab-git",
        push_token="push-secret-1234",  # noqa: S106 - made up
    )
    server.ensure_job("pushed-app", config)
    url = f"{sandbox.jenkins_url}/project/pushed-app"

    def push(ref: str) -> requests.Response:
        headers = {"X-Gitlab-Token": "push-secret-1234", "X-Gitlab-Event": "Push Hook"}
        return requests.post(url, json={"ref": ref}, headers=headers, timeout=10)

    ignored = push("refs/heads/main")
    assert ignored.status_code == 200 and "Ignored" in ignored.text
    started = push("refs/heads/release")
    assert started.status_code == 200 and "Scheduled build of pushed-app" in started.text
    server.delete_job("pushed-app")


def test_the_console_tail_never_shows_the_token(server: Jenkins) -> None:
    """Even a pipeline that prints the token as text (Jenkins masks only bound credentials)."""
    script = f"node {{ echo 'configured with {TOKEN}'; error('stop') }}"
    server.ensure_job("leaky", inline_job(script))
    outcome = server.run("leaky", {}, timeout=120)
    assert outcome.result == "FAILURE"
    assert "configured with *****" in outcome.console_tail
    assert TOKEN not in outcome.console_tail


def test_a_build_that_outlives_the_timeout_is_left_running(
    server: Jenkins, sandbox: Sandbox
) -> None:
    server.ensure_job("sleeper", inline_job("node { sh 'sleep 5' }"))
    with pytest.raises(UserError) as err:
        server.run("sleeper", {}, timeout=1)
    where = f"{sandbox.jenkins_url}/job/sleeper/"
    assert re.fullmatch(
        rf"build #(\d+) of job sleeper was still running after 1 s: {where}\1/", err.value.message
    )
    assert sandbox.wait_for_builds(60)
    assert sandbox.jenkins_builds("sleeper")[-1]["result"] == "SUCCESS"


def test_a_build_that_cannot_start_in_time_leaves_the_queue(
    server: Jenkins, sandbox: Sandbox
) -> None:
    """Both executors busy: the waiting build is cancelled, not left to run later."""
    server.ensure_job("blocker", inline_job("node { sh 'sleep 30' }"))
    server.ensure_job("waiter", inline_job("node { echo 'ran' }"))
    with jenkins_client(sandbox) as raw:
        busy = [started(raw, raw.build_job("blocker")) for _ in range(2)]
        try:
            with pytest.raises(UserError) as err:
                server.run("waiter", {}, timeout=1)
        finally:
            for number in busy:
                raw.stop_build("blocker", number)
    assert err.value.message.startswith(
        "the build of job waiter did not start within 1 s (Jenkins: "
    )
    assert err.value.message.endswith("; it was taken out of the queue")
    assert sandbox.wait_for_builds(60)
    assert sandbox.jenkins_builds("waiter") == []


def echoed_forms(token: str) -> list[str]:
    """How a proxy or GitLab may echo a request's credentials back in an error body: as
    they are, over-encoded, in base64 (alone, as Basic auth, in a query string)."""
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return [
        token,
        "".join(f"%{ord(c):02x}" if c in "-_" else c for c in token),
        base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
        f"BASIC {basic}",
        f"authorization=basic%20{quote(basic, safe='')}",
    ]


def test_a_builds_console_masks_every_form_of_the_token_gitlab_echoes(
    server: Jenkins, sandbox: Sandbox, faults: Sandbox
) -> None:
    """GitLab answers the CLI with an error that echoes the job's own GITLAB_TOKEN in
    every form; the Jenkins console, read whole through python-jenkins, holds none."""
    echoed = "; ".join(echoed_forms(TOKEN))
    sandbox.add_fault(path_prefix="/api/v4/", status=400, body={"message": f"bad: {echoed}"})
    server.ensure_job("promote-env", job_config("promote-env", **PROMOTE_ENV_VALUES))
    outcome = server.run("promote-env", {"FROM": "dev", "TO": "stage"}, timeout=300)
    assert not outcome.succeeded
    with jenkins_client(sandbox) as raw:
        console = raw.get_build_console_output("promote-env", outcome.number)
    assert f"error: GitLab failed reading project {DEPLOYMENTS}: HTTP 400 bad: {secrets.MASK}" in (
        console
    ), "GitLab's answer reached the console, masked"
    assert not recoverable(TOKEN, console), console


# --- errors ---------------------------------------------------------------------------


def test_an_unknown_job_is_named(server: Jenkins, sandbox: Sandbox) -> None:
    with pytest.raises(UserError) as err:
        server.run("no-such-job", {"FROM": "dev"}, timeout=10)
    assert err.value.message == f"Jenkins has no job no-such-job at {sandbox.jenkins_url}"


def test_a_wrong_token_is_refused_and_never_shown(sandbox: Sandbox) -> None:
    wrong = "wrong-jenkins-token-4411"
    with Jenkins(JenkinsAccess(sandbox.jenkins_url, "admin", wrong)) as bad:
        with pytest.raises(UserError) as err:
            bad.job_exists("promote-env")
        assert TOKEN not in repr(bad.access) and wrong not in repr(bad.access)
    assert err.value.message == (
        "Jenkins rejected user admin and its token (JENKINS_USER, JENKINS_TOKEN) "
        "while looking up job promote-env"
    )
    assert wrong not in f"{err.value.message} {err.value.hint}"


def test_unreachable_jenkins_says_why_and_shows_progress(
    fast_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = JenkinsAccess("http://127.0.0.1:1/jenkins", "admin", TOKEN)
    with Jenkins(nowhere) as server, pytest.raises(UserError) as err:
        server.job_exists("promote-env")
    assert err.value.message == (
        "cannot reach Jenkins at http://127.0.0.1:1/jenkins (connection refused) "
        "while looking up job promote-env"
    )
    assert err.value.hint == "check JENKINS_URL and the network; then rerun"
    assert TOKEN not in f"{err.value.message} {err.value.hint} {caplog.text}"
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 3
    assert retries[0].startswith("Jenkins at http://127.0.0.1:1/jenkins not reachable")


def test_transient_failures_of_reads_are_retried(
    server: Jenkins, sandbox: Sandbox, faults: Sandbox, fast_retries: None
) -> None:
    sandbox.add_fault(method="GET", path_prefix="/jenkins/job/", status=502, count=2)
    server.ensure_job("retried", inline_job("node { echo 'hi' }"))
    assert server.job_exists("retried")
    assert sandbox.faults() == [], "both 502s were answered (a rule is gone once spent)"


def test_a_write_that_may_have_happened_is_not_repeated(
    server: Jenkins, sandbox: Sandbox, faults: Sandbox, fast_retries: None
) -> None:
    """A 502 on starting a build: maybe it started; a retry could start a second one."""
    server.ensure_job("once", inline_job("node { echo 'hi' }"))
    sandbox.add_fault(method="POST", path_prefix="/jenkins/job/once/build", status=502, count=1)
    with pytest.raises(UserError) as err:
        server.run("once", {}, timeout=30)
    assert err.value.message.startswith("Jenkins failed starting a build of job once: HTTP 502")
    assert sandbox.jenkins_builds("once") == []


def test_a_503_on_a_write_is_retried(
    server: Jenkins, sandbox: Sandbox, faults: Sandbox, fast_retries: None
) -> None:
    """503: Jenkins did not take the request (starting up, quieting down): safe to repeat."""
    server.ensure_job("again", inline_job("node { echo 'hi' }"))
    sandbox.add_fault(method="POST", path_prefix="/jenkins/job/again/build", status=503, count=1)
    assert server.run("again", {}, timeout=60).succeeded
    assert len(sandbox.jenkins_builds("again")) == 1
    assert sandbox.faults() == [], "the 503 was answered, then the build started"
