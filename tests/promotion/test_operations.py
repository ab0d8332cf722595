"""Operations on the chain beyond what the demo's use cases check: D1's hotfix surviving
the next promotion, F4's lone member held back, bad input refused (D1, D2, D3, E4),
promote-env of everything, and no promotion taking an environment back.

The use cases themselves (D1 to D5, E4, F4) are proven end to end by the demo
(sandbox/gitops_demo/operations.py, run by tests/demo/test_use_cases.py).

One seeded sandbox and one webhook for the module. The operator runs the CLI as a
subprocess; MRs are merged through python-gitlab; each test reads what it needs
before acting, so its assertions hold whatever ran before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, Hook, serve_webhook
from tests.helpers.operator import all_mrs, gitops, gitops_json

TOKEN = "operations-test-token-81c2"  # noqa: S105 - the sandbox's test credential
ENVS = ("dev", "stage", "prod")
POSTGRES = "docker.io/library/postgres"


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
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        yield Chain(sandbox, gl.projects.get(DEPLOYMENTS))


@pytest.fixture(scope="module")
def operator(sandbox: Sandbox) -> dict[str, str]:
    return {"GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": TOKEN}


def images(chain: Chain, app: str) -> dict[str, str]:
    return {env: chain.container(env, app)["image"] for env in ENVS}


def merged_quietly(chain: Chain, hook: Hook, iid: int) -> None:
    """Merge an MR that must open nothing anywhere (a [no-promote] one)."""
    before = {env: [m.iid for m in chain.open_mrs(env) if m.iid != iid] for env in ENVS}
    chain.merge(iid)
    hook.wait_idle()
    assert {env: [m.iid for m in chain.open_mrs(env)] for env in ENVS} == before


def walk_on(chain: Chain, hook: Hook, title: str, envs: tuple[str, ...]) -> None:
    """Merge, in each of `envs`, the MR the webhook opens there (`title` with {env})."""
    for env in envs:
        chain.merge(chain.wait_mr(env, chain.titled(title.format(env=env))).iid)
    hook.wait_idle()


def refused(operator: dict[str, str], chain: Chain, *args: str, message: str) -> None:
    """The command exits 2 naming the problem, and no MR opens, changes or closes."""
    before = all_mrs(chain.project)
    done = gitops(operator, *args)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert message in done.stderr, (args, done.stderr)
    assert all_mrs(chain.project) == before


def trailer_of(chain: Chain, iid: int) -> Any:
    return parse_trailer(chain.project.mergerequests.get(iid).description)


# --- D1 -------------------------------------------------------------------------------


def test_d1_hotfix_to_prod_survives_the_next_promotion(
    chain: Chain, hook: Hook, operator: dict[str, str]
) -> None:
    stage_before = images(chain, "example-app")["stage"]
    args = ("set", "--env", "prod", "--app", "example-app", "--image-tag", "1.0.42-hotfix1")
    args += ("--no-promote", "--set", 'configMap.data."cache-ttl"="600"')
    done = gitops_json(operator, *args)
    mr = chain.project.mergerequests.get(done["mr_iid"])
    assert mr.target_branch == "prod" and mr.title.endswith("in prod [no-promote]")
    assert {"set", "app::example-app", "env::prod", "no-promote"} <= set(mr.labels)
    assert trailer_of(chain, mr.iid).unit == "settings"
    assert gitops_json(operator, *args)["status"] == "noop"
    merged_quietly(chain, hook, mr.iid)
    assert images(chain, "example-app")["prod"] == f"{EXAMPLE_IMAGE}:1.0.42-hotfix1"
    assert images(chain, "example-app")["stage"] == stage_before, "nothing cascades"
    config = chain.manifest("prod", "example-app", "ConfigMap", "example-app-config")
    assert config["data"]["cache-ttl"] == "600"

    built = chain.build("example-app", "1.0.43", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    chain.merge(built.mr_iid)
    walk_on(chain, hook, "Promote example-app 1.0.43 to {env}", ("stage", "prod"))
    assert images(chain, "example-app")["prod"] == f"{EXAMPLE_IMAGE}:1.0.43"
    config = chain.manifest("prod", "example-app", "ConfigMap", "example-app-config")
    assert config["data"]["cache-ttl"] == "600", "the promotion keeps prod's env values"


# --- bad input: D1, D2, D3, E4 --------------------------------------------------------


def test_bad_input_is_refused(chain: Chain, operator: dict[str, str]) -> None:
    """D1's set, D2's promote-env, D3's revert and E4's rollback: exit 2, no MR touched."""
    base = ("set", "--app", "example-app")
    refused(operator, chain, *base, "--env", "prd", "--set", "x=1", message="prd")
    refused(operator, chain, *base, "--env", "prod", "--set", "replicas", message="PATH=VALUE")
    refused(operator, chain, *base, "--env", "prod", message="nothing to set")
    refused(operator, chain, *base, "--env", "prod", "--image-tag", "a b", message="tag")
    refused(
        operator, chain, "set", "--app", "nope", "--env", "prod", "--set", "x=1", message="nope"
    )
    pick = ("promote-env", "--from", "dev", "--to", "stage")
    refused(operator, chain, *pick, "--apps", "exampel-app", message="exampel-app")
    refused(operator, chain, "revert", "--env", "stage", "--commit", "zz", message="commit id")
    back = ("rollback", "--env", "prod", "--app", "example-app")
    runs = images(chain, "example-app")["prod"].rsplit(":", 1)[1]
    refused(operator, chain, *back, "--to", runs, message=f"already runs {runs}")
    refused(operator, chain, *back, "--to", "latest", message="latest")


# --- promote-env of everything --------------------------------------------------------


def test_promote_env_of_everything_proposes_each_app_with_its_own_files(
    chain: Chain, hook: Hook, operator: dict[str, str]
) -> None:
    """Without --apps, every app that differs is a unit of its own, planned in a clone
    that checks out only that app's files (git.narrow): each unit's change is its app
    layer, its env.cue entry and its manifests, rendered in full."""
    for app, tag in (("postgres", "16.6"), ("example-app", "2.3.0")):
        setting = ("set", "--env", "dev", "--app", app, "--image-tag", tag, "--no-promote")
        merged_quietly(chain, hook, gitops_json(operator, *setting)["mr_iid"])
    done = gitops_json(operator, "promote-env", "--from", "dev", "--to", "stage", "--dry-run")
    units = {u["unit"]: u for u in done["units"]}
    assert sorted(units) == ["example-app", "postgres"]
    for app, unit in units.items():
        paths = {c["path"] for c in unit["changes"]}
        deployment = f"manifests/stage/{app}/deployment-{app}.yaml"
        assert deployment in paths and "env.cue" in paths, (app, paths)
        theirs = ("env.cue", f"services/apps/{app}.cue", f"manifests/stage/{app}/")
        assert all(p.startswith(theirs) for p in paths), (app, paths)


# --- F4 -------------------------------------------------------------------------------


def test_f4_a_release_group_moves_as_one(
    chain: Chain, hook: Hook, operator: dict[str, str], tmp_path: Path
) -> None:
    hook.wait_idle()
    repo = chain.app_repo("example-app")
    start = ("promote", "--app", "example-app", "--image", EXAMPLE_IMAGE, "--tag", "20.0.0")
    start += ("--app-repo", str(repo), "--group", "release-2.0", "--with", "postgres=17.2")
    done = gitops_json(operator, *start)
    title = "Promote release-2.0 to {env}: example-app 20.0.0, postgres 17.2"
    mr = chain.project.mergerequests.get(done["mr_iid"])
    assert mr.title == title.format(env="dev")
    assert {"group::release-2.0", "app::example-app", "app::postgres"} <= set(mr.labels)
    assert gitops_json(operator, *start)["status"] == "noop"
    chain.merge(mr.iid)
    in_stage = chain.wait_mr("stage", chain.titled(title.format(env="stage")))
    hook.wait_idle()

    lone = chain.build("example-app", "20.0.1", repo, EXAMPLE_IMAGE)
    assert lone.mr_iid is not None
    chain.merge(lone.mr_iid)
    jobs = hook.wait_idle()
    assert not [
        m
        for m in chain.open_mrs("stage")
        if m.iid != in_stage.iid and "app::example-app" in m.labels
    ], "a member alone is held back"
    assert any(j["state"] == "blocked" for j in jobs)
    for env in ("stage", "prod"):
        pair = (images(chain, "example-app")[env], images(chain, "postgres")[env])
        assert pair[0].endswith(":20.0.0") == pair[1].endswith(":17.2"), env

    chain.merge(in_stage.iid)
    chain.merge(chain.wait_mr("prod", chain.titled(title.format(env="prod"))).iid)
    hook.wait_idle()
    assert images(chain, "example-app")["prod"] == f"{EXAMPLE_IMAGE}:20.0.0"
    assert images(chain, "postgres")["prod"] == f"{POSTGRES}:17.2"
    bad = [a if a != "release-2.0" else "Release 2" for a in start]
    refused(operator, chain, *bad, message="group")


# --- versions move forward (last: it leaves stage ahead while it runs) ------------------


def test_a_promotion_never_takes_an_environment_back(
    chain: Chain, hook: Hook, operator: dict[str, str]
) -> None:
    hook.wait_idle()
    before = images(chain, "example-app")["stage"].rsplit(":", 1)[1]
    dev = images(chain, "example-app")["dev"].rsplit(":", 1)[1]
    pending = [m.iid for m in chain.open_mrs("stage") if "app::example-app" in m.labels]
    ahead = ("set", "--env", "stage", "--app", "example-app", "--no-promote")
    chain.merge(gitops_json(operator, *ahead, "--image-tag", "99.0.0")["mr_iid"])
    hook.wait_idle()
    for iid in pending:  # they would take stage back now: closed, saying why
        closed = chain.project.mergerequests.get(iid)
        notes = [n.body for n in closed.notes.list(get_all=True)]
        assert closed.state == "closed" and any("never goes back" in n for n in notes), notes
    mrs = all_mrs(chain.project)

    done = gitops_json(
        operator, "promote-env", "--from", "dev", "--to", "stage", "--apps", "example-app"
    )

    [unit] = done["units"]
    assert (unit["unit"], unit["status"]) == ("example-app", "noop"), unit
    assert f"stage runs example-app 99.0.0, newer than dev's {dev}" in unit["reason"]
    assert "rollback" in unit["reason"]
    assert all_mrs(chain.project) == mrs, "no MR opened or changed"
    merged_quietly(chain, hook, gitops_json(operator, *ahead, "--image-tag", before)["mr_iid"])
