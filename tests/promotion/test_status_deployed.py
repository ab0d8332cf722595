"""Deployed beside desired: the status board with `argocd:` in gitops.yaml, without a sandbox.

The board reads a FakeForge (real bare git repositories: the branch heads are real
commits) and an in-memory Argo CD (tests/helpers/fakeargocd.py), and each test reads
what `gitops-helper status` prints and its --json: per app and environment, the tag
env.cue asks for and what Argo CD reports, with drift flagged (OutOfSync, synced to a
commit older than the branch head, Degraded, no Application). Milliseconds each.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import jinja2
import pytest

import webhook
from gitops_helper.commands import status as command
from jenkins_helpers import deployed
from jenkins_helpers.argocd import AppState
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import ArgoCDSettings
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion import description
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer
from jenkins_helpers.status import Board, board
from tests.helpers.dom import Node, parse
from tests.helpers.fakeargocd import FakeArgoCD
from tests.helpers.fakeforge import PROJECT, FakeForge, deployment_project, env_cue

TAGS = {
    "dev": {"api": "1.1.0", "web": "2.0.0"},
    "stage": {"api": "1.0.0", "web": "2.0.0"},
    "prod": {"api": "1.0.0", "web": None},  # web onboarded in prod, no image yet
}
ARGOCD = ArgoCDSettings(url="https://argocd.example.com")
IMAGE = ImageRef("registry.example.com/api", "1.1.0")


@pytest.fixture
def forge(tmp_path: Path) -> FakeForge:
    return FakeForge(tmp_path)


@pytest.fixture
def plain(forge: FakeForge) -> DeploymentProject:
    """The deployment project, gitops.yaml without `argocd:`."""
    return deployment_project(forge, TAGS)


@pytest.fixture
def watched(plain: DeploymentProject) -> DeploymentProject:
    """The same project, gitops.yaml with `argocd:`."""
    return dataclasses.replace(plain, settings=dataclasses.replace(plain.settings, argocd=ARGOCD))


@pytest.fixture
def argo(forge: FakeForge) -> FakeArgoCD:
    """Every Application of an app with an image: Synced and Healthy at its branch head."""
    fake = FakeArgoCD()
    for env, apps in TAGS.items():
        for app, tag in apps.items():
            if tag:
                fake.set(env, app, revision=forge.head(PROJECT, env))
    return fake


def printed(b: Board) -> list[str]:
    lines: list[str] = []
    command.show(b, lambda text, err=False: lines.extend(text.split("\n")))
    return lines


def columns(line: str) -> list[str]:
    """A table line's cells (two spaces or more between them)."""
    return re.split(r"\s{2,}", line.strip())


def cells(b: Board) -> dict[tuple[str, str], dict[str, object] | None]:
    """(app, env) -> the cell's `deployed` as --json writes it."""
    data = json.loads(json.dumps(command.as_data(b, None)))
    return {(r["app"], c["env"]): c["deployed"] for r in data["rows"] for c in r["cells"]}


def test_in_step_every_cell_shows_desired_and_deployed_and_no_drift(
    forge: FakeForge, watched: DeploymentProject, argo: FakeArgoCD
) -> None:
    b = board(watched, argocd=argo)
    assert argo.reads == 1, "one list of Applications per board, not one read per app"
    assert (b.argocd, b.drift) == ("read", [])
    dev = forge.head(PROJECT, "dev")
    assert dev is not None
    lines = printed(b)
    assert columns(lines[3]) == ["api", "1.1.0", "1.0.0 <", "1.0.0"]
    assert columns(lines[4])[:2] == ["running", f"Synced Healthy {dev[:7]}"]
    assert "#" not in lines[4]
    assert (
        "Drift (Argo CD): none: every Application is Synced and not Degraded at its branch head"
        in lines
    )
    found = cells(b)[("api", "dev")]
    assert found is not None
    assert (found["application"], found["sync_status"], found["health"], found["revision"]) == (
        "dev-api",
        "Synced",
        "Healthy",
        dev,
    )
    assert found["drift"] == []
    assert cells(b)[("web", "prod")] is None, "onboarded without an image: no Application expected"


