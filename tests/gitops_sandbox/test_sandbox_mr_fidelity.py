"""Merge requests and their webhooks as GitLab's documentation describes them (issue 21).

Each test drives the sandbox as python-gitlab's (or requests') users drive GitLab and
checks what GitLab documents, the source cited next to the check:

- deleting a merge request: 204 for an Owner or admin, 403 for a Developer;
- the resource label events and participants of a merge request;
- mergeability checked asynchronously (`preparing` / `checking` / `unchecked` first),
  `with_merge_status_recheck`, and a merge that checks synchronously;
- a conflict refused with 422 `Branch cannot be merged`;
- which webhook header ties which requests together (`X-Gitlab-Event-UUID`,
  `X-Gitlab-Webhook-UUID`, `Idempotency-Key`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project, ProjectMergeRequest

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.conftest import DEPLOYMENTS
from tests.gitops_sandbox.sandbox_testing import ENVS, Receiver

# lib/api/entities/user_basic.rb (UserBasic); `email` is shown to administrators
USER_BASIC = {"id", "username", "name", "state", "locked", "avatar_url", "web_url"}
# lib/api/entities/resource_label_event.rb (ResourceLabelEvent)
LABEL_EVENT = {"id", "user", "created_at", "resource_type", "resource_id", "label", "action"}
# lib/api/entities/label_basic.rb (LabelBasic, GitLab 17; `archived` only behind a flag)
LABEL_BASIC = {"id", "name", "color", "description", "description_html", "text_color"}
# doc/api/merge_requests.md, "Merge status": the values a client sees while GitLab has not
# finished checking whether git can merge the branch
NOT_YET = ("preparing", "checking", "unchecked")


def _branch(project: Project, name: str, files: dict[str, str], base: str = "dev") -> None:
    """A new branch off `base` with one commit writing `files` (the commits API)."""
    project.commits.create(
        {
            "branch": name,
            "start_branch": base,
            "commit_message": f"change on {name}",
            "actions": [
                {"action": "create", "file_path": path, "content": content}
                for path, content in files.items()
            ],
        }
    )


def _conflicting(project: Project, name: str, content: str) -> None:
    """A branch off dev that rewrites dev's env file (two of them conflict)."""
    project.commits.create(
        {
            "branch": name,
            "start_branch": "dev",
            "commit_message": f"rewrite on {name}",
            "actions": [{"action": "update", "file_path": "envs/dev/env.cue", "content": content}],
        }
    )


def _open(project: Project, source: str, **extra: Any) -> ProjectMergeRequest:
    mr: ProjectMergeRequest = project.mergerequests.create(
        {"source_branch": source, "target_branch": "dev", "title": f"MR {source}", **extra}
    )
    return mr


def _settled(project: Project, iid: int, timeout: float = 10.0) -> ProjectMergeRequest:
    """Poll the MR as GitLab's docs tell clients to, until its mergeability is known."""
    deadline = time.monotonic() + timeout
    while True:
        mr: ProjectMergeRequest = project.mergerequests.get(iid)
        if mr.detailed_merge_status not in NOT_YET or time.monotonic() > deadline:
            return mr
        time.sleep(0.05)


# ---- 1. deleting a merge request ---------------------------------------------------------
# https://docs.gitlab.com/api/merge_requests/#delete-a-merge-request: "Only for
# administrators and project owners"; lib/api/merge_requests.rb: `authorize!
# (:destroy_merge_request)` (403), then `destroy_conditionally!` (204, or 412 when
# If-Unmodified-Since is older than the MR's last change).


