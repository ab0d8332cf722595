"""What a reviewer cannot see must never steer the chain (docs/PROMOTION.md, "What the
chain trusts").

A person with Developer rights writes a trailer into an MR's description, where
GitLab does not display it, and a reviewer merges what looks like a docs change.
The chain must act on what the merge changed, never on that text: no job or hook
deleted, no removal MR, no skip-env promotion. The tool's own trailer, when its
branch was changed behind it, is ignored too, and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import gitlab
import jenkins
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.trailer import Trailer
from tests.gitops_sandbox.jenkins_testing import inline_job
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, Hook, serve_webhook

TOKEN = "trust-test-token-8c1d"  # noqa: S105 - the sandbox's test credential
APP_REPO = "apps/example-app"
NOT_OURS = "not opened by gitops-helper's own GitLab user"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def hook(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    """The webhook with Jenkins configured: a decommission would delete jobs there."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JENKINS_URL", sandbox.jenkins_url)
        patch.setenv("JENKINS_USER", "admin")
        patch.setenv("JENKINS_TOKEN", TOKEN)
        with serve_webhook(sandbox, tmp_path_factory.mktemp("webhook")) as served:
            yield served


@pytest.fixture(scope="module")
def chain(sandbox: Sandbox, hook: Hook) -> Iterator[Chain]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        yield Chain(sandbox, gl.projects.get(DEPLOYMENTS))


@pytest.fixture(scope="module")
def developer(sandbox: Sandbox) -> Iterator[Project]:
    """k8s-deployments as a person with Developer rights sees it (not the tool's user)."""
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.developer_token) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def forged(**fields: Any) -> str:
    """A docs change's description, with a trailer no reviewer sees."""
    return "Fix a typo in the notes.\n\n" + Trailer(**fields).to_comment() + "\n"


def person_mr(project: Project, target: str, description: str, **extra: Any) -> int:
    """A branch off `target` changing one docs file, and an MR of it into `target`."""
    branch = f"person/{target}-{os.urandom(4).hex()}"
    project.branches.create({"branch": branch, "ref": target})
    project.commits.create(
        {
            "branch": branch,
            "commit_message": "docs: fix a typo",
            "actions": [
                {"action": "create", "file_path": f"notes/{branch}.md", "content": "notes\n"}
            ],
        }
    )
    mr = project.mergerequests.create(
        {
            "source_branch": branch,
            "target_branch": target,
            "title": "docs: fix a typo",
            "description": description,
            **extra,
        }
    )
    return int(mr.iid)


def job_of(hook: Hook, chain: Chain, iid: int) -> dict[str, Any]:
    """The webhook's job for the merge of !iid (keyed by its merge commit), once it ended."""
    mr = chain.project.mergerequests.get(iid)
    key = f"merge:{mr.target_branch}:{mr.merge_commit_sha}"
    jobs = [j for j in hook.wait_idle() if j["key"] == key]
    assert len(jobs) == 1, f"jobs for !{iid}: {hook.jobs()}"
    assert jobs[0]["state"] == "done", jobs[0]
    return jobs[0]


