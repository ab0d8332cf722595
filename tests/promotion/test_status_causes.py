"""Why two neighbouring environments differ: the status board's causes, without GitLab.

The classification (`status._pair` and friends) is pure over a `_Reading`. Each test
builds one from env.cue entries and merge requests written as the tool writes them
(titles, labels, trailers), read through the board's own reading of MRs, so the
trust rules apply: a trailer counts only on an MR opened by the tool's own user.
Milliseconds each: no sandbox, no clone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import jinja2
import pytest

import webhook
from gitops_helper.commands.status import cell_text
from jenkins_helpers import status
from jenkins_helpers.deployrepo.settings import Environment, Settings
from jenkins_helpers.gitlab import MergeRequest
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.publish import Change, commit_message
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer
from jenkins_helpers.status import Cell, Divergence, _Entry, _Reading

APP = "example-app"
TOOL, PERSON = 7, 42  # GitLab user ids: the tool's token's user, and someone else
ENVS = tuple(Environment(name, name, name) for name in ("dev", "stage", "prod"))
URL = "https://gitlab.example.com/platform/k8s-deployments/-/merge_requests"


HEADS: dict[str, str] = {}  # an open MR's head commit -> its message, as publish writes it


class _GitLab:
    def user_id(self) -> int:
        return TOOL

    def commit_message(self, path: str, sha: str) -> str:
        return HEADS[sha]


@dataclass
class _Project:
    path: str = "platform/k8s-deployments"


@dataclass
class _Deployment:
    """What the board's reading of MRs needs of a deployment project."""

    settings: Settings
    gl: _GitLab
    project: _Project


DEPLOYMENT = cast(DeploymentProject, _Deployment(Settings("main", ENVS), _GitLab(), _Project()))


# --- merge requests as the tool (or a person) writes them -----------------------------


def mr(
    iid: int,
    env: str,
    title: str,
    labels: Sequence[str] = (),
    trailer: Trailer | None = None,
    *,
    author: int = TOOL,
    merged: bool = True,
    text: str = "",
) -> MergeRequest:
    """An MR into `env`'s branch, merged `iid` seconds after 10:00 (a higher iid merged
    later) unless still open."""
    description = text + (f"\n\n{trailer.to_comment()}\n" if trailer else "")
    head = f"{iid:040x}"
    HEADS[head] = commit_message(
        Change(f"branch-{iid}", title, description, tuple(labels), (), f"{title}\n", ())
    )
    return MergeRequest(
        iid=iid,
        url=f"{URL}/{iid}",
        title=title,
        source_branch=f"branch-{iid}",
        target_branch=env,
        labels=tuple(labels),
        state="merged" if merged else "opened",
        description=description,
        sha=head,
        merge_commit_sha=f"{iid:040x}" if merged else None,
        merged_at=f"2025-05-01T10:{iid // 60:02d}:{iid % 60:02d}.000Z" if merged else None,
        author_id=author,
    )


def image(tag: str, app: str = APP) -> dict[str, ImageRef]:
    return {app: ImageRef(f"registry.example.com/{app}", tag)}


def build(iid: int, env: str, tag: str, *, merged: bool = True) -> MergeRequest:
    """`promote` from the app's CI."""
    trailer = Trailer(target_env=env, apps=image(tag), app_commit="1f0c")
    labels = ("gitops", "promotion", f"app::{APP}", f"env::{env}")
    return mr(iid, env, f"Promote {APP} {tag} to {env}", labels, trailer, merged=merged)


def promotion(
    iid: int,
    source: str,
    env: str,
    tag: str,
    *,
    skipped: tuple[str, ...] = (),
    merged: bool = True,
    author: int = TOOL,
) -> MergeRequest:
    """`promote-env --from source --to env` (the webhook's, after a merge into source)."""
    trailer = Trailer(
        target_env=env, apps=image(tag), source_env=source, source_commit="ab12", skipped=skipped
    )
    labels = ("gitops", "promotion", f"app::{APP}", f"env::{env}") + (
        ("skip-env",) if skipped else ()
    )
    title = f"Promote {APP} {tag} to {env}"
    return mr(iid, env, title, labels, trailer, merged=merged, author=author)


