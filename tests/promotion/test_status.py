"""The status board against the sandbox: what a person reading it before a release sees.

One seeded sandbox for the module, brought into a state with one of each thing the
board explains, by the tool's own operations and MRs merged through python-gitlab
(no webhook: nothing cascades behind the test's back):

- example-app: 1.1.0 built into dev, its promotion to stage open; a hotfix in prod;
- postgres: rolled back in prod to 16.2;
- billing: a new app built into dev, promoted to prod skipping stage; then a release
  group (billing 0.2.0 with example-app 1.1.1) open into dev;
- legacy: built into dev, then being decommissioned (its removal MR open);
- stage's postgres Deployment edited by hand (a stale manifest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox
from jenkins_helpers.gitlab import Access
from jenkins_helpers.operations import edits
from jenkins_helpers.operations.between_envs import promote_env
from jenkins_helpers.operations.decommission import decommission as decommission_app
from jenkins_helpers.operations.from_build import promote_build
from jenkins_helpers.promotion.publish import Change, commit_message
from jenkins_helpers.promotion.target import connect
from jenkins_helpers.promotion.trailer import Trailer
from jenkins_helpers.status import Board, board
from tests.helpers.chain import seeded

TOKEN = "status-test-token-7c3a"  # noqa: S105 - the sandbox's test credential
STALE = "manifests/stage/postgres/deployment-postgres.yaml"


@dataclass(frozen=True)
class Scenario:
    sandbox: Sandbox
    project: Project
    hotfix: int
    pending: int
    rollback: int
    skip: int
    decommission: int
    group: int


def only_mr(result: object) -> int:
    """The iid of the one MR an operation opened."""
    units = getattr(result, "units", None)
    iid = units[0].mr_iid if units else getattr(result, "mr_iid", None)
    assert isinstance(iid, int), result
    return iid


def hand_made_mr(
    project: Project,
    branch: str,
    target: str,
    path: str,
    content: str,
    title: str,
    commit_message: str | None = None,
    **extra: object,
) -> int:
    """A person's MR: one file changed on a new branch."""
    project.commits.create(
        {
            "branch": branch,
            "start_branch": target,
            "commit_message": commit_message or title,
            "actions": [{"action": "update", "file_path": path, "content": content}],
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": branch, "target_branch": target, "title": title, **extra}
    )
    return int(mr.iid)


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    with seeded(TOKEN) as (sb, project, chain):
        common = {"project": DEPLOYMENTS, "gitlab_url": None}

        hotfix = only_mr(
            edits.set_values(
                env="prod", app="example-app", image_tag="1.0.1-hotfix1", promote=False, **common
            )
        )
        chain.merge(hotfix)
        chain.merge(only_mr(chain.build("example-app", "1.1.0", chain.app_repo("example-app"))))
        pending = only_mr(
            promote_env(source="dev", target_env="stage", apps=["example-app"], **common)
        )
        rollback = only_mr(edits.rollback(env="prod", app="postgres", to="16.2", **common))
        chain.merge(rollback)
        chain.merge(only_mr(chain.build("billing", "0.1.0", chain.app_repo("billing"))))
        skip = only_mr(
            promote_env(source="dev", target_env="prod", apps=["billing"], skip_env=True, **common)
        )
        chain.merge(skip)

        group = only_mr(
            promote_build(
                app="billing",
                image="registry.example.com/billing",
                tag="0.2.0",
                digest=None,
                app_repo=chain.app_repo("billing"),
                env=None,
                group="release-1",
                with_apps=["example-app=1.1.1"],
                **common,
            )
        )
        chain.merge(only_mr(chain.build("legacy", "0.9.0", chain.app_repo("legacy"))))
        decommission = only_mr(decommission_app(app="legacy", **common))
        manifest = project.files.raw(file_path=STALE, ref="stage").decode()
        assert "replicas: 1\n" in manifest
        by_hand = hand_made_mr(
            project,
            "scale-postgres",
            "stage",
            STALE,
            manifest.replace("replicas: 1\n", "replicas: 5\n"),
            "Scale postgres by hand",
        )
        chain.merge(by_hand)
        yield Scenario(sb, project, hotfix, pending, rollback, skip, decommission, group)


@pytest.fixture(scope="module")
def seen(scenario: Scenario) -> Board:
    """The board as the CLI and the webhook build it, manifests compared."""
    access = Access(scenario.sandbox.gitlab_url, scenario.sandbox.token)
    with connect(DEPLOYMENTS, access) as deployment:
        return board(deployment, check_manifests=True)


def mr_url(scenario: Scenario, iid: int) -> str:
    return f"{scenario.sandbox.gitlab_url}/{DEPLOYMENTS}/-/merge_requests/{iid}"


def table(b: Board) -> dict[str, list[str]]:
    from gitops_helper.commands.status import cell_text

    return {row.app: [cell_text(c) for c in row.cells] for row in b.rows}


def test_the_table_shows_each_apps_tag_per_environment_with_marks(seen: Board) -> None:
    assert [e.name for e in seen.environments] == ["dev", "stage", "prod"]
    assert table(seen) == {
        "billing": ["0.1.0 *", "-", "0.1.0 !"],
        "example-app": ["1.1.0 *", "1.0.0 *<", "1.0.1-hotfix1 !"],
        "legacy": ["0.9.0 *", "-", "-"],
        "postgres": ["16.4", "16.4", "16.2 ~"],
    }
    prod = {row.app: row.cells[2] for row in seen.rows}
    assert (prod["example-app"].replicas, prod["postgres"].replicas) == (3, 1)
    assert prod["billing"].state == "deployed"


def test_each_divergence_names_its_cause_and_mr(seen: Board, scenario: Scenario) -> None:
    s = scenario
    assert sorted((d.app, d.text) for d in seen.divergences) == [
        ("billing", f"prod skipped stage: !{s.skip} from dev"),
        ("example-app", f"prod ahead of stage: hotfix !{s.hotfix}"),
        ("example-app", f"stage behind dev: !{s.pending} pending (example-app 1.1.0)"),
        ("postgres", f"prod rolled back !{s.rollback}"),
    ]
    causes = {(d.app, d.env): (d.kind, d.cause) for d in seen.divergences}
    assert causes == {
        ("billing", "prod"): ("ahead", "skip"),
        ("example-app", "prod"): ("ahead", "hotfix"),
        ("example-app", "stage"): ("behind", "pending"),
        ("postgres", "prod"): ("back", "rollback"),
    }
    for d in seen.divergences:
        assert d.mr_iid is not None and d.mr_url == mr_url(s, d.mr_iid)


def test_pending_mrs_are_listed_with_links_and_attached_to_their_cells(
    seen: Board, scenario: Scenario
) -> None:
    pending = {mr.iid: mr for mr in seen.pending}
    assert sorted(pending) == sorted([scenario.pending, scenario.decommission, scenario.group])
    promotion = pending[scenario.pending]
    assert (promotion.env, promotion.kind, promotion.apps) == ("stage", "app", ("example-app",))
    assert promotion.title == "Promote example-app 1.1.0 to stage"
    assert promotion.url.endswith(f"/merge_requests/{scenario.pending}")
    cells = {(row.app, c.env): c for row in seen.rows for c in row.cells}
    assert cells["example-app", "stage"].pending == (scenario.pending,)
    assert cells["legacy", "dev"].pending == (scenario.decommission,)
    group = pending[scenario.group]
    assert (group.kind, group.group, group.apps) == (
        "group",
        "release-1",
        ("billing", "example-app"),
    )
    assert group.tags == {"billing": "0.2.0", "example-app": "1.1.1"}
    assert cells["billing", "dev"].pending == cells["example-app", "dev"].pending == (group.iid,)
    assert all(not e.pending for e in seen.environments), "no platform or sync MR is open"


def test_a_decommission_in_progress_says_where_the_app_still_is(
    seen: Board, scenario: Scenario
) -> None:
    [found] = seen.decommissions
    assert (found.app, found.remaining) == ("legacy", ("dev",))
    assert [(mr.iid, mr.state) for mr in found.mrs] == [(scenario.decommission, "opened")]


def test_a_hand_edited_manifest_is_reported_stale_in_its_environment(seen: Board) -> None:
    assert {e.name: e.stale for e in seen.environments} == {
        "dev": (),
        "stage": (STALE,),
        "prod": (),
    }


def test_the_cli_prints_the_board_as_a_table_and_as_json(scenario: Scenario) -> None:
    environ = {
        **os.environ,
        "GITLAB_URL": scenario.sandbox.gitlab_url,
        "GITLAB_TOKEN": scenario.sandbox.token,
    }
    command = [sys.executable, "-m", "gitops_helper", "status", "--project", DEPLOYMENTS]
    done = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=environ, check=False
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    cells = {r["app"]: [c["tag"] for c in r["cells"]] for r in data["rows"]}
    assert cells["example-app"] == ["1.1.0", "1.0.0", "1.0.1-hotfix1"]
    assert f"prod ahead of stage: hotfix !{scenario.hotfix}" in [
        d["text"] for d in data["divergences"]
    ]
    assert data["manifests_checked"] is False
    text = subprocess.run(command, capture_output=True, text=True, env=environ, check=False)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{DEPLOYMENTS} at ") and lines[0].endswith("dev -> stage -> prod")
    print(text.stdout)  # what a person sees: shown with pytest -s
    assert lines[2:7] == [
        "APP          DEV      STAGE     PROD",
        "billing      0.1.0 *  -         0.1.0 !",
        "example-app  1.1.0 *  1.0.0 *<  1.0.1-hotfix1 !",
        "legacy       0.9.0 *  -         -",
        "postgres     16.4     16.4      16.2 ~",
    ]
    assert f"(group release-1)  {mr_url(scenario, scenario.group)}" in text.stdout
    assert f"  example-app: prod ahead of stage: hotfix !{scenario.hotfix}  " in text.stdout
    decommission = f"  legacy: still in dev; !{scenario.decommission} (opened) "
    assert decommission in text.stdout
    assert "Stale manifests: not checked" in text.stdout
    assert scenario.sandbox.token not in done.stdout + text.stdout + text.stderr


def test_later_changes_a_rollback_in_dev_its_revert_and_a_stuck_set(
    scenario: Scenario,
) -> None:
    """Last in the module (it changes the sandbox): postgres rolled back in the first
    environment shows against the next one; the revert MR undoing it is pending on that
    cell (its apps taken from the merge it reverts). example-app's promotion to stage is
    closed unmerged, then a `set` of a new image that moves on merges into dev with no
    webhook to carry it: stuck, not a hotfix (issue 18, part 5)."""
    s, project = scenario, scenario.project
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GITLAB_URL", s.sandbox.gitlab_url)
        env.setenv("GITLAB_TOKEN", s.sandbox.token)
        rollback = only_mr(
            edits.rollback(
                env="dev", app="postgres", to="16.1", project=DEPLOYMENTS, gitlab_url=None
            )
        )
        moving = edits.set_values(
            env="dev", app="example-app", image_tag="1.1.2", project=DEPLOYMENTS, gitlab_url=None
        )
    assert moving.promotes
    project.mergerequests.get(rollback).merge()
    merged = project.mergerequests.get(rollback)
    # The revert MR as `gitops-helper revert` writes it (title, labels, trailer, and the
    # MR's text in its commit); made by hand because that command cannot run on git
    # 2.39 yet (see the report).
    before = project.commits.get(merged.merge_commit_sha).parent_ids[0]
    trailer = Trailer(
        target_env="dev", apps={}, unit="revert", source_commit=merged.merge_commit_sha
    )
    text = Change(
        source_branch=f"revert/dev/{merged.merge_commit_sha[:12]}",
        title=f'Revert "{merged.title}" in dev',
        description=f"Reverts !{rollback}. [no-promote]\n\n{trailer.to_comment()}\n",
        labels=("gitops", "revert", "env::dev", "no-promote"),
        identity=(),
        commit_message=f'Revert "{merged.title}" in dev\n',
        files=(),
    )
    undo = hand_made_mr(
        project,
        text.source_branch,
        "dev",
        "env.cue",
        project.files.raw(file_path="env.cue", ref=before).decode(),
        text.title,
        commit_message=commit_message(text),
        description=text.description,
        labels=",".join(text.labels),
    )
    closed = project.mergerequests.get(s.pending)
    closed.state_event = "close"
    closed.save()
    project.mergerequests.get(moving.mr_iid).merge()
    with connect(DEPLOYMENTS, Access(s.sandbox.gitlab_url, s.sandbox.token)) as deployment:
        now = board(deployment)
    assert table(now)["postgres"] == ["16.1 *~", "16.4", "16.2 ~"]
    assert table(now)["example-app"] == ["1.1.2 *", "1.0.0 <", "1.0.1-hotfix1 !"]
    texts = {(d.app, d.text) for d in now.divergences}
    assert ("postgres", f"dev rolled back !{rollback}") in texts
    stuck = now.divergences[0]
    assert (stuck.app, stuck.env, stuck.kind, stuck.cause, stuck.mr_iid) == (
        "example-app",
        "stage",
        "behind",
        "stuck",
        moving.mr_iid,
    ), "stuck divergences come first"
    assert stuck.text == (
        f"stage behind dev: set !{moving.mr_iid} (example-app 1.1.2) is stuck, no MR into "
        "stage carries it: run `gitops-helper reconcile`"
    )
    reverting = now.merge_request(undo)
    assert reverting is not None
    assert (reverting.kind, reverting.env, reverting.apps) == ("revert", "dev", ("postgres",))
