"""The webhook with GITOPS_EXECUTOR=jenkins: each promotion runs as a build of the
promote-env job, and the job ends as it would inline (done with its MRs, blocked, failed).

The sandbox's Jenkins really runs the pipeline under Groovy 2.4 with this checkout
as its shared library: gitopsPromoteEnv runs `gitops-helper promote-env`. The tests
share one sandbox and run in order: E1, then a release group, then a broken job.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.jenkins import Jenkins, JenkinsAccess, job_config
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, Hook, serve_webhook
from tests.helpers.groovy import ROOT, agent_path

TOKEN = "jenkins-executor-token-7d1"  # noqa: S105 - the sandbox's test credential
JOB = "gitops-promote-env"
ELSEWHERE = "gitops-promote-env-elsewhere"  # its builds promote in a project that does not exist
JOB_VALUES = {"project": DEPLOYMENTS, "gitlab_url": "", "credentials_id": "gitlab-api-token"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    work = tmp_path_factory.mktemp("agent")
    with Sandbox.start(
        token=TOKEN,
        libraries={"jenkins-gitops-helpers": ROOT},
        agent_path=agent_path(work, Path(sys.executable).parent),
    ) as sb:
        seed_default(sb)
        with Jenkins(JenkinsAccess(sb.jenkins_url, "admin", TOKEN)) as server:
            server.ensure_job(JOB, job_config("promote-env", **JOB_VALUES))
            elsewhere = {**JOB_VALUES, "project": "platform/no-such-project"}
            server.ensure_job(ELSEWHERE, job_config("promote-env", **elsewhere))
        yield sb


@pytest.fixture
def jenkins_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Jenkins executor's access, from the environment as in production."""
    for name, value in (
        ("JENKINS_URL", sandbox.jenkins_url),
        ("JENKINS_USER", "admin"),
        ("JENKINS_TOKEN", TOKEN),
    ):
        monkeypatch.setenv(name, value)


def _promotion(job: dict[str, Any]) -> dict[str, Any]:
    promotion: dict[str, Any] = job["result"]["promotion"]
    return promotion


def _units(job: dict[str, Any]) -> list[tuple[str, str, int | None, str | None]]:
    """A job's units as its record names them: unit, status, MR iid and URL."""
    return [(u["unit"], u["status"], u["mr_iid"], u["mr_url"]) for u in _promotion(job)["units"]]


def _merged(hook: Hook, chain: Chain, iid: int, timeout: float = 300) -> dict[str, Any]:
    """Merge MR `iid`; its job once it has ended (the delivery comes a moment later)."""
    chain.merge(iid)
    sha = chain.project.mergerequests.get(iid).merge_commit_sha
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [j for j in hook.wait_idle(timeout) if j["key"].endswith(f":{sha}")]
        if found and found[0]["state"] not in ("queued", "running"):
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no job for the merge of !{iid} within {timeout} s")