def test_an_admin_deletes_a_merge_request_204(sandbox: Sandbox, project: Project) -> None:
    _branch(project, "to-delete", {"a.txt": "a\n"})
    mr = _open(project, "to-delete", labels=["x"])
    mr.notes.create({"body": "a comment"})
    reply = requests.delete(
        f"{sandbox.gitlab_url}/api/v4/projects/{project.id}/merge_requests/{mr.iid}",
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
    )
    assert (reply.status_code, reply.content) == (204, b"")
    with pytest.raises(gitlab.GitlabGetError) as err:
        project.mergerequests.get(mr.iid)
    assert err.value.response_code == 404
    assert [m.iid for m in project.mergerequests.list(state="all", get_all=True)] == []
    # python-gitlab's own delete, on a second MR
    second = _open(project, "to-delete")
    project.mergerequests.delete(second.iid)
    with pytest.raises(gitlab.GitlabDeleteError) as gone:
        project.mergerequests.delete(second.iid)
    assert gone.value.response_code == 404


def test_a_developer_may_not_delete_a_merge_request_403(
    sandbox: Sandbox, project: Project, dev_project: Project, dev_gl: gitlab.Gitlab
) -> None:
    _branch(project, "kept", {"k.txt": "k\n"})
    mr = _open(dev_project, "kept")  # even their own MR: deleting needs the Owner role
    with pytest.raises(gitlab.GitlabDeleteError) as err:
        dev_project.mergerequests.delete(mr.iid)
    assert (err.value.response_code, err.value.error_message) == (403, "403 Forbidden")
    assert project.mergerequests.get(mr.iid).state == "opened"
    with pytest.raises(gitlab.GitlabDeleteError) as missing:  # the MR is looked up first
        dev_project.mergerequests.delete(999)
    assert missing.value.response_code == 404

    # In a project of their personal namespace the developer is its Owner.
    own = dev_gl.projects.create({"name": "mine", "initialize_with_readme": True})
    own.branches.create({"branch": "topic", "ref": "main"})
    own_mr = own.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "mine"}
    )
    own.mergerequests.delete(own_mr.iid)
    assert own.mergerequests.list(state="all", get_all=True) == []


def test_delete_honours_if_unmodified_since_412(sandbox: Sandbox, project: Project) -> None:
    _branch(project, "guarded", {"g.txt": "g\n"})
    mr = _open(project, "guarded")
    url = f"{sandbox.gitlab_url}/api/v4/projects/{project.id}/merge_requests/{mr.iid}"
    headers = {
        "PRIVATE-TOKEN": sandbox.token,
        "If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT",
    }
    reply = requests.delete(url, headers=headers, timeout=10)
    assert (reply.status_code, reply.json()) == (412, {"message": "412 Precondition Failed"})
    headers["If-Unmodified-Since"] = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert requests.delete(url, headers=headers, timeout=10).status_code == 204


# ---- 2. resource label events and participants -------------------------------------------
# https://docs.gitlab.com/api/resource_label_events/#merge-requests (lib/api/
# resource_label_events.rb); https://docs.gitlab.com/api/merge_requests/
# #get-single-merge-request-participants (participants: author, commenters, mentioned).


def test_label_events_say_who_added_and_removed_which_label(
    project: Project, dev_project: Project
) -> None:
    _branch(project, "labelled", {"l.txt": "l\n"})
    mr = _open(project, "labelled", labels=["promotion", "env::dev"])
    as_dev = dev_project.mergerequests.get(mr.iid)
    as_dev.add_labels = ["urgent"]
    as_dev.remove_labels = ["promotion"]
    as_dev.save()

    events = mr.resourcelabelevents.list(get_all=True)
    got = [(e.action, e.label["name"], e.user["username"]) for e in events]
    assert sorted(got[:2]) == [("add", "env::dev", "root"), ("add", "promotion", "root")]
    assert got[2:] == [("add", "urgent", "developer"), ("remove", "promotion", "developer")]
    for event in events:
        body = event.attributes
        assert set(body) - {"mr_iid", "project_id"} == LABEL_EVENT
        assert (body["resource_type"], body["resource_id"]) == ("MergeRequest", mr.id)
        assert set(body["user"]) >= USER_BASIC
        assert set(body["label"]) == LABEL_BASIC
        assert body["created_at"].endswith("Z")
    promotion = {e.label["name"]: e.label["id"] for e in events}["promotion"]
    assert promotion == next(lab.id for lab in project.labels.list() if lab.name == "promotion")
    one = mr.resourcelabelevents.get(events[3].id)
    assert (one.action, one.label["name"]) == ("remove", "promotion")
    with pytest.raises(gitlab.GitlabGetError) as err:
        mr.resourcelabelevents.get(987654)
    assert (err.value.response_code, err.value.error_message) == (404, "404 Not found")


