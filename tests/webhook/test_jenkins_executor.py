"""E1 with GITOPS_EXECUTOR=jenkins: each promotion runs as a build of the promote-env job.

The sandbox's Jenkins really runs the pipeline under Groovy 2.4 with this checkout
as its shared library: gitopsPromoteEnv runs `gitops-helper promote-env`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.jenkins import Jenkins, JenkinsAccess, job_config
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, serve_webhook
from tests.helpers.groovy import ROOT, agent_path

TOKEN = "jenkins-executor-token-7d1"  # noqa: S105 - the sandbox's test credential
JOB = "gitops-promote-env"


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
            values = {
                "project": DEPLOYMENTS,
                "gitlab_url": "",
                "credentials_id": "gitlab-api-token",
            }
            server.ensure_job(JOB, job_config("promote-env", **values))
        yield sb


def test_e1_through_jenkins_builds(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("JENKINS_URL", sandbox.jenkins_url),
        ("JENKINS_USER", "admin"),
        ("JENKINS_TOKEN", TOKEN),
    ):
        monkeypatch.setenv(name, value)
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
    builds = sandbox.jenkins_builds(JOB)
    assert [b["result"] for b in builds] == ["SUCCESS", "SUCCESS"]
    targets = {p["value"] for b in builds for p in b["parameters"] if p["name"] == "TO"}
    assert targets == {"stage", "prod"}