def test_e1_through_jenkins_builds(sandbox: Sandbox, tmp_path: Path, jenkins_env: None) -> None:
    with (
        serve_webhook(sandbox, tmp_path / "data", GITOPS_EXECUTOR="jenkins") as hook,
        gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl,
    ):
        chain = Chain(sandbox, gl.projects.get(DEPLOYMENTS))
        built = chain.build("example-app", "6.0.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        assert built.mr_iid is not None
        chain.merge(built.mr_iid)
        for env in ("stage", "prod"):
            mr = chain.wait_mr(
                env, chain.titled(f"Promote example-app 6.0.0 to {env}"), timeout=300
            )
            chain.merge(mr.iid)
        for env in ("dev", "stage", "prod"):
            assert chain.container(env, "example-app")["image"] == f"{EXAMPLE_IMAGE}:6.0.0"
        jobs = [j for j in hook.wait_idle(timeout=300) if j["result"] and j["result"]["promotion"]]
        runners = [j["result"]["promotion"]["runner"] for j in jobs]
        assert len(runners) == 2 and all(f"/jenkins/job/{JOB}/" in r for r in runners), runners
        project = gl.projects.get(DEPLOYMENTS)
        opened = {
            (m.iid, m.web_url)
            for m in project.mergerequests.list(state="merged", get_all=True)
            if m.target_branch in ("stage", "prod") and "example-app 6.0.0" in m.title
        }
        named = {(iid, url) for j in jobs for _unit, _status, iid, url in _units(j)}
        assert named == opened and len(named) == 2, (
            "each job's record names the MR its build opened"
        )
    builds = sandbox.jenkins_builds(JOB)
    assert [b["result"] for b in builds] == ["SUCCESS", "SUCCESS"]
    targets = {p["value"] for b in builds for p in b["parameters"] if p["name"] == "TO"}
    assert targets == {"stage", "prod"}


def test_a_held_back_member_is_blocked_then_promoted_once_its_group_merges(
    sandbox: Sandbox, tmp_path: Path, jenkins_env: None
) -> None:
    """OPERATIONS.md, release groups: while the group's MR into stage is open, a member's
    own promotion there is held back; the step fails that build, the job ends `blocked`,
    and runs again (and opens the member's MR) when the group's MR merges into stage."""
    with (
        serve_webhook(sandbox, tmp_path / "data", GITOPS_EXECUTOR="jenkins") as hook,
        gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl,
    ):
        chain = Chain(sandbox, gl.projects.get(DEPLOYMENTS))
        repo = chain.app_repo("example-app")
        release = chain.build(
            "example-app", "7.0.0", repo, EXAMPLE_IMAGE, group="rel-7", with_apps=("postgres=17.3",)
        )
        assert release.mr_iid is not None
        chain.merge(release.mr_iid)
        title = "Promote rel-7 to {env}: example-app 7.0.0, postgres 17.3"
        in_stage = chain.wait_mr("stage", chain.titled(title.format(env="stage")), timeout=300)
        (group_job,) = [j for j in hook.wait_idle(timeout=300) if j["state"] == "done"]
        assert _units(group_job) == [("rel-7", "created", in_stage.iid, in_stage.web_url)]

        lone = chain.build("example-app", "7.0.1", repo, EXAMPLE_IMAGE)
        assert lone.mr_iid is not None
        held = _merged(hook, chain, lone.mr_iid)
        assert (held["state"], held["target"], held["last_error"]) == ("blocked", "stage", None)
        assert _units(held) == [("example-app", "blocked", None, None)]
        reason = _promotion(held)["units"][0]["reason"]
        assert reason == f"held back: part of group rel-7 in flight (!{in_stage.iid})"
        assert [m.iid for m in chain.open_mrs("stage")] == [in_stage.iid]
        assert sandbox.jenkins_builds(JOB)[-1]["result"] == "FAILURE"

        chain.merge(in_stage.iid)
        mine = chain.wait_mr(
            "stage", chain.titled("Promote example-app 7.0.1 to stage"), timeout=300
        )
        jobs = {j["id"]: j for j in hook.wait_idle(timeout=300)}
        assert jobs[held["id"]]["state"] == "done", "the same job, run again"
        assert _units(jobs[held["id"]]) == [("example-app", "created", mine.iid, mine.web_url)]
        assert chain.wait_mr("prod", chain.titled(title.format(env="prod")))
    assert chain.container("stage", "postgres")["image"].endswith(":17.3")


def test_a_build_that_fails_for_another_reason_fails_the_job(
    sandbox: Sandbox, tmp_path: Path, jenkins_env: None
) -> None:
    """Not a blocked unit: the job is `failed`, with the build's URL and its console's tail;
    the status board names it as a failed Jenkins build, without the text."""
    with (
        serve_webhook(
            sandbox, tmp_path / "data", GITOPS_EXECUTOR="jenkins", GITOPS_JENKINS_JOB=ELSEWHERE
        ) as hook,
        gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl,
    ):
        chain = Chain(sandbox, gl.projects.get(DEPLOYMENTS))
        built = chain.build("example-app", "8.0.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        assert built.mr_iid is not None
        job = _merged(hook, chain, built.mr_iid)
        (build,) = sandbox.jenkins_builds(ELSEWHERE)
        url = f"{sandbox.jenkins_url}/job/{ELSEWHERE}/{build['number']}/"
        assert (job["state"], job["attempts"], build["result"]) == ("failed", 1, "FAILURE")
        assert job["last_error"].startswith(f"Jenkins build {url} of {ELSEWHERE} ended FAILURE:\n")
        assert "error: GitLab project platform/no-such-project not found" in job["last_error"]
        assert job["last_error"].endswith("Finished: FAILURE")
        assert (job["target"], job["failure"]) == ("stage", "Jenkins build failed")
        board = requests.get(f"{hook.url}/status.json", timeout=60).json()
        assert [(f["job"], f["reason"]) for f in board["failed_jobs"]] == [
            (job["id"], "Jenkins build failed")
        ]
        assert "Promote example-app 8.0.0 to stage" not in [
            m.title for m in chain.open_mrs("stage")
        ]
