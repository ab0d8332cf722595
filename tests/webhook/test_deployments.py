"""After the E1 chain, GitLab's Environments show what each environment runs (issue 22).

A build's MR merged into dev, the webhook's stage MR merged, then its prod MR: the
webhook records each merge as a GitLab deployment. A user reading GitLab through
python-gitlab finds one successful deployment per environment, its sha that
environment's merge commit, linked to the MR that merged, and the environments
API's `last_deployment` naming it; the status board links each environment there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from gitlab.v4.objects import Project

from tests.helpers.chain import EXAMPLE_IMAGE, seeded, serve_webhook

TOKEN = "deployments-test-token-5e0f"  # noqa: S105 - the sandbox's test credential
ENVS = ("dev", "stage", "prod")
# The project, each environment's merged MR (iid, merge commit), the webhook's URL.
Chained = tuple[Project, dict[str, tuple[int, str]], str]


@pytest.fixture
def merged_chain(tmp_path: Path) -> Iterator[Chained]:
    """The E1 chain run through the webhook."""
    with seeded(TOKEN) as (sb, project, chain), serve_webhook(sb, tmp_path / "data") as hook:
        built = chain.build("example-app", "1.1.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        iids = {"dev": built.mr_iid}
        for env, following in zip(ENVS, (*ENVS[1:], None), strict=True):
            chain.merge(iids[env])
            if following:
                title = f"Promote example-app 1.1.0 to {following}"
                iids[following] = chain.wait_mr(following, chain.titled(title)).iid
        hook.wait_idle()
        merges = {
            env: (iid, str(project.mergerequests.get(iid).merge_commit_sha))
            for env, iid in iids.items()
        }
        yield project, merges, hook.url


def test_each_environment_shows_its_merge_as_the_last_deployment(
    merged_chain: Chained,
) -> None:
    project, merges, hook_url = merged_chain
    for env, (iid, sha) in merges.items():
        found = project.deployments.list(environment=env, get_all=True)
        assert [(d.status, d.ref, d.sha) for d in found] == [("success", env, sha)], env
        assert [m.iid for m in found[0].mergerequests.list()] == [iid]
        (summary,) = project.environments.list(name=env)
        environment = project.environments.get(summary.id)
        assert (environment.tier, environment.last_deployment["sha"]) == (
            {"dev": "development", "stage": "staging", "prod": "production"}[env],
            sha,
        )
        assert environment.last_deployment["id"] == found[0].id
    pages = requests.get(f"{hook_url}/status.json", timeout=60).json()["environment_pages"]
    web = project.web_url
    assert pages == {
        env: f"{web}/-/environments/{project.environments.list(name=env)[0].id}" for env in ENVS
    }
