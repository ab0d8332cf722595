"""The promotion chain through the webhook, against the sandbox: E1, E3, B1, C1 and A1.

One seeded sandbox and one webhook for the module; each test promotes its own
versions, so their assertions hold whatever ran before.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers import git
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.chain import EXAMPLE_FIELDS, EXAMPLE_IMAGE, Chain, Hook, serve_webhook

TOKEN = "chain-test-token-5e2b"  # noqa: S105 - the sandbox's test credential
ENVS = ("dev", "stage", "prod")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def hook(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    with serve_webhook(sandbox, tmp_path_factory.mktemp("webhook")) as served:
        yield served


@pytest.fixture(scope="module")
def chain(sandbox: Sandbox, hook: Hook) -> Iterator[Chain]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl:
        yield Chain(sandbox, gl.projects.get(DEPLOYMENTS))


def walk(chain: Chain, iid: int, title_of: str) -> None:
    """Merge the dev MR, then each MR the webhook opens, up to prod."""
    chain.merge(iid)
    for env in ENVS[1:]:
        mr = chain.wait_mr(env, chain.titled(title_of.format(env=env)))
        chain.merge(mr.iid)


def test_e1_a_build_reaches_every_environment_keeping_their_settings(chain: Chain) -> None:
    repo = chain.app_repo("example-app")
    before = {env: chain.container(env, "example-app")["resources"] for env in ENVS}
    built = chain.build("example-app", "2.0.0", repo, EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    walk(chain, built.mr_iid, "Promote example-app 2.0.0 to {env}")
    for env, replicas in zip(ENVS, (1, 2, 3), strict=True):
        assert chain.container(env, "example-app")["image"] == f"{EXAMPLE_IMAGE}:2.0.0", env
        assert chain.replicas(env, "example-app") == replicas, f"{env} keeps its replicas"
        assert chain.container(env, "example-app")["resources"] == before[env], env
    prod_mr = chain.project.mergerequests.list(
        state="merged", target_branch="prod", labels=["app::example-app"], get_all=True
    )[0]
    trailer = parse_trailer(prod_mr.description)
    assert trailer is not None and (trailer.source_env, trailer.target_env) == ("stage", "prod")


def test_e3_three_versions_with_slow_merges_one_pending_mr_per_environment(chain: Chain) -> None:
    repo = chain.app_repo("example-app")
    first = chain.build("example-app", "3.0.40", repo, EXAMPLE_IMAGE)
    assert first.mr_iid is not None
    walk(chain, first.mr_iid, "Promote example-app 3.0.40 to {env}")
    second = chain.build("example-app", "3.0.41", repo, EXAMPLE_IMAGE)
    assert second.mr_iid is not None
    chain.merge(second.mr_iid)
    chain.merge(chain.wait_mr("stage", chain.titled("Promote example-app 3.0.41 to stage")).iid)
    prod_pending = chain.wait_mr("prod", chain.titled("Promote example-app 3.0.41 to prod"))
    third = chain.build("example-app", "3.0.42", repo, EXAMPLE_IMAGE)
    assert third.mr_iid is not None
    chain.merge(third.mr_iid)
    stage_pending = chain.wait_mr("stage", chain.titled("Promote example-app 3.0.42 to stage"))
    images = {env: chain.container(env, "example-app")["image"] for env in ENVS}
    assert images == {
        "prod": f"{EXAMPLE_IMAGE}:3.0.40",
        "stage": f"{EXAMPLE_IMAGE}:3.0.41",
        "dev": f"{EXAMPLE_IMAGE}:3.0.42",
    }
    fourth = chain.build("example-app", "3.0.43", repo, EXAMPLE_IMAGE)
    assert fourth.mr_iid is not None
    chain.merge(fourth.mr_iid)
    updated = chain.wait_mr("stage", chain.titled("Promote example-app 3.0.43 to stage"))
    assert updated.iid == stage_pending.iid, "the pending stage MR is updated, not duplicated"
    mine = [m for m in chain.open_mrs("stage") if "app::example-app" in m.labels]
    assert [m.iid for m in mine] == [stage_pending.iid]
    assert [m.iid for m in chain.open_mrs("prod") if "app::example-app" in m.labels] == [
        prod_pending.iid
    ]
    assert chain.project.mergerequests.get(updated.iid).detailed_merge_status == "mergeable"


def test_b1_an_app_env_var_travels_the_whole_chain(chain: Chain) -> None:
    fields = (
        *EXAMPLE_FIELDS[:1],
        'appEnvVars: [{name: "APP_NAME", value: "example-app"}, '
        '{name: "FEATURE_FLAGS", value: "new-checkout,dark-mode"}]',
        *EXAMPLE_FIELDS[2:],
    )
    repo = chain.app_repo("example-app", *fields)
    built = chain.build("example-app", "4.0.0", repo, EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    walk(chain, built.mr_iid, "Promote example-app 4.0.0 to {env}")
    for env in ENVS:
        env_vars = chain.container(env, "example-app")["env"]
        assert {"name": "FEATURE_FLAGS", "value": "new-checkout,dark-mode"} in env_vars, env


def test_c1_a_platform_label_travels_from_main_to_prod(chain: Chain) -> None:
    """A platform change merged into main: a sync MR to dev, then the platform unit onwards."""
    branch = "platform/cost-center"
    defaults = chain.project.files.raw(file_path="platform/defaults.cue", ref="main").decode()
    changed = defaults.replace(
        'labels: "app.kubernetes.io/managed-by": "argocd"',
        'labels: {"app.kubernetes.io/managed-by": "argocd", "cost-center": "platform-shared"}',
    )
    assert changed != defaults
    chain.project.commits.create(
        {
            "branch": branch,
            "start_branch": "main",
            "commit_message": "Platform: cost-center label on everything",
            "actions": [
                {"action": "update", "file_path": "platform/defaults.cue", "content": changed}
            ],
        }
    )
    mr = chain.project.mergerequests.create(
        {"source_branch": branch, "target_branch": "main", "title": "Label cost-center"}
    )
    chain.merge(mr.iid)
    chain.merge(chain.wait_mr("dev", chain.titled("Sync main to dev: platform and app layers")).iid)
    for env in ENVS[1:]:
        previous = ENVS[ENVS.index(env) - 1]
        title = f"Promote the platform layer from {previous} to {env}"
        chain.merge(chain.wait_mr(env, chain.titled(title)).iid)
    for env in ENVS:
        for app in ("example-app", "postgres"):
            labels = chain.manifest(env, app, "Deployment", app)["metadata"]["labels"]
            assert labels["cost-center"] == "platform-shared", (env, app)


def test_a1_an_env_only_change_opens_no_promotion(
    chain: Chain, hook: Hook, sandbox: Sandbox, tmp_path: Path
) -> None:
    """dev's replicas 1 -> 2, by a hand-made MR: dev changes, nothing is promoted."""
    hook.wait_idle()
    open_before = {env: len(chain.open_mrs(env)) for env in ENVS[1:]}
    work = tmp_path / "dev"
    subprocess.run(
        ["git", "clone", "-q", "--branch", "dev", sandbox.clone_url(DEPLOYMENTS), str(work)],
        check=True,
    )
    env_cue = (work / "env.cue").read_text()
    (work / "env.cue").write_text(
        env_cue.replace("replicas: 1\n\tresources", "replicas: 2\n\tresources", 1)
    )
    render = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "render", "--repo", str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert render.returncode == 0, render.stderr
    git.commit_all(work, "dev: example-app runs 2 replicas")
    subprocess.run(
        ["git", "-C", str(work), "push", "-q", "origin", "HEAD:refs/heads/dev-replicas"], check=True
    )
    mr = chain.project.mergerequests.create(
        {"source_branch": "dev-replicas", "target_branch": "dev", "title": "dev: 2 replicas"}
    )
    chain.merge(mr.iid)
    jobs = hook.wait_idle()
    assert chain.replicas("dev", "example-app") == 2
    assert (chain.replicas("stage", "example-app"), chain.replicas("prod", "example-app")) == (2, 3)
    assert {env: len(chain.open_mrs(env)) for env in ENVS[1:]} == open_before
    mine = next(
        j
        for j in jobs
        if j["key"].startswith("merge:dev:") and j["result"] and j["result"]["stopped"]
    )
    assert "changed no app layer, image or platform layer" in mine["result"]["stopped"]