def set_image(
    iid: int, env: str, tag: str, *, moves: bool, author: int = TOOL, app: str = APP
) -> MergeRequest:
    """`set --image-tag`, moving on (the default) or `--no-promote`."""
    trailer = Trailer(
        target_env=env, apps=image(tag, app) if moves else {}, unit="settings", app=app
    )
    title = f"Set {app} image {tag} in {env}" + ("" if moves else " [no-promote]")
    labels = ("gitops", "set", f"app::{app}", f"env::{env}") + (() if moves else ("no-promote",))
    return mr(iid, env, title, labels, trailer, author=author)


def rollback(iid: int, env: str, tag: str) -> MergeRequest:
    trailer = Trailer(target_env=env, apps={}, unit="rollback", app=APP)
    title = f"Roll back {APP} to {tag} in {env} [no-promote]"
    labels = ("gitops", "rollback", f"app::{APP}", f"env::{env}", "no-promote")
    return mr(iid, env, title, labels, trailer)


def revert(iid: int, env: str, undone: MergeRequest) -> MergeRequest:
    """`revert --commit` of `undone`'s merge: its trailer names the commit, not the app."""
    sha = undone.merge_commit_sha
    trailer = Trailer(target_env=env, apps={}, unit="revert", source_commit=sha)
    title = f'Revert "{undone.title}" in {env}'
    labels = ("gitops", "revert", f"env::{env}", "no-promote")
    return mr(iid, env, title, labels, trailer, text=f"Reverts !{undone.iid}. [no-promote]")


def by_hand(iid: int, env: str, title: str, *, merged: bool = True) -> MergeRequest:
    """A person's MR changing the app's image, labelled for it."""
    return mr(iid, env, title, (f"app::{APP}",), author=PERSON, merged=merged)


def reading(
    tags: dict[str, str | None], merged: Sequence[MergeRequest], opened: Sequence[MergeRequest] = ()
) -> _Reading:
    """The board's reading: the app's tag per environment (absent: no entry), the recent
    merges and the tool's open MRs, read as `status._read` reads them."""
    found = _Reading(
        entries={
            env.name: {APP: _Entry(tags[env.name], None, 2)} if env.name in tags else {}
            for env in ENVS
        }
    )
    by_branch: dict[str, list[MergeRequest]] = {"main": [], **{e.branch: [] for e in ENVS}}
    for m in merged:
        by_branch[m.target_branch].append(m)
    status._read_mrs(DEPLOYMENT, found, by_branch, list(opened))
    return found


def divergences(found: _Reading) -> list[Divergence]:
    return status._divergences(found, ENVS, [APP])


def only(found: _Reading) -> Divergence:
    [d] = divergences(found)
    return d


# --- stuck, pending, hotfix: a change meant to travel on, and where it is -------------


def test_a_set_that_moves_with_nothing_open_into_the_next_environment_is_stuck() -> None:
    d = only(
        reading(
            {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
            [set_image(83, "dev", "1.2.0", moves=True)],
        )
    )
    assert (d.env, d.other, d.kind, d.cause, d.mr_iid) == ("stage", "dev", "behind", "stuck", 83)
    assert d.mr_url == f"{URL}/83"
    assert d.text == (
        "stage behind dev: set !83 (example-app 1.2.0) is stuck, no MR into stage carries "
        "it: run `gitops-helper reconcile`"
    )
    assert "hotfix" not in d.text and "ahead" not in d.text


def test_the_same_set_with_its_promotion_open_into_the_next_environment_is_pending() -> None:
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [set_image(83, "dev", "1.2.0", moves=True)],
        [promotion(84, "dev", "stage", "1.2.0", merged=False)],
    )
    d = only(found)
    assert (d.env, d.kind, d.cause, d.mr_iid) == ("stage", "behind", "pending", 84)
    assert d.text == "stage behind dev: !84 pending (example-app 1.2.0)"


