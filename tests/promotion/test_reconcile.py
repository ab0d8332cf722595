"""`reconcile` against the sandbox: what missed webhook deliveries leave undone is found
from the branches, including a downstream MR that still proposes an older version."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gitlab.v4.objects import Project

from gitops_helper.commands import reconcile
from gitops_sandbox import DEPLOYMENTS
from jenkins_helpers.operations import edits
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, seeded

TOKEN = "reconcile-test-token-3b8e"  # noqa: S105 - the sandbox's test credential


@pytest.fixture
def world() -> Iterator[tuple[Project, Chain]]:
    """A seeded sandbox with no webhook: every merge's delivery is missed."""
    with seeded(TOKEN) as (_, project, chain):
        yield project, chain


def release(chain: Chain, tag: str) -> None:
    """Build `tag` of example-app into dev and merge it (nobody listens for the merge)."""
    built = chain.build("example-app", tag, chain.app_repo("example-app"), EXAMPLE_IMAGE)
    assert built.mr_iid is not None
    chain.merge(built.mr_iid)


def stage_mrs(chain: Chain) -> list[tuple[int, str]]:
    return [(m.iid, m.title) for m in chain.open_mrs("stage")]


def test_an_open_mr_with_an_older_version_is_updated_to_the_newer_one(
    world: tuple[Project, Chain],
) -> None:
    project, chain = world
    release(chain, "5.7.0")
    first = reconcile.run(DEPLOYMENTS, None, dry_run=False)
    [(iid, title)] = stage_mrs(chain)
    assert [m.target for m in first.missed] == ["stage"] and title.startswith(
        "Promote example-app 5.7.0"
    )

    release(chain, "5.8.0")  # stage's MR still proposes 5.7.0
    second = reconcile.run(DEPLOYMENTS, None, dry_run=False)

    assert [(m.merged_into, m.target) for m in second.missed] == [("dev", "stage")]
    assert stage_mrs(chain) == [(iid, "Promote example-app 5.8.0 to stage")], "updated in place"
    mr = project.mergerequests.get(iid)
    env_cue = project.files.raw(file_path="env.cue", ref=mr.source_branch).decode()
    assert '"5.8.0"' in env_cue and '"5.7.0"' not in env_cue
    assert reconcile.run(DEPLOYMENTS, None, dry_run=False).missed == [], "nothing left"


def test_a_later_no_promote_change_overrules_only_its_own_app(
    world: tuple[Project, Chain],
) -> None:
    _, chain = world
    release(chain, "5.9.0")  # example-app's promotion to stage is missed

    def quietly(app: str, tag: str) -> None:
        done = edits.set_values(
            env="stage", app=app, image_tag=tag, promote=False, project=DEPLOYMENTS, gitlab_url=None
        )
        assert done.mr_iid is not None
        chain.merge(done.mr_iid)

    quietly("postgres", "16.9")  # a hotfix of another app since
    found = reconcile.run(DEPLOYMENTS, None, dry_run=True).missed
    assert [(m.target, m.apps) for m in found] == [("stage", ["example-app"])]

    quietly("example-app", "5.8.9")  # someone set example-app in stage on purpose since
    assert reconcile.run(DEPLOYMENTS, None, dry_run=True).missed == []