def test_participants_are_the_author_commenters_and_mentioned_users(
    project: Project, dev_project: Project
) -> None:
    _branch(project, "talk", {"t.txt": "t\n"})
    by_dev = _open(dev_project, "talk")
    people = list(by_dev.participants())
    assert [p["username"] for p in people] == ["developer"]
    assert set(people[0]) >= USER_BASIC
    project.mergerequests.get(by_dev.iid).notes.create({"body": "looks good"})
    assert sorted(p["username"] for p in by_dev.participants()) == ["developer", "root"]

    _branch(project, "mention", {"m.txt": "m\n"})
    mentioning = _open(dev_project, "mention", description="cc @root, please merge")
    assert sorted(p["username"] for p in mentioning.participants()) == ["developer", "root"]


# ---- 3. mergeability is checked asynchronously -------------------------------------------
# doc/api/merge_requests.md, "Single merge request response notes" and "Merge status":
# `merge_status` (deprecated) and `detailed_merge_status` are computed asynchronously;
# `unchecked` / `checking` / `preparing` until done; `has_conflicts` is false unless
# `merge_status` is `cannot_be_merged`. A single GET requests the check
# (lib/api/entities/merge_request_basic.rb: `check_mergeability(async: true)`), a list only
# with `with_merge_status_recheck=true`. Merging checks synchronously
# (app/models/merge_request.rb `mergeable?` -> `check_mergeability`).


@pytest.fixture
def slow_check(tmp_path: Any, deployments_source: Any) -> Iterator[tuple[Sandbox, Project]]:
    """A sandbox whose mergeability check takes a whole second, and its deployments project."""
    with (
        Sandbox.start(state_dir=tmp_path / "slow", merge_status_delay=1.0) as sb,
        gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl,
    ):
        sb.create_project(DEPLOYMENTS, source_dir=deployments_source, protected=["main", *ENVS])
        yield sb, gl.projects.get(DEPLOYMENTS)


def test_a_new_merge_request_is_checked_asynchronously(
    slow_check: tuple[Sandbox, Project],
) -> None:
    _, project = slow_check
    _branch(project, "fresh", {"f.txt": "f\n"})
    mr = _open(project, "fresh")
    assert (mr.merge_status, mr.detailed_merge_status) == ("checking", "preparing")
    assert mr.has_conflicts is False
    assert mr.prepared_at is None
    listed = project.mergerequests.list(iids=[mr.iid])[0]
    assert listed.detailed_merge_status in NOT_YET
    done = _settled(project, mr.iid)
    assert (done.merge_status, done.detailed_merge_status) == ("can_be_merged", "mergeable")
    assert done.prepared_at is not None


def test_a_push_marks_it_unchecked_until_someone_asks(
    slow_check: tuple[Sandbox, Project],
) -> None:
    _, project = slow_check
    _branch(project, "moving", {"m.txt": "1\n"})
    mr = _open(project, "moving")
    assert _settled(project, mr.iid).detailed_merge_status == "mergeable"
    project.commits.create(
        {
            "branch": "moving",
            "commit_message": "more",
            "actions": [{"action": "create", "file_path": "m2.txt", "content": "2\n"}],
        }
    )
    # A list does not recheck: the MR stays unchecked however long one waits.
    for _ in range(2):
        (listed,) = project.mergerequests.list(iids=[mr.iid])
        assert (listed.merge_status, listed.detailed_merge_status) == ("unchecked", "unchecked")
        time.sleep(0.6)
    (rechecked,) = project.mergerequests.list(iids=[mr.iid], with_merge_status_recheck=True)
    assert (rechecked.merge_status, rechecked.detailed_merge_status) == ("checking", "checking")
    assert _settled(project, mr.iid).merge_status == "can_be_merged"

    # A single GET requests the check itself.
    project.commits.create(
        {
            "branch": "moving",
            "commit_message": "again",
            "actions": [{"action": "create", "file_path": "m3.txt", "content": "3\n"}],
        }
    )
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "checking"
    assert _settled(project, mr.iid).detailed_merge_status == "mergeable"