def test_an_open_mr_whose_description_was_edited_does_not_hide_a_stuck_change() -> None:
    """The tool's MR into stage proposes 1.1.0; someone edits its description to say
    1.2.0 (its head commit still says 1.1.0): dev's 1.2.0 is stuck, not pending."""
    stale = promotion(84, "dev", "stage", "1.1.0", merged=False)
    edited = replace(stale, description=stale.description.replace('"1.1.0"', '"1.2.0"'))
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [set_image(83, "dev", "1.2.0", moves=True)],
        [edited],
    )
    d = only(found)
    assert (d.env, d.cause) == ("stage", "stuck"), d.text
    assert any("description was edited" in w for w in found.warnings)


def test_a_no_promote_set_is_a_hotfix_of_the_environment_it_changed() -> None:
    d = only(
        reading(
            {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
            [set_image(83, "dev", "1.2.0", moves=False)],
        )
    )
    assert (d.env, d.other, d.kind, d.cause, d.mr_iid) == ("dev", "stage", "ahead", "hotfix", 83)
    assert d.text == "dev ahead of stage: hotfix !83"


def test_a_hotfix_in_prod_is_prod_ahead_of_stage() -> None:
    found = reading(
        {"dev": "1.0.0", "stage": "1.0.0", "prod": "1.0.1-hotfix1"},
        [set_image(12, "prod", "1.0.1-hotfix1", moves=False)],
    )
    d = only(found)
    assert (d.env, d.kind, d.cause, d.text) == (
        "prod",
        "ahead",
        "hotfix",
        "prod ahead of stage: hotfix !12",
    )


def test_a_persons_mr_marked_no_promote_is_a_hotfix() -> None:
    found = reading(
        {"dev": "1.0.0", "stage": "1.0.0", "prod": "1.0.2"},
        [by_hand(30, "prod", "Pin example-app 1.0.2 in prod [no-promote]")],
    )
    d = only(found)
    assert (d.env, d.cause, d.text) == ("prod", "hotfix", "prod ahead of stage: hotfix !30")


def test_a_build_and_a_promotion_not_carried_on_are_stuck() -> None:
    found = reading(
        {"dev": "1.2.0", "stage": "1.1.0", "prod": "1.0.0"},
        [
            build(10, "dev", "1.1.0"),
            promotion(11, "dev", "stage", "1.1.0"),
            build(12, "dev", "1.2.0"),
        ],
    )
    assert [(d.env, d.cause, d.mr_iid) for d in divergences(found)] == [
        ("stage", "stuck", 12),
        ("prod", "stuck", 11),
    ]
    texts = [d.text for d in divergences(found)]
    assert texts[0].startswith("stage behind dev: build !12 (example-app 1.2.0) is stuck")
    assert texts[1].startswith("prod behind stage: promotion !11 (example-app 1.1.0) is stuck")
    assert all(t.endswith("run `gitops-helper reconcile`") for t in texts)


def test_an_open_mr_of_an_older_version_leaves_the_newer_one_stuck() -> None:
    """Reconcile updates that MR in place (it compares what the MR's branch proposes)."""
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [build(10, "dev", "1.1.0"), build(12, "dev", "1.2.0")],
        [promotion(11, "dev", "stage", "1.1.0", merged=False)],
    )
    d = only(found)
    assert (d.env, d.cause, d.mr_iid) == ("stage", "stuck", 12)
    assert d.text == (
        "stage behind dev: build !12 (example-app 1.2.0) is stuck, !11 into stage carries "
        "1.1.0: run `gitops-helper reconcile`"
    )


def test_a_change_that_left_no_recent_merge_is_stuck_without_an_mr() -> None:
    d = only(reading({"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"}, []))
    assert (d.env, d.cause, d.mr_iid, d.mr_url) == ("stage", "stuck", None, None)
    assert d.text == (
        "stage behind dev: example-app 1.2.0 is stuck, no MR into stage carries it: "
        "run `gitops-helper reconcile`"
    )


def test_a_persons_mr_without_no_promote_travels_as_the_cascade_reads_it() -> None:
    """The cascade promotes a person's merge by what it changed: nothing carrying it on
    is stuck, not a hotfix."""
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [by_hand(40, "dev", "Bump example-app to 1.2.0")],
    )
    d = only(found)
    assert (d.env, d.cause, d.mr_iid) == ("stage", "stuck", 40)
    assert d.text.startswith("stage behind dev: !40 (example-app 1.2.0) is stuck")


