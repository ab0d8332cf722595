"""An app's life beyond what the demo's use cases check: what F1's onboarding leaves in
Jenkins and GitLab (the job's configuration, the push hook, its MRs, a second run),
F3's decommission with a pending promotion, and bad input refused.

F1's and F2's use cases end to end (the first build through the chain, a third-party
app through the chain) are the demo's (sandbox/gitops_demo/operations.py, run by
tests/demo/test_use_cases.py).

Against the sandbox with its Jenkins and the webhook: the commands run as a user runs
them (the CLI, as a subprocess), MRs are merged through python-gitlab, and what each
environment deploys is read from its branch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import jenkins
import pytest

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_app, seed_default
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.chain import Chain, Hook, serve_webhook
from tests.helpers.groovy import ROOT, agent_path
from tests.helpers.operator import all_mrs, gitops, gitops_json

TOKEN = "lifecycle-test-token-3f9a"  # noqa: S105 - the sandbox's test credential
ENVS = ("dev", "stage", "prod")
FAKE_DOCKER = '#!/bin/sh\necho "fake docker $*"\n'


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The seeded sandbox with two more app repositories, Jenkins running this library."""
    work = tmp_path_factory.mktemp("agent")
    (work / "docker").write_text(FAKE_DOCKER)
    (work / "docker").chmod(0o755)
    with Sandbox.start(
        token=TOKEN,
        libraries={"jenkins-gitops-helpers": ROOT},
        agent_path=agent_path(work, Path(sys.executable).parent),
    ) as sb:
        seed_default(sb)
        seed_app(sb, "user-service")
        seed_app(sb, "legacy-service")
        yield sb


@pytest.fixture(scope="module")
def environment(sandbox: Sandbox) -> dict[str, str]:
    """What the operator's shell (and the webhook) has: GitLab and Jenkins credentials."""
    return {
        "GITLAB_URL": sandbox.gitlab_url,
        "GITLAB_TOKEN": TOKEN,
        "JENKINS_URL": sandbox.jenkins_url,
        "JENKINS_USER": "admin",
        "JENKINS_TOKEN": TOKEN,
    }


@pytest.fixture(scope="module")
def hook(
    sandbox: Sandbox, environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hook]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        with serve_webhook(sandbox, tmp_path_factory.mktemp("webhook")) as served:
            yield served


@pytest.fixture(scope="module")
def chain(sandbox: Sandbox, hook: Hook) -> Iterator[Chain]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        yield Chain(sandbox, gl.projects.get(DEPLOYMENTS))


@pytest.fixture(scope="module")
def server(sandbox: Sandbox) -> jenkins.Jenkins:
    """python-jenkins itself, to look at what the tool left in Jenkins."""
    return jenkins.Jenkins(sandbox.jenkins_url, username="admin", password=TOKEN)


def app_hooks(chain: Chain, repo: str) -> list[Any]:
    hooks: list[Any] = chain.project.manager.gitlab.projects.get(repo).hooks.list(get_all=True)
    return hooks


def has_manifests(chain: Chain, env: str, app: str) -> bool:
    tree = chain.project.repository_tree(path=f"manifests/{env}", ref=env, get_all=True)
    return any(item["path"] == f"manifests/{env}/{app}" for item in tree)


def merge_registrations(chain: Chain, result: dict[str, Any]) -> None:
    for reg in result["registrations"]:
        if reg["status"] != "noop":
            chain.merge(reg["mr_iid"])


def walk(chain: Chain, hook: Hook, app: str, tag: str, first_iid: int) -> None:
    """Merge the dev MR, then each MR the webhook opens, up to prod."""
    chain.merge(first_iid)
    for env in ENVS[1:]:
        chain.merge(chain.wait_mr(env, chain.titled(f"Promote {app} {tag} to {env}")).iid)
    hook.wait_idle()


# --- F1 -------------------------------------------------------------------------------


def test_f1_onboarding_leaves_a_job_a_push_hook_and_one_mr_per_environment(
    chain: Chain, sandbox: Sandbox, server: jenkins.Jenkins, environment: dict[str, str]
) -> None:
    args = ("onboard", "--app", "user-service", "--repo", "apps/user-service")
    args += ("--git-credentials", "gitlab-git")
    done = gitops_json(environment, *args)
    assert (done["job"], done["hook"]) == ("created", "created")
    config = server.get_job_config("user-service")
    assert sandbox.clone_url("apps/user-service", with_token=False) in config
    (push_hook,) = app_hooks(chain, "apps/user-service")
    assert push_hook.url == f"{sandbox.jenkins_url}/project/user-service"
    assert push_hook.push_events and not push_hook.merge_requests_events
    titles = {r["branch"]: r for r in done["registrations"]}
    assert list(titles) == list(ENVS)
    for env in ENVS:
        mr = chain.project.mergerequests.get(titles[env]["mr_iid"])
        assert mr.title == f"Onboard user-service in {env} [no-promote]"
        assert {"onboard", "app::user-service", f"env::{env}", "no-promote"} <= set(mr.labels)
        trailer = parse_trailer(mr.description)
        assert trailer is not None and (trailer.unit, trailer.app) == ("onboard", "user-service")

    mrs_before = all_mrs(chain.project)
    again = gitops_json(environment, *args)
    assert (again["job"], again["hook"]) == ("unchanged", "unchanged")
    assert [r["status"] for r in again["registrations"]] == ["noop"] * 3
    assert all_mrs(chain.project) == mrs_before, "a second run opens and closes nothing"
    assert len(app_hooks(chain, "apps/user-service")) == 1


