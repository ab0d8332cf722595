"""A release group's MR closes its members' own promotions into the same environment,
through both operations that open one: `promote --group` (from_build.py) and
`promote-env` of a group (between_envs.py's group path), each calling groups.supersede.

Both render CUE, so the deployment project on FakeForge is one that renders: the
scaffold `gitops-helper init-repo` writes (example-app and postgres), plus billing,
an app outside the group. It is laid down once for the module and seeded into a fresh
FakeForge per test; `target.connect` hands the operations that project.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from jenkins_helpers.forge import Access
from jenkins_helpers.operations.between_envs import promote_env
from jenkins_helpers.operations.from_build import BuildPromotion, promote_build
from jenkins_helpers.promotion import groups, naming, target
from jenkins_helpers.promotion.target import DeploymentProject
from tests.helpers.apprepo import app_cue, make_app_repo
from tests.helpers.deployrepo import add_apps
from tests.helpers.fakeforge import PROJECT, WEB, FakeForge, propose

GROUP = "release-2"
APP = "example-app"  # the app whose build starts the group
IMAGE = "registry.example.com/example-app"
WITH = "postgres"  # the group's other member (third-party: no app repository)
OUTSIDER = "billing"  # deployed everywhere, not in the group


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory: pytest.TempPathFactory, _pinned_git_environment: None) -> Path:
    """init-repo's deployment repository, deploying billing too; rendered on each branch."""
    return add_apps(tmp_path_factory.mktemp("group-paths") / "k8s-deployments", [OUTSIDER])