def test_a_hotfix_older_than_the_change_upstream_does_not_hide_it_being_stuck() -> None:
    """prod's hotfix, then a newer promotion into stage that never reached prod."""
    stuck = reading(
        {"dev": "1.1.0", "stage": "1.1.0", "prod": "1.0.1-hotfix1"},
        [
            set_image(20, "prod", "1.0.1-hotfix1", moves=False),
            promotion(21, "dev", "stage", "1.1.0"),
        ],
    )
    assert [(d.env, d.cause, d.mr_iid) for d in divergences(stuck)] == [("prod", "stuck", 21)]
    later = reading(
        {"dev": "1.1.0", "stage": "1.1.0", "prod": "1.0.1-hotfix1"},
        [
            promotion(21, "dev", "stage", "1.1.0"),
            set_image(22, "prod", "1.0.1-hotfix1", moves=False),
        ],
    )
    assert [(d.env, d.cause, d.mr_iid) for d in divergences(later)] == [("prod", "hotfix", 22)]


# --- going back, skipping: said as what happened, not "ahead" -------------------------


def test_a_revert_says_the_environment_reverted_not_that_it_is_ahead() -> None:
    bad = promotion(50, "dev", "stage", "1.3.0")
    found = reading(
        {"dev": "1.3.0", "stage": "1.2.0", "prod": "1.2.0"},
        [build(49, "dev", "1.3.0"), bad, revert(51, "stage", bad)],
    )
    d = only(found)
    assert (d.env, d.other, d.kind, d.cause, d.mr_iid) == ("stage", "dev", "back", "revert", 51)
    assert d.text == "stage reverted !51"


def test_a_revert_in_dev_after_its_change_travelled_on_says_dev_reverted() -> None:
    bad = build(60, "dev", "1.3.0")
    found = reading(
        {"dev": "1.2.0", "stage": "1.3.0", "prod": "1.3.0"},
        [
            bad,
            promotion(61, "dev", "stage", "1.3.0"),
            promotion(62, "stage", "prod", "1.3.0"),
            revert(63, "dev", bad),
        ],
    )
    d = only(found)
    assert (d.env, d.other, d.kind, d.cause) == ("dev", "stage", "back", "revert")
    assert d.text == "dev reverted !63"


def test_a_rollback_says_the_environment_rolled_back() -> None:
    found = reading(
        {"dev": "16.4", "stage": "16.4", "prod": "16.2"},
        [rollback(70, "prod", "16.2")],
    )
    d = only(found)
    assert (d.env, d.other, d.kind, d.cause, d.mr_iid) == ("prod", "stage", "back", "rollback", 70)
    assert d.text == "prod rolled back !70"


def test_a_rollback_in_dev_is_said_once_against_stage() -> None:
    found = reading({"dev": "16.1", "stage": "16.4", "prod": "16.4"}, [rollback(71, "dev", "16.1")])
    assert [(d.env, d.other, d.text) for d in divergences(found)] == [
        ("dev", "stage", "dev rolled back !71")
    ]


def test_a_promotion_that_skipped_an_environment_says_so() -> None:
    found = reading(
        {"dev": "0.1.0", "prod": "0.1.0"},
        [build(80, "dev", "0.1.0"), promotion(81, "dev", "prod", "0.1.0", skipped=("stage",))],
    )
    d = only(found)
    assert (d.env, d.other, d.kind, d.cause, d.mr_iid) == ("prod", "stage", "ahead", "skip", 81)
    assert d.text == "prod skipped stage: !81 from dev"


def test_a_skip_next_to_an_environment_that_has_the_app_is_a_skip_too() -> None:
    found = reading(
        {"dev": "0.2.0", "stage": "0.1.0", "prod": "0.2.0"},
        [
            promotion(82, "dev", "stage", "0.1.0"),
            build(83, "dev", "0.2.0"),
            promotion(84, "dev", "prod", "0.2.0", skipped=("stage",)),
        ],
    )
    assert [(d.env, d.cause, d.mr_iid) for d in divergences(found)] == [
        ("stage", "stuck", 83),
        ("prod", "skip", 84),
    ]


# --- the trust rules: a trailer counts only on the tool's own MRs ----------------------