@pytest.mark.parametrize(
    ("change", "drift", "words"),
    [
        ({"sync_status": "OutOfSync"}, ["out-of-sync"], "OutOfSync: the cluster differs"),
        (
            {"health": "Degraded", "health_message": "Back-off pulling image"},
            ["degraded"],
            "Degraded: Back-off pulling image",
        ),
        ({"health": "Progressing"}, [], None),  # on its way: not drift
    ],
)
def test_argo_cds_own_status_is_flagged_as_drift(
    watched: DeploymentProject,
    argo: FakeArgoCD,
    change: dict[str, str],
    drift: list[str],
    words: str | None,
) -> None:
    argo.update("stage", "api", **change)
    b = board(watched, argocd=argo)
    found = cells(b)[("api", "stage")]
    assert found is not None and found["drift"] == drift
    assert [(app, c.env) for app, c in b.drift] == ([("api", "stage")] if drift else [])
    lines = printed(b)
    running = columns(lines[4])[2]
    sync, health = change.get("sync_status", "Synced"), change.get("health", "Healthy")
    assert running.startswith(f"{sync} {health} ")
    if words:
        assert "#" in running
        assert any(line.startswith("  api in stage: ") and words in line for line in lines)
    else:
        assert "#" not in running


def test_synced_to_a_commit_older_than_the_branch_head_is_behind(
    forge: FakeForge, watched: DeploymentProject, argo: FakeArgoCD
) -> None:
    """A merge Argo CD has not applied yet: its Application still reports the old commit."""
    old = forge.head(PROJECT, "stage")
    assert old is not None
    new = forge.commit(
        PROJECT,
        "stage",
        {layout.ENV_FILE: env_cue({**TAGS["stage"], "api": "1.1.0"}, "stage")},
        "x",
    )
    b = board(watched, argocd=argo)
    found = cells(b)[("api", "stage")]
    assert found is not None and (found["drift"], found["revision"]) == (["behind"], old)
    assert cells(b)[("web", "stage")]["drift"] == ["behind"]  # type: ignore[index]
    assert f"  api in stage: synced {old[:7]}, the branch is at {new[:7]}" in printed(b)
    argo.update("stage", "api", revision=new)
    assert cells(board(watched, argocd=argo))[("api", "stage")]["drift"] == []  # type: ignore[index]


def test_an_app_the_branch_deploys_without_an_application_is_missing(
    watched: DeploymentProject, argo: FakeArgoCD
) -> None:
    del argo.apps["prod-api"]
    b = board(watched, argocd=argo)
    found = cells(b)[("api", "prod")]
    assert found is not None
    assert (found["sync_status"], found["drift"]) == (None, ["missing"])
    lines = printed(b)
    assert lines[4].rstrip().endswith("(no Application) #")
    assert "  api in prod: Argo CD has no Application prod-api" in lines
    # gitops.yaml turns Argo CD off for prod: nothing is expected there.
    off = dataclasses.replace(ARGOCD, off=frozenset({"prod"}))
    quiet = dataclasses.replace(watched, settings=dataclasses.replace(watched.settings, argocd=off))
    assert cells(board(quiet, argocd=argo))[("api", "prod")] is None


def test_without_argocd_the_board_prints_as_before_and_argo_cd_is_not_read(
    plain: DeploymentProject, watched: DeploymentProject, argo: FakeArgoCD
) -> None:
    b = board(plain, argocd=argo)
    assert (argo.reads, b.argocd) == (0, "off")
    lines = printed(b)
    assert lines[2:6] == [
        "APP  DEV    STAGE    PROD",
        "api  1.1.0  1.0.0 <  1.0.0",
        "web  2.0.0  2.0.0    (no image) <",
        command.LEGEND,
    ]
    assert not any("running" in line or "Argo CD" in line for line in lines)
    assert set(cells(b).values()) == {None}
    # The same project read with Argo CD: the same cells, a `running` row under each app.
    with_argo = printed(board(watched, argocd=argo))
    assert [columns(with_argo[i]) for i in (2, 3, 5)] == [columns(x) for x in lines[2:5]]
    assert [columns(with_argo[i])[0] for i in (4, 6)] == ["running", "running"]