def test_a_conflict_found_before_shows_as_recheck_after_a_push(
    slow_check: tuple[Sandbox, Project],
) -> None:
    _, project = slow_check
    _conflicting(project, "one", "x: 1\n")
    _conflicting(project, "two", "x: 2\n")
    first, second = _open(project, "one"), _open(project, "two")
    first.merge()
    conflicted = _settled(project, second.iid)
    assert (conflicted.merge_status, conflicted.detailed_merge_status) == (
        "cannot_be_merged",
        "conflict",
    )
    assert conflicted.has_conflicts is True
    project.commits.create(
        {
            "branch": "two",
            "commit_message": "still conflicting",
            "actions": [{"action": "create", "file_path": "y.txt", "content": "y\n"}],
        }
    )
    (listed,) = project.mergerequests.list(iids=[second.iid])
    # merge_status's own value for "was unmergeable, not checked since" (doc/api/merge_requests.md)
    assert (listed.merge_status, listed.detailed_merge_status) == (
        "cannot_be_merged_recheck",
        "unchecked",
    )
    assert listed.has_conflicts is False


def test_merging_before_the_check_ran_checks_synchronously(
    slow_check: tuple[Sandbox, Project],
) -> None:
    _, project = slow_check
    _branch(project, "quick", {"q.txt": "q\n"})
    quick = _open(project, "quick")
    assert quick.detailed_merge_status == "preparing"
    quick.merge()  # no waiting: GitLab checks mergeability when asked to merge
    assert quick.state == "merged"

    _conflicting(project, "left", "x: left\n")
    _conflicting(project, "right", "x: right\n")
    left, right = _open(project, "left"), _open(project, "right")
    left.merge()
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        right.merge()
    assert (err.value.response_code, err.value.error_message) == (422, "Branch cannot be merged")
    # The merge's own check is done: no waiting for the asynchronous one.
    checked = project.mergerequests.get(right.iid)
    assert (checked.merge_status, checked.detailed_merge_status) == (
        "cannot_be_merged",
        "conflict",
    )


# ---- 4. a conflict is 422 ------------------------------------------------------------------
# https://docs.gitlab.com/api/merge_requests/#merge-a-merge-request: 405 "The merge request
# is not able to be merged", 409 "SHA does not match HEAD of source branch", 422 "Branch
# cannot be merged: The merge request failed to merge" (lib/api/merge_requests.rb:
# `render_api_error!('Branch cannot be merged', 422)` after the git checks).


def test_a_conflicting_merge_is_refused_422(sandbox: Sandbox, project: Project) -> None:
    _conflicting(project, "a", "x: a\n")
    _conflicting(project, "b", "x: b\n")
    a, b = _open(project, "a"), _open(project, "b")
    a.merge()
    dev_head = project.branches.get("dev").commit["id"]
    reply = requests.put(
        f"{sandbox.gitlab_url}/api/v4/projects/{project.id}/merge_requests/{b.iid}/merge",
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
    )
    assert (reply.status_code, reply.json()) == (422, {"message": "Branch cannot be merged"})
    assert project.branches.get("dev").commit["id"] == dev_head
    # A draft is refused before git is asked: 405 (CheckDraftStatusService is a state check).
    _branch(project, "drafty", {"d.txt": "d\n"})
    draft = _open(project, "drafty", title="Draft: not yet")
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        draft.merge()
    assert err.value.response_code == 405


