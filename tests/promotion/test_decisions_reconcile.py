"""Reconcile (reconcile.py: a merge is missed unless the next environment or an open MR
of the tool's carries it, or a later deliberate change overruled it) and refresh
(refresh.py: which open MRs are regenerated, skipped or closed), on FakeForge."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.operations import reconcile
from jenkins_helpers.operations.refresh import refresh_open
from jenkins_helpers.promotion import trust
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer
from tests.helpers.fakeforge import (
    BOT,
    PERSON,
    PROJECT,
    FakeForge,
    deployment_project,
    env_cue,
    propose,
)

OLD = {"a": "1.0.0", "b": "1.0.0"}


def world(tmp_path: Path, stage: dict[str, str] = OLD) -> DeploymentProject:
    tags = {"dev": OLD, "stage": stage, "prod": OLD}
    return deployment_project(FakeForge(tmp_path), tags)


def forge_of(deployment: DeploymentProject) -> FakeForge:
    assert isinstance(deployment.gl, FakeForge)
    return deployment.gl


def promotion(target: str, tag: str, source: str | None = "dev") -> Trailer:
    return Trailer(
        target_env=target,
        apps={"a": ImageRef("registry.example.com/a", tag)},
        source_env=source,
    )


def merge_into(
    deployment: DeploymentProject,
    env: str,
    tags: dict[str, str],
    title: str = "Promote a",
    trailer: Trailer | None = None,
) -> None:
    forge = forge_of(deployment)
    files = {layout.ENV_FILE: env_cue(tags, env)}
    mr = propose(forge, env, files, title, trailer=trailer, author=BOT)
    forge.merge(PROJECT, mr.iid)


def open_into(
    deployment: DeploymentProject, env: str, tag: str, *, author: int = BOT, source: str = "dev"
) -> int:
    files = {layout.ENV_FILE: env_cue({**OLD, "a": tag}, env)}
    trailer = promotion(env, tag, source)
    mr = propose(
        forge_of(deployment), env, files, f"Promote a {tag}", trailer=trailer, author=author
    )
    return mr.iid


def missed(deployment: DeploymentProject) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (m.target_branch, step.target, step.selection.apps or ())
        for m, step in reconcile.missed(deployment)
    ]


# --- reconcile: carriers and overruled ----------------------------------------------


@pytest.mark.parametrize(
    ("stage", "open_tag", "author", "found"),
    [
        (OLD, None, BOT, [("dev", "stage", ("a",))]),
        ({**OLD, "a": "1.1.0"}, None, BOT, []),
        (OLD, "1.1.0", BOT, []),
        (OLD, "1.0.5", BOT, [("dev", "stage", ("a",))]),
        (OLD, "1.1.0", PERSON, [("dev", "stage", ("a",))]),
    ],
    ids=[
        "nothing carries it",
        "stage has it",
        "the tool's open MR carries it",
        "the open MR carries an older version",
        "a person's MR is no evidence",
    ],
)
def test_a_merge_is_missed_unless_the_next_environment_or_the_tools_open_mr_carries_it(
    tmp_path: Path, stage: dict[str, str], open_tag: str | None, author: int, found: list[object]
) -> None:
    deployment = world(tmp_path, stage)
    merge_into(deployment, "dev", {**OLD, "a": "1.1.0"}, trailer=promotion("dev", "1.1.0", None))
    if open_tag is not None:
        open_into(deployment, "stage", open_tag, author=author)
    assert missed(deployment) == found


@pytest.mark.parametrize(
    ("later", "found"),
    [
        ({**OLD, "a": "1.0.1"}, []),
        ({**OLD, "b": "1.0.1"}, [("dev", "stage", ("a",))]),
    ],
    ids=["a hotfix of the same app overrules", "a hotfix of another app does not"],
)
def test_a_later_no_promote_change_in_the_target_overrules_only_its_own_app(
    tmp_path: Path, later: dict[str, str], found: list[object]
) -> None:
    deployment = world(tmp_path)
    merge_into(deployment, "dev", {**OLD, "a": "1.1.0"}, trailer=promotion("dev", "1.1.0", None))
    merge_into(deployment, "stage", later, "Hotfix [no-promote]")
    assert missed(deployment) == found


def test_an_older_merge_of_the_same_unit_is_not_reported_twice(tmp_path: Path) -> None:
    deployment = world(tmp_path)
    merge_into(deployment, "dev", {**OLD, "a": "1.1.0"}, trailer=promotion("dev", "1.1.0", None))
    merge_into(deployment, "dev", {**OLD, "a": "1.2.0"}, trailer=promotion("dev", "1.2.0", None))
    [(merged, step)] = reconcile.missed(deployment)
    assert merged.iid == 2 and step.target == "stage"


# --- refresh: which open MRs are regenerated, skipped or closed ----------------------


def test_refresh_skips_mrs_whose_trailer_does_not_count(tmp_path: Path) -> None:
    deployment = world(tmp_path)
    forge = forge_of(deployment)
    files = {layout.ENV_FILE: env_cue({**OLD, "b": "2.0.0"}, "stage")}
    plain = propose(forge, "stage", files, "By hand", author=BOT).iid
    foreign = open_into(deployment, "stage", "1.1.0", author=PERSON)
    edited = open_into(deployment, "stage", "1.1.0")
    mr = forge.merge_request(PROJECT, edited)
    forge.update_merge_request(
        PROJECT,
        edited,
        title=mr.title,
        description=mr.description.replace('"1.1.0"', '"9.9.9"'),
        labels=mr.labels,
    )
    found = {
        r.mr_iid: (r.status, r.reason)
        for r in refresh_open(deployment, deployment.settings.environment("stage"))
    }
    assert found == {
        plain: ("skipped", "no trailer: not the tool's MR"),
        foreign: ("skipped", trust.NOT_OURS),
        edited: ("skipped", trust.EDITED),
    }
    assert {forge.merge_request(PROJECT, i).state for i in found} == {"opened"}


@pytest.mark.parametrize(
    ("dev", "stage", "reason"),
    [
        ("1.1.0", "1.1.0", "the target already has it"),
        ("1.1.0", "1.2.0", "stage runs a 1.2.0, newer than dev's 1.1.0"),
    ],
    ids=["the target has it now", "the target runs a newer version now"],
)
def test_refresh_closes_an_mr_the_target_no_longer_needs(
    tmp_path: Path, dev: str, stage: str, reason: str
) -> None:
    deployment = deployment_project(
        FakeForge(tmp_path),
        {"dev": {**OLD, "a": dev}, "stage": {**OLD, "a": stage}, "prod": OLD},
    )
    iid = open_into(deployment, "stage", dev)
    [result] = refresh_open(deployment, deployment.settings.environment("stage"))
    assert (result.mr_iid, result.status) == (iid, "closed")
    assert result.reason is not None and result.reason.startswith(reason)
    forge = forge_of(deployment)
    assert forge.merge_request(PROJECT, iid).state == "closed"
    assert forge.notes(PROJECT, iid) == [f"Closed by gitops-helper: {result.reason}."]