@pytest.fixture
def forge(scaffold: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeForge:
    """A FakeForge holding the scaffold as the deployment project, which the operations
    reach as they would reach GitLab (GITLAB_URL, GITLAB_TOKEN, target.connect)."""
    found = FakeForge(tmp_path)
    project = found.add_project(PROJECT, scaffold)
    deployment = DeploymentProject(found, project, target.read_settings(found, project))

    @contextlib.contextmanager
    def connect(path: str, _: Access) -> Iterator[DeploymentProject]:
        assert path == PROJECT
        yield deployment

    monkeypatch.setattr(target, "connect", connect)
    monkeypatch.setenv("GITLAB_URL", WEB)
    monkeypatch.setenv("GITLAB_TOKEN", "group-paths-test-token")
    return found


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    """example-app's repository, its deployment/app.cue as the scaffold deploys it."""
    fields = ("port: 8080", 'readinessProbe: httpGet: {path: "/ready", port: "http"}')
    text = app_cue(APP, IMAGE, *fields, "podSecurityContext: runAsNonRoot: true")
    return make_app_repo(tmp_path / APP, text)


def build(
    app_repo: Path, tag: str, *, group: bool = False, dry_run: bool = False
) -> BuildPromotion:
    """`gitops-helper promote` of example-app's build `tag` into dev; with `group`,
    `--group release-2 --with postgres=17-alpine`."""
    return promote_build(
        app=APP,
        image=IMAGE,
        tag=tag,
        digest=None,
        app_repo=app_repo,
        env=None,
        project=PROJECT,
        gitlab_url=None,
        dry_run=dry_run,
        group=GROUP if group else None,
        with_apps=[f"{WITH}=17-alpine"] if group else [],
    )


def own_mr(forge: FakeForge, app: str, env: str) -> int:
    """A pending promotion of `app` alone into `env`, on the branch and with the labels
    the tool gives one."""
    mr = propose(
        forge,
        env,
        {"NOTES.md": f"{app} waits in {env}\n"},
        naming.title(app, "9.0.0", env),
        labels=naming.labels(app, env),
        branch=naming.source_branch(env, app),
    )
    return mr.iid


def state(forge: FakeForge, iid: int) -> tuple[str, list[str]]:
    """What a person sees on an MR: its state and its notes."""
    return forge.merge_request(PROJECT, iid).state, forge.notes(PROJECT, iid)


def superseded(iid: int | None, app: str) -> tuple[str, list[str]]:
    return "closed", [f"Superseded by !{iid}: {app} moves with the release group {GROUP}."]


PENDING: tuple[str, list[str]] = ("opened", [])


@pytest.mark.parametrize("dry_run", [False, True], ids=["published", "dry run"])
def test_promote_group_closes_its_members_own_promotions_into_the_environment(
    forge: FakeForge, app_repo: Path, dry_run: bool
) -> None:
    mine = build(app_repo, "1.1.0").mr_iid  # example-app's own build, waiting in dev
    assert mine is not None
    others = {
        WITH: own_mr(forge, WITH, "dev"),
        OUTSIDER: own_mr(forge, OUTSIDER, "dev"),
        "stage": own_mr(forge, APP, "stage"),  # a member's, into another environment
    }
    before = forge.merge_requests(PROJECT, labels=(), target_branch=None, state="all")

    group = build(app_repo, "1.2.0", group=True, dry_run=dry_run)

    if dry_run:
        assert (group.status, group.mr_iid, list(group.superseded)) == ("created", None, [])
        assert forge.merge_requests(PROJECT, labels=(), target_branch=None, state="all") == before
        assert all(state(forge, iid) == PENDING for iid in (mine, *others.values()))
        return
    assert group.status == "created" and group.mr_iid is not None
    opened = forge.merge_request(PROJECT, group.mr_iid)
    assert (opened.target_branch, opened.state) == ("dev", "opened")
    assert groups.label(GROUP) in opened.labels
    assert sorted(group.superseded) == sorted([mine, others[WITH]])
    assert state(forge, mine) == superseded(group.mr_iid, APP)
    assert state(forge, others[WITH]) == superseded(group.mr_iid, WITH)
    assert state(forge, others[OUTSIDER]) == PENDING
    assert state(forge, others["stage"]) == PENDING


@pytest.mark.parametrize("dry_run", [False, True], ids=["published", "dry run"])
def test_promote_env_of_a_group_closes_its_members_own_promotions_into_the_target(
    forge: FakeForge, app_repo: Path, dry_run: bool
) -> None:
    started = build(app_repo, "1.2.0", group=True).mr_iid  # the group, merged into dev
    assert started is not None
    forge.merge(PROJECT, started)
    alone = promote_env(
        source="dev", target_env="stage", project=PROJECT, gitlab_url=None, apps=[APP]
    )
    (unit,) = alone.units
    mine = unit.mr_iid  # example-app promoted to stage on its own, waiting there
    assert (unit.kind, unit.status) == ("app", "created") and mine is not None
    others = {
        WITH: own_mr(forge, WITH, "stage"),
        OUTSIDER: own_mr(forge, OUTSIDER, "stage"),
        "prod": own_mr(forge, WITH, "prod"),  # a member's, into another environment
    }
    before = forge.merge_requests(PROJECT, labels=(), target_branch=None, state="all")

    moved = promote_env(
        source="dev",
        target_env="stage",
        project=PROJECT,
        gitlab_url=None,
        group=GROUP,
        dry_run=dry_run,
    )

    (group,) = moved.units
    assert (group.unit, group.kind, group.status) == (GROUP, "group", "created")
    if dry_run:
        assert (group.mr_iid, list(group.superseded)) == (None, [])
        assert forge.merge_requests(PROJECT, labels=(), target_branch=None, state="all") == before
        assert all(state(forge, iid) == PENDING for iid in (mine, *others.values()))
        return
    assert group.mr_iid is not None
    assert forge.merge_request(PROJECT, group.mr_iid).target_branch == "stage"
    assert sorted(group.superseded) == sorted([mine, others[WITH]])
    assert state(forge, mine) == superseded(group.mr_iid, APP)
    assert state(forge, others[WITH]) == superseded(group.mr_iid, WITH)
    assert state(forge, others[OUTSIDER]) == PENDING
    assert state(forge, others["prod"]) == PENDING