def test_a_strangers_promotion_trailer_does_not_make_a_stuck_change_pending() -> None:
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [build(90, "dev", "1.2.0")],
        [promotion(91, "dev", "stage", "1.2.0", merged=False, author=PERSON)],
    )
    d = only(found)
    assert (d.cause, d.mr_iid) == ("stuck", 90)
    assert found.open_mrs[0].kind == "other", "the trailer of someone else's MR is ignored"


def test_a_strangers_set_trailer_is_read_as_a_persons_mr() -> None:
    """No `[no-promote]`: the cascade carries it by what it changed, whatever the
    ignored trailer says."""
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [set_image(92, "dev", "1.2.0", moves=True, author=PERSON)],
    )
    d = only(found)
    assert (d.cause, d.mr_iid) == ("stuck", 92)
    assert d.text.startswith("stage behind dev: !92 (example-app 1.2.0) is stuck")


# --- the rest: the same versions, ordering, the table's marks -------------------------


def test_the_same_version_is_no_divergence_even_with_an_mr_open() -> None:
    found = reading(
        {"dev": "1.0.0", "stage": "1.0.0", "prod": "1.0.0"},
        [rollback(95, "dev", "1.0.0")],
        [promotion(96, "dev", "stage", "1.1.0", merged=False)],
    )
    assert divergences(found) == []


def test_an_app_not_in_the_later_environment_is_not_compared() -> None:
    assert divergences(reading({"dev": "1.0.0"}, [build(97, "dev", "1.0.0")])) == []


def test_stuck_divergences_come_first() -> None:
    """They call for action; the others keep the order of apps and environments."""
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "1.0.0"},
        [set_image(98, "prod", "1.0.1", moves=False, app="a-app"), build(99, "dev", "1.2.0")],
    )
    found.entries["stage"]["a-app"] = _Entry("1.0.0", None, 1)
    found.entries["prod"]["a-app"] = _Entry("1.0.1", None, 1)
    seen = status._divergences(found, ENVS, ["a-app", APP])
    assert [(d.app, d.cause) for d in seen] == [(APP, "stuck"), ("a-app", "hotfix")]


@pytest.mark.parametrize(
    ("kinds", "text"),
    [
        (("ahead",), "1.0.0 !"),
        (("behind",), "1.0.0 <"),
        (("back",), "1.0.0 ~"),
        (("ahead", "back"), "1.0.0 !~"),
    ],
)
def test_the_tables_marks(kinds: tuple[str, ...], text: str) -> None:
    assert cell_text(Cell("prod", "deployed", "1.0.0", diverged=kinds)) == text


def test_the_board_page_shows_a_badge_per_cause() -> None:
    """webhook/templates/board.html, rendered as Flask renders it (autoescaped)."""
    found = reading(
        {"dev": "1.2.0", "stage": "1.0.0", "prod": "0.9.0"},
        [set_image(83, "dev", "1.2.0", moves=True), rollback(84, "prod", "0.9.0")],
    )
    seen = divergences(found)
    board = status.Board(
        project="platform/k8s-deployments",
        generated_at="2025-05-01T10:00:00Z",
        environments=tuple(status.EnvColumn(e.name, e.branch) for e in ENVS),
        rows=(status.Row(APP, tuple(status._cell(found, e.name, APP, seen) for e in ENVS)),),
        pending=(),
        divergences=tuple(seen),
        decommissions=(),
    )
    templates = Path(webhook.__file__).parent / "templates"
    jinja = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates), autoescape=jinja2.select_autoescape(["html"])
    )
    html = jinja.get_template("board.html").render(
        board=board, failed_at=None, pages={}, seconds=15, link=lambda url: url
    )
    badges = re.findall(
        r'<span class="badge ([a-z ]+)" title="([^"]*)">\s*<a href="[^"]+">([^<]*)</a>', html
    )
    assert [(cls, " ".join(label.split())) for cls, _, label in badges] == [
        ("behind stuck", "behind: stuck !83"),
        ("back", "back: rollback !84"),
    ]
    assert badges[0][1] == (
        "stage behind dev: set !83 (example-app 1.2.0) is stuck, no MR into stage carries it: "
        "run `gitops-helper reconcile`"
    )
    assert '<li class="behind-item"><b>example-app</b>: <a href="' in html