class _Refusing:
    """An Argo CD that refuses the token, as ArgoCDClient reports a 401."""

    def application(self, name: str) -> AppState | None:
        raise AssertionError("the board lists Applications; it never reads one by one")

    def applications(self, selector: str | None = None) -> list[AppState]:
        raise UserError(
            "Argo CD at https://argocd.example.com rejected the token (invalid session)"
        )


def test_an_unreadable_argo_cd_is_a_warning_and_the_board_still_prints(
    watched: DeploymentProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = board(watched, argocd=_Refusing())
    assert (b.argocd, set(cells(b).values())) == ("unreadable", {None})
    lines = printed(b)
    assert columns(lines[3]) == ["api", "1.1.0", "1.0.0 <", "1.0.0"]
    assert (
        "  Argo CD not read: Argo CD at https://argocd.example.com rejected the token"
        in "\n".join(lines)
    )
    # The real client, its token variable unset: said before any request is made.
    monkeypatch.delenv("ARGOCD_TOKEN", raising=False)
    unset = board(watched)
    assert unset.argocd == "unreadable"
    assert unset.argocd_problem is not None and "ARGOCD_TOKEN is not set" in unset.argocd_problem


def test_the_next_mrs_line_says_what_runs_in_the_source() -> None:
    state = AppState(
        "dev-api", "Synced", "0123456789abcdef", "Healthy", deployed_at="2025-05-01T10:00:00Z"
    )
    assert deployed.running_line("dev", "api", state) == (
        "running in dev: Synced, Healthy at 0123456 since 2025-05-01T10:00:00Z"
    )
    assert deployed.running_line("dev", "api", None) == (
        "running in dev: unknown (Argo CD has no Application dev-api)"
    )
    trailer = Trailer(
        target_env="stage", apps={"api": IMAGE}, source_env="dev", source_commit="ab" * 20
    )
    content = description.Content(
        "api", "stage", IMAGE, None, "services/apps/api.cue", "", (), (), trailer
    )
    line = deployed.running_line("dev", "api", state)
    first = description.render(dataclasses.replace(content, running=line)).splitlines()[0]
    assert first.endswith(
        " to **stage**. It is running in dev: Synced, Healthy at 0123456"
        " since 2025-05-01T10:00:00Z."
    )
    assert "running in" not in description.render(content), "without argocd: as before"


def page(b: Board) -> Node:
    """The board's HTML page as the webhook renders it (webhook/templates/board.html)."""
    templates = Path(webhook.__file__).parent / "templates"
    jinja = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates), autoescape=jinja2.select_autoescape(["html"])
    )
    html = jinja.get_template("board.html").render(
        board=b, failed_at=None, failed_jobs=[], pages={}, seconds=15, link=lambda url: url
    )
    return parse(html)


def test_the_web_board_shows_deployed_under_desired_with_drift_badges(
    forge: FakeForge, plain: DeploymentProject, watched: DeploymentProject, argo: FakeArgoCD
) -> None:
    argo.update("stage", "api", sync_status="OutOfSync", health="Degraded")
    root = page(board(watched, argocd=argo))
    cell = root.one("tr", data_app="api").one("td", data_env="stage")
    running = cell.one("div", **{"class": "deployed"})
    stage = forge.head(PROJECT, "stage")
    assert stage is not None
    assert running.text.startswith(f"OutOfSync, Degraded at {stage[:7]}")
    assert [b.attrs["data-drift"] for b in running.all("span", **{"class": "badge drift"})] == [
        "out-of-sync",
        "degraded",
    ]
    assert cell.one("span", **{"class": "tag"}).text == "1.0.0"
    dev = root.one("tr", data_app="api").one("td", data_env="dev")
    assert dev.one("div", **{"class": "deployed"}).attrs["data-health"] == "Healthy"
    assert not dev.all("span", **{"class": "badge drift"})
    assert root.all(id="argocd")
    # Without argocd: no deployed line, no legend for it.
    without = page(board(plain, argocd=argo))
    assert not without.all("div", **{"class": "deployed"}) and not without.all(id="argocd")
    # Argo CD unreadable: a note without its reason (which may name Argo CD's URL).
    refused = page(board(watched, argocd=_Refusing()))
    note = refused.one(id="argocd-unreadable").text
    assert "could not be read" in note and "argocd.example.com" not in note
