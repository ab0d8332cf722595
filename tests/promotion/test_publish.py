"""`publish` against the sandbox GitLab: open, noop, update, repair, supersede, dry run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers import git
from jenkins_helpers.gitlab import Access
from jenkins_helpers.promotion.model import ImageRef, Outcome
from jenkins_helpers.promotion.publish import Change, commit_message, mr_text, publish
from jenkins_helpers.promotion.target import DeploymentProject, connect
from jenkins_helpers.promotion.trailer import Trailer

TOKEN = "publish-test-token-5d1e"  # noqa: S105 - the sandbox's test credential
IDENTITY = ("promotion", "app::notes", "env::dev")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A seeded sandbox for the module; stopped after."""
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture
def deployment(sandbox: Sandbox) -> Iterator[DeploymentProject]:
    """The tool's connection to k8s-deployments."""
    with connect(DEPLOYMENTS, Access(sandbox.gitlab_url, sandbox.token)) as found:
        yield found


@pytest.fixture(scope="module")
def project(sandbox: Sandbox) -> Iterator[Project]:
    """python-gitlab's own view, to check what publish did."""
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def notes_change(tree: Path, text: str, *, branch: str = "promote/dev/notes") -> Change:
    """Write NOTES.md in the clone and describe it as a promotion of `text`."""
    (tree / "NOTES.md").write_text(text)
    trailer = Trailer(target_env="dev", apps={"notes": ImageRef("r/notes", text.strip())})
    return Change(
        source_branch=branch,
        title=f"Notes {text.strip()}",
        description=f"Notes.\n\n{trailer.to_comment()}\n",
        labels=("gitops", *IDENTITY),
        identity=IDENTITY,
        commit_message=f"Notes {text.strip()}\n",
        files=tuple(git.stage_all(tree)),
    )


def propose(deployment: DeploymentProject, text: str) -> Outcome:
    with deployment.checkout("dev") as clone:
        return publish(clone, notes_change(clone.tree, text))


def open_iids(project: Project) -> list[int]:
    return [m.iid for m in project.mergerequests.list(state="opened", labels=list(IDENTITY))]


def test_open_then_noop_then_update_in_place(
    deployment: DeploymentProject, project: Project
) -> None:
    first = propose(deployment, "v1\n")
    assert (first.status, first.branch) == ("created", "promote/dev/notes")
    again = propose(deployment, "v1\n")
    assert (again.status, again.mr_iid) == ("noop", first.mr_iid)
    newer = propose(deployment, "v2\n")
    assert (newer.status, newer.mr_iid) == ("updated", first.mr_iid)
    assert open_iids(project) == [first.mr_iid]
    mr = project.mergerequests.get(first.mr_iid)
    assert mr.title == "Notes v2"
    assert project.files.raw(file_path="NOTES.md", ref="promote/dev/notes") == b"v2\n"


def test_a_stale_mr_over_a_right_branch_is_repaired(
    deployment: DeploymentProject, project: Project
) -> None:
    """A run that pushed the branch but failed to update the MR leaves it stale: fix it."""
    first = propose(deployment, "r1\n")
    mr = project.mergerequests.get(first.mr_iid)
    mr.title = "Notes r0"
    mr.description = mr.description.replace('"r1"', '"r0"')
    mr.save()
    repaired = propose(deployment, "r1\n")
    assert (repaired.status, repaired.mr_iid) == ("updated", first.mr_iid)
    mr = project.mergerequests.get(first.mr_iid)
    assert mr.title == "Notes r1" and '"tag": "r1"' in mr.description
    assert propose(deployment, "r1\n").status == "noop"


def test_dry_run_changes_nothing(deployment: DeploymentProject, project: Project) -> None:
    before = {b.name: b.commit["id"] for b in project.branches.list(get_all=True)}
    mrs = len(project.mergerequests.list(get_all=True))
    with deployment.checkout("dev") as clone:
        change = notes_change(clone.tree, "dry\n", branch="promote/dev/dry-notes")
        outcome = publish(clone, change, dry_run=True)
    assert (outcome.status, outcome.dry_run, outcome.mr_iid) == ("created", True, None)
    assert {b.name: b.commit["id"] for b in project.branches.list(get_all=True)} == before
    assert len(project.mergerequests.list(get_all=True)) == mrs


def test_other_open_mrs_of_the_unit_are_superseded(
    deployment: DeploymentProject, project: Project
) -> None:
    with deployment.checkout("dev") as clone:
        other = publish(clone, notes_change(clone.tree, "o1\n", branch="manual/notes"))
    with deployment.checkout("dev") as clone:
        ours = publish(clone, notes_change(clone.tree, "o2\n"))
    assert ours.superseded == (other.mr_iid,)
    closed = project.mergerequests.get(other.mr_iid)
    assert closed.state == "closed"
    assert [n.body for n in closed.notes.list(get_all=True)] == [f"Superseded by !{ours.mr_iid}"]


def test_nothing_staged_is_noop_and_leaves_open_mrs(
    deployment: DeploymentProject, project: Project
) -> None:
    propose(deployment, "n1\n")
    opened = open_iids(project)
    with deployment.checkout("dev") as clone:
        change = notes_change(clone.tree, "n1\n")
        git.commit_staged(clone.tree, "already there")  # the target has it: nothing staged
        empty = Change(**{**change.__dict__, "files": tuple(git.stage_all(clone.tree))})
        outcome = publish(clone, empty)
    assert (outcome.status, outcome.branch, outcome.mr_iid) == ("noop", None, None)
    assert open_iids(project) == opened


def test_the_commit_carries_the_mr_text_byte_for_byte() -> None:
    change = Change(
        source_branch="promote/dev/notes",
        title="Notes v9",
        description="Line one.\n\n\n| a | b |\n\n<!-- gitops-helper: {} -->\n",
        labels=("gitops", *IDENTITY),
        identity=IDENTITY,
        commit_message="Notes v9\n\nImage: r/notes:v9\n",
        files=(),
    )
    message = commit_message(change)
    assert message.startswith("Notes v9\n\nImage: r/notes:v9\n\n")
    assert mr_text(message) == (change.title, change.description, change.labels)
    assert mr_text("Notes v9\n\nmade by hand\n") is None


def test_overlapping_runs_leave_the_mr_describing_the_branch_head(
    sandbox: Sandbox, deployment: DeploymentProject, project: Project
) -> None:
    """Run A pushes c1 and its MR update stalls; run B pushes c2 and updates the MR; A's
    stale update lands last. A sees the head moved and writes c2's text back."""
    first = propose(deployment, "c0\n")
    rule = {"method": "PUT", "route_regex": rf"/merge_requests/{first.mr_iid}$", "delay": 3}
    sandbox.add_fault(**rule)
    outcomes: dict[str, Outcome] = {}
    slow = threading.Thread(target=lambda: outcomes.update(a=propose(deployment, "c1\n")))
    slow.start()
    deadline = time.monotonic() + 60
    while sandbox.faults():  # until A's PUT stalls
        assert time.monotonic() < deadline, "run A never updated its MR"
        time.sleep(0.05)
    outcomes["b"] = propose(deployment, "c2\n")
    slow.join(timeout=60)
    head = project.branches.get("promote/dev/notes").commit["id"]
    mr = project.mergerequests.get(first.mr_iid)
    assert project.files.raw(file_path="NOTES.md", ref="promote/dev/notes") == b"c2\n"
    assert mr.title == "Notes c2" and '"tag": "c2"' in mr.description
    assert (outcomes["a"].moved_by, outcomes["b"].moved_by) == (head, None)
    assert open_iids(project) == [first.mr_iid]