def test_f1_bad_input_changes_nothing(
    chain: Chain, server: jenkins.Jenkins, environment: dict[str, str]
) -> None:
    before = all_mrs(chain.project)
    for args, message in (
        (("--app", "User_Service", "--repo", "apps/user-service"), "app name"),
        (("--app", "orders"), "--repo is required"),
        (("--app", "orders", "--repo", "apps/orders", "--tag", "1.0"), "--tag only go"),
        (("--app", "orders", "--third-party", "--image", "redis"), "needs --image and --tag"),
        (("--app", "orders", "--repo", "apps/nowhere"), "apps/nowhere"),
    ):
        done = gitops(environment, "onboard", *args)
        assert done.returncode != 0, args
        assert message in done.stderr, (args, done.stderr)
    no_jenkins = {k: v for k, v in environment.items() if not k.startswith("JENKINS_")}
    done = gitops(no_jenkins, "onboard", "--app", "orders", "--repo", "apps/user-service")
    assert done.returncode == 2 and "JENKINS_URL" in done.stderr
    assert all_mrs(chain.project) == before
    assert not server.job_exists("orders")


# --- F3 -------------------------------------------------------------------------------


@pytest.fixture
def legacy_service(chain: Chain, hook: Hook, environment: dict[str, str]) -> None:
    """legacy-service onboarded, built, promoted everywhere, its app file on main too."""
    args = ("onboard", "--app", "legacy-service", "--repo", "apps/legacy-service")
    merge_registrations(chain, gitops_json(environment, *args, "--git-credentials", "c"))
    repo = chain.app_repo("legacy-service")
    built = chain.build("legacy-service", "0.9.0", repo)
    assert built.mr_iid is not None
    walk(chain, hook, "legacy-service", "0.9.0", built.mr_iid)
    app_file = chain.project.files.raw(file_path="services/apps/legacy-service.cue", ref="dev")
    chain.project.commits.create(
        {
            "branch": "catalog/legacy-service",
            "start_branch": "main",
            "commit_message": "Keep legacy-service's app layer on main",
            "actions": [
                {
                    "action": "create",
                    "file_path": "services/apps/legacy-service.cue",
                    "content": app_file.decode(),
                }
            ],
        }
    )
    mr = chain.project.mergerequests.create(
        {
            "source_branch": "catalog/legacy-service",
            "target_branch": "main",
            "title": "Catalog: legacy-service [no-promote]",
        }
    )
    chain.merge(mr.iid)
    hook.wait_idle()


def test_f3_decommission_removes_the_app_last_environment_first(
    chain: Chain,
    hook: Hook,
    server: jenkins.Jenkins,
    environment: dict[str, str],
    legacy_service: None,
) -> None:
    assert server.job_exists("legacy-service")
    assert len(app_hooks(chain, "apps/legacy-service")) == 1
    stray = chain.build("legacy-service", "0.9.1", chain.app_repo("legacy-service"))
    assert stray.mr_iid is not None

    done = gitops_json(environment, "decommission", "--app", "legacy-service")
    assert (done["step"], done["branch"]) == ("remove", "prod")
    assert done["remaining"] == ["prod", "stage", "dev", "main"]
    assert done["closed"] == [stray.mr_iid], "a pending promotion would bring it back"
    again = gitops_json(environment, "decommission", "--app", "legacy-service")
    assert (again["status"], again["mr_iid"]) == ("noop", done["mr_iid"])

    order = []
    iid = done["mr_iid"]
    for branch in ("prod", "stage", "dev", "main"):
        mr = chain.project.mergerequests.get(iid)
        assert mr.title == f"Decommission legacy-service: remove it from {branch}"
        order.append(mr.target_branch)
        chain.merge(iid)
        if branch != "main":
            following = ("stage", "dev", "main")[("prod", "stage", "dev").index(branch)]
            iid = chain.wait_mr(following, lambda m: "decommission" in m.labels).iid
    hook.wait_idle()
    assert order == ["prod", "stage", "dev", "main"]
    for env in ENVS:
        assert not has_manifests(chain, env, "legacy-service"), env
        env_cue = chain.project.files.raw(file_path="env.cue", ref=env).decode()
        assert "legacy-service" not in env_cue
        assert chain.container(env, "example-app"), "the other apps stay"
    for ref in (*ENVS, "main"):
        files = chain.project.repository_tree(path="services/apps", ref=ref, get_all=True)
        assert "services/apps/legacy-service.cue" not in {f["path"] for f in files}
    assert not server.job_exists("legacy-service")
    assert app_hooks(chain, "apps/legacy-service") == []
    last = gitops_json(environment, "decommission", "--app", "legacy-service")
    assert last["step"] == "done" and last["jenkins_job"] == "absent"


def test_f3_bad_input_changes_nothing(chain: Chain, environment: dict[str, str]) -> None:
    before = all_mrs(chain.project)
    done = gitops(environment, "decommission", "--app", "example-ap")
    assert done.returncode == 2 and "did you mean example-app?" in done.stderr
    done = gitops(environment, "decommission", "--app", "Example")
    assert done.returncode == 2
    dry = gitops_json(environment, "decommission", "--app", "postgres", "--dry-run")
    assert (dry["branch"], dry["dry_run"]) == ("prod", True)
    assert all_mrs(chain.project) == before