# ---- 5. which webhook headers relate which requests ----------------------------------------
# doc/user/project/integrations/webhooks.md, "Delivery headers": X-Gitlab-Event-UUID is
# "Unique ID per webhook that is not recursive. A hook is recursive if triggered by an
# earlier webhook that hit the GitLab instance. Recursive webhooks have the same value";
# X-Gitlab-Webhook-UUID "Unique ID per webhook"; Idempotency-Key "Unique ID that remains
# consistent across webhook retries". Source: lib/gitlab/web_hooks/recursion_detection/
# uuid.rb (the request's X-Gitlab-Event-UUID if it came with one, else a new one per hook),
# app/services/web_hook_service.rb. doc/administration/instance_limits.md, "Recursive
# webhooks": a hook the chain already fired is blocked.


def _hook(project: Project, receiver: Receiver) -> int:
    hook = project.hooks.create(
        {"url": receiver.url, "push_events": True, "merge_requests_events": True}
    )
    return int(hook.id)


def test_one_merge_many_requests_each_with_its_own_ids(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    other = Receiver().start()
    try:
        _hook(project, receiver)
        _hook(project, other)
        _branch(project, "hooked", {"h.txt": "h\n"})
        mr = _open(project, "hooked")
        mr.merge(should_remove_source_branch=True)
        assert sandbox.wait_for_deliveries()
        sent = receiver.requests + other.requests
        kinds = sorted((r.body["object_kind"], r.body.get("ref", "")) for r in receiver.requests)
        assert kinds == [
            ("merge_request", ""),
            ("merge_request", ""),
            ("push", "refs/heads/dev"),
            ("push", "refs/heads/hooked"),
            ("push", "refs/heads/hooked"),
        ]
        assert len(sent) == 10
        for header in ("X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"):
            values = [r.headers[header] for r in sent]
            for value in values:
                uuid.UUID(value)
            assert len(set(values)) == len(values), header
    finally:
        other.stop()


def test_a_request_made_by_a_webhook_passes_its_event_uuid_on(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    _branch(project, "chained", {"c.txt": "c\n"})
    other = Receiver().start()
    try:
        _hook(project, receiver)
        _hook(project, other)
        mr = _open(project, "chained")
        assert sandbox.wait_for_deliveries()
        (opened,) = receiver.requests
        (opened_other,) = other.requests
        event_uuid = opened.headers["X-Gitlab-Event-UUID"]
        assert opened_other.headers["X-Gitlab-Event-UUID"] != event_uuid

        # The receiver calls the API back, forwarding the header (as GitLab's recursion
        # detection expects): the hooks this fires carry the same value, and the receiver's
        # own hook, already fired in this chain, is blocked.
        reply = requests.put(
            f"{sandbox.gitlab_url}/api/v4/projects/{project.id}/merge_requests/{mr.iid}",
            headers={"PRIVATE-TOKEN": sandbox.token, "X-Gitlab-Event-UUID": event_uuid},
            json={"title": "retitled by a webhook"},
            timeout=10,
        )
        assert reply.status_code == 200
        assert sandbox.wait_for_deliveries()
        assert len(receiver.requests) == 1
        (_, updated) = other.requests
        assert updated.body["object_attributes"]["action"] == "update"
        assert updated.headers["X-Gitlab-Event-UUID"] == event_uuid
        assert updated.headers["X-Gitlab-Webhook-UUID"] != opened.headers["X-Gitlab-Webhook-UUID"]

        # Without the header the next event is a new chain: every hook fires, new UUIDs.
        mr.title = "retitled by a person"
        mr.save()
        assert sandbox.wait_for_deliveries()
        fresh = [receiver.requests[-1], other.requests[-1]]
        assert len(receiver.requests) == 2
        assert len({r.headers["X-Gitlab-Event-UUID"] for r in fresh} | {event_uuid}) == 3
    finally:
        other.stop()
