"""Release groups (groups.py) and the no-downgrade rule (between_envs._backwards), on
FakeForge: which MRs a group closes, which apps it holds back, which moves go back."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.operations.between_envs import _backwards
from jenkins_helpers.promotion import groups
from jenkins_helpers.promotion.model import AppVersion, ImageRef, Outcome
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

TAGS = {"a": "1.0.0", "b": "1.0.0", "c": "1.0.0"}


@pytest.fixture
def deployment(tmp_path: Path) -> DeploymentProject:
    return deployment_project(FakeForge(tmp_path), {env: TAGS for env in ("dev", "stage", "prod")})


def forge_of(deployment: DeploymentProject) -> FakeForge:
    assert isinstance(deployment.gl, FakeForge)
    return deployment.gl


def image(app: str, tag: str = "1.1.0") -> ImageRef:
    return ImageRef(f"registry.example.com/{app}", tag)


def open_into_stage(
    deployment: DeploymentProject,
    labels: tuple[str, ...],
    trailer: Trailer | None = None,
    author: int = BOT,
) -> int:
    files = {layout.ENV_FILE: env_cue({**TAGS, "a": "1.1.0"}, "stage")}
    mr = propose(
        forge_of(deployment),
        "stage",
        files,
        "Promote",
        trailer=trailer,
        labels=labels,
        author=author,
    )
    return mr.iid


def group_trailer(apps: tuple[str, ...] = ("a", "b")) -> Trailer:
    return Trailer(
        target_env="stage",
        apps={app: image(app) for app in apps},
        unit="group",
        source_env="dev",
        group="g1",
    )


GROUP_LABELS = ("gitops", "promotion", "group::g1", "env::stage")


@pytest.mark.parametrize(
    ("labels", "closed"),
    [
        (("gitops", "promotion", "app::a", "env::stage"), True),
        (("gitops", "promotion", "app::b", "env::stage"), True),
        (("gitops", "promotion", "app::c", "env::stage"), False),
        (("gitops", "promotion", "app::a", "group::g1"), False),
        (("gitops", "app::a"), False),
    ],
)
def test_a_group_mr_closes_its_members_own_promotions_into_the_same_environment(
    deployment: DeploymentProject, labels: tuple[str, ...], closed: bool
) -> None:
    other = open_into_stage(deployment, labels)
    group = open_into_stage(deployment, GROUP_LABELS, group_trailer())
    done = groups.supersede_members(deployment, "stage", "g1", group, ["a", "b"])
    forge = forge_of(deployment)
    assert done == ([other] if closed else [])
    assert forge.merge_request(PROJECT, other).state == ("closed" if closed else "opened")
    assert forge.merge_request(PROJECT, group).state == "opened"
    if closed:
        assert forge.notes(PROJECT, other) == [
            f"Superseded by !{group}: {labels[2][5:]} moves with the release group g1."
        ]


@pytest.mark.parametrize(
    ("has_mr", "dry_run", "closes"),
    [(True, False, True), (False, False, False), (True, True, False)],
    ids=["published", "no MR", "dry run"],
)
def test_a_published_group_mr_supersedes_its_members_own_promotions(
    deployment: DeploymentProject, has_mr: bool, dry_run: bool, closes: bool
) -> None:
    """The step both `promote --group` and a group's promotion between environments take
    after publishing: the members' own MRs are closed and reported with the outcome's."""
    other = open_into_stage(deployment, ("gitops", "promotion", "app::a", "env::stage"))
    group = open_into_stage(deployment, GROUP_LABELS, group_trailer())
    outcome = Outcome(
        status="created",
        branch="promote/stage/g1",
        mr_iid=group if has_mr else None,
        superseded=(99,),
        dry_run=dry_run,
    )
    after = groups.supersede(deployment, outcome, "stage", "g1", ["a", "b"])
    assert after.superseded == ((99, other) if closes else (99,))
    state = forge_of(deployment).merge_request(PROJECT, other).state
    assert state == ("closed" if closes else "opened")


@pytest.mark.parametrize(
    ("labels", "author", "held"),
    [
        (GROUP_LABELS, BOT, ["a", "b"]),
        (GROUP_LABELS, PERSON, []),
        (("gitops", "promotion", "env::stage"), BOT, []),
    ],
)
def test_members_of_the_tools_open_group_mr_are_held_back(
    deployment: DeploymentProject, labels: tuple[str, ...], author: int, held: list[str]
) -> None:
    iid = open_into_stage(deployment, labels, group_trailer(), author)
    found = groups.in_flight(deployment, "stage")
    assert sorted(found) == held
    assert all(f"part of group g1 in flight (!{iid})" in why for why in found.values())


def test_a_groups_members_come_from_its_newest_mr(deployment: DeploymentProject) -> None:
    open_into_stage(deployment, GROUP_LABELS, group_trailer(("a",)))
    open_into_stage(deployment, GROUP_LABELS, group_trailer(("a", "c")))
    assert groups.members(deployment, "g1", "stage") == ("a", "c")


# --- the no-downgrade rule ---------------------------------------------------------


def version(tag: str) -> AppVersion:
    return AppVersion("a", "layer", image("a", tag))


@pytest.mark.parametrize(
    ("runs", "arrives", "back"),
    [
        ("1.2.1", "1.2.0", True),
        ("1.2.0", "1.2.1", False),
        ("1.2.0", "1.2.0", False),
        ("2.0.0", "1.99.99", True),
        ("1.0.0", "1.0.0-rc.1", True),
        ("1.0.0-rc.1", "1.0.0", False),
        ("1.0.0-rc.2", "1.0.0-rc.10", False),
        ("v2.0.0", "1.9.0", True),
        ("1.0.0+build.2", "1.0.0+build.1", False),
        ("2024-05", "2023-01", False),
        ("latest-main", "1.0.0", False),
    ],
)
def test_a_promotion_never_takes_an_environment_back_to_an_older_version(
    runs: str, arrives: str, back: bool
) -> None:
    reason = _backwards("prod", "stage", version(runs), version(arrives))
    assert (reason is not None) == back
    if reason is not None:
        assert reason.startswith(f"prod runs a {runs}, newer than stage's {arrives}")
        assert reason.endswith("`gitops-helper rollback --env prod --app a`)")


def test_an_app_new_to_the_environment_is_never_a_step_back() -> None:
    assert _backwards("prod", "stage", None, version("0.0.1")) is None