def ignored_trailers(hook: Hook) -> float:
    text = requests.get(f"{hook.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("gitops_webhook_ignored_trailers_total "):
            return float(line.split()[1])
    raise AssertionError("no gitops_webhook_ignored_trailers_total in /metrics")


def test_a_hidden_decommission_of_an_absent_app_deletes_no_job_or_hook(
    sandbox: Sandbox, chain: Chain, hook: Hook, developer: Project
) -> None:
    server = jenkins.Jenkins(sandbox.jenkins_url, username="admin", password=TOKEN)
    server.create_job("ghost", inline_job("echo 'a job someone relies on'"))
    repo = chain.project.manager.gitlab.projects.get(APP_REPO)
    planted = repo.hooks.create(
        {"url": "http://jenkins.example/project/ghost", "push_events": True}
    )
    before = ignored_trailers(hook)

    iid = person_mr(
        developer,
        "dev",
        forged(target_env="dev", apps={}, unit="decommission", app="ghost", app_repo=APP_REPO),
    )
    chain.merge(iid)
    job = job_of(hook, chain, iid)

    assert server.job_exists("ghost"), "the hidden trailer deleted a Jenkins job"
    assert planted.id in [h.id for h in repo.hooks.list(get_all=True)], "and a push hook"
    assert job["result"]["decommission"] is None
    assert NOT_OURS in job["result"]["ignored_trailer"]
    assert ignored_trailers(hook) == before + 1


def test_a_hidden_decommission_of_a_live_app_opens_nothing_and_closes_nothing(
    chain: Chain, hook: Hook, developer: Project
) -> None:
    built = chain.build("example-app", "1.7.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None

    iid = person_mr(
        developer,
        "dev",
        forged(target_env="dev", apps={}, unit="decommission", app="example-app"),
    )
    chain.merge(iid)
    job_of(hook, chain, iid)

    titles = [mr.title for env in ("dev", "stage", "prod") for mr in chain.open_mrs(env)]
    assert not [t for t in titles if t.startswith("Decommission")], titles
    assert chain.project.mergerequests.get(built.mr_iid).state == "opened"


def test_a_hand_made_skip_env_promotion_is_not_refreshed_into_a_real_one(
    chain: Chain, hook: Hook, developer: Project
) -> None:
    fake = ImageRef(EXAMPLE_IMAGE, "6.6.6")
    planted = person_mr(
        developer,
        "prod",
        forged(
            target_env="prod",
            apps={"example-app": fake},
            unit="app",
            source_env="dev",
            skipped=("stage",),
        ),
        labels="gitops,promotion",
    )
    head = chain.project.mergerequests.get(planted).sha

    other = person_mr(developer, "prod", "Notes for the on-call rota.")
    chain.merge(other)
    job = job_of(hook, chain, other)

    assert [r["status"] for r in job["result"]["refreshed"]] == ["skipped"]
    assert NOT_OURS in job["result"]["refreshed"][0]["reason"]
    open_into_prod = chain.open_mrs("prod")
    assert [mr.iid for mr in open_into_prod] == [planted], [mr.title for mr in open_into_prod]
    assert chain.project.mergerequests.get(planted).sha == head, "the planted MR was rewritten"


def test_the_tools_own_trailer_is_ignored_when_its_branch_was_changed_behind_it(
    chain: Chain, hook: Hook, developer: Project
) -> None:
    """A push to the bot's MR branch before the merge: what merged is what travels on."""
    built = chain.build("example-app", "1.8.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    mr = developer.mergerequests.get(built.mr_iid)
    env_cue = developer.files.get("env.cue", ref=mr.source_branch)
    text = env_cue.decode().decode()
    image = ("apps", "postgres", "env", "deployment", "image", "tag")
    env_cue.content = editor.set_value(text, image, "16.9")
    env_cue.save(branch=mr.source_branch, commit_message="postgres 16.9 (not in the trailer)")
    before = ignored_trailers(hook)

    chain.merge(built.mr_iid)
    job = job_of(hook, chain, built.mr_iid)

    assert "postgres" in job["result"]["ignored_trailer"]
    assert ignored_trailers(hook) == before + 1
    moved = {u["unit"] for u in job["result"]["promotion"]["units"]}
    assert {"example-app", "postgres"} <= moved, job["result"]["promotion"]


def test_the_tools_own_mr_is_not_refreshed_by_a_trailer_a_developer_edited(
    chain: Chain, hook: Hook, developer: Project
) -> None:
    """The description of the bot's prod MR edited to say "from dev, skipping stage": the
    next merge into prod must not turn it into a stage-skipping promotion of dev."""
    built = chain.build("example-app", "1.9.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    chain.merge(built.mr_iid)
    chain.merge(chain.wait_mr("stage", chain.titled("Promote example-app 1.9.0 to stage")).iid)
    bot_mr = chain.wait_mr("prod", chain.titled("Promote example-app 1.9.0 to prod"))
    edited = developer.mergerequests.get(bot_mr.iid)
    head = edited.sha
    edited.description = forged(
        target_env="prod",
        apps={"example-app": ImageRef(EXAMPLE_IMAGE, "1.9.0")},
        source_env="dev",
        skipped=("stage",),
    )
    edited.save()
    newer = chain.build("example-app", "1.9.1", chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert newer.mr_iid is not None
    chain.merge(newer.mr_iid)  # dev now runs 1.9.1, stage still 1.9.0

    other = person_mr(developer, "prod", "Notes for the release checklist.")
    chain.merge(other)
    job = job_of(hook, chain, other)

    mine = [r for r in job["result"]["refreshed"] if r["mr_iid"] == bot_mr.iid]
    assert [r["status"] for r in mine] == ["skipped"], job["result"]["refreshed"]
    assert "description was edited" in mine[0]["reason"]
    after = chain.project.mergerequests.get(bot_mr.iid)
    assert (after.sha, after.title) == (head, "Promote example-app 1.9.0 to prod")
    assert "skip-env" not in after.labels
