"""Webhooks: GitLab-shaped merge request events with GitLab's headers, retries, resend."""

from __future__ import annotations

import uuid

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import Receiver

SECRET = "hook-secret"  # noqa: S105 - a test value


def _mr_hook(project: Project, receiver: Receiver) -> int:
    hook = project.hooks.create(
        {"url": receiver.url, "token": SECRET, "merge_requests_events": True, "push_events": False}
    )
    return int(hook.id)


def test_hooks_crud(project: Project, receiver: Receiver) -> None:
    hook_id = _mr_hook(project, receiver)
    hook = project.hooks.get(hook_id)
    assert (hook.url, hook.merge_requests_events, hook.push_events) == (receiver.url, True, False)
    assert not hasattr(hook, "token")  # GitLab never shows the secret back
    hook.push_events = True
    hook.save()
    assert project.hooks.get(hook_id).push_events is True
    assert [h.id for h in project.hooks.list(get_all=True)] == [hook_id]
    project.hooks.delete(hook_id)
    assert project.hooks.list(get_all=True) == []
    with pytest.raises(gitlab.GitlabCreateError):
        project.hooks.create({"url": "ftp://example.invalid/x"})


def test_merge_events_are_shaped_like_gitlabs(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    hook_id = _mr_hook(project, receiver)
    project.branches.create({"branch": "promote/z", "ref": "main"})
    mr = project.mergerequests.create(
        {
            "source_branch": "promote/z",
            "target_branch": "dev",
            "title": "Promote z",
            "labels": ["promotion"],
        }
    )
    mr.description = "now with words"
    mr.save()
    mr.merge()
    assert sandbox.wait_for_deliveries()
    actions = [r.body["object_attributes"]["action"] for r in receiver.requests]
    assert actions == ["open", "update", "merge"]

    opened, updated, merged = receiver.requests
    headers = merged.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Gitlab-Event"] == "Merge Request Hook"
    assert headers["X-Gitlab-Token"] == SECRET
    assert headers["X-Gitlab-Instance"] == sandbox.url
    assert headers["User-Agent"].startswith("GitLab/")
    for name in ("X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"):
        uuid.UUID(headers[name])
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 3
    # GitLab sends a new webhook UUID with every request: a receiver deduplicating on it
    # must still see all three deliveries of this one hook.
    assert len({r.headers["X-Gitlab-Webhook-UUID"] for r in receiver.requests}) == 3

    body = merged.body
    assert (body["object_kind"], body["event_type"]) == ("merge_request", "merge_request")
    assert body["user"]["username"] == "root" and "email" in body["user"]
    assert body["project"]["path_with_namespace"] == "platform/k8s-deployments"
    assert body["project"]["git_http_url"] == project.http_url_to_repo
    assert body["repository"]["homepage"] == project.web_url
    attrs = body["object_attributes"]
    assert (attrs["iid"], attrs["state"], attrs["action"]) == (mr.iid, "merged", "merge")
    assert (attrs["source_branch"], attrs["target_branch"]) == ("promote/z", "dev")
    assert attrs["merge_commit_sha"] == project.mergerequests.get(mr.iid).merge_commit_sha
    assert attrs["last_commit"]["id"] == mr.sha
    assert attrs["url"] == mr.web_url
    assert [lab["title"] for lab in attrs["labels"]] == ["promotion"]
    assert [lab["title"] for lab in body["labels"]] == ["promotion"]
    assert body["changes"]["state_id"] == {"previous": 1, "current": 3}
    assert updated.body["changes"]["description"] == {"previous": None, "current": "now with words"}
    assert opened.body["object_attributes"]["state"] == "opened"

    recorded = sandbox.deliveries(hook_id=hook_id)
    assert [d["status"] for d in recorded] == ["delivered"] * 3
    assert recorded[2]["request_headers"]["X-Gitlab-Token"] == "[REDACTED]"


def test_failed_delivery_is_retried_with_the_same_idempotency_key(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    _mr_hook(project, receiver)
    receiver.statuses.extend([500, 502])
    project.branches.create({"branch": "retry", "ref": "main"})
    project.mergerequests.create(
        {"source_branch": "retry", "target_branch": "dev", "title": "retry me"}
    )
    assert sandbox.wait_for_deliveries()
    assert len(receiver.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    # Not a recursive event: each request gets its own (test_sandbox_mr_fidelity.py)
    assert len({r.headers["X-Gitlab-Event-UUID"] for r in receiver.requests}) == 3
    assert len({r.headers["X-Gitlab-Webhook-UUID"] for r in receiver.requests}) == 3
    assert receiver.requests[0].body == receiver.requests[2].body
    (delivery,) = sandbox.deliveries()
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 502, 200]

    # "Resend request": the same body and key again.
    reply = requests.post(
        f"{sandbox.url}/-/sandbox/deliveries/{delivery['id']}/resend",
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
    )
    assert reply.status_code == 202
    assert sandbox.wait_for_deliveries()
    resent = receiver.requests[3].headers
    assert resent["Idempotency-Key"] == delivery["idempotency_key"]
    assert resent["X-Gitlab-Webhook-UUID"] not in {
        r.headers["X-Gitlab-Webhook-UUID"] for r in receiver.requests[:3]
    }


def test_client_errors_are_not_retried(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    _mr_hook(project, receiver)
    receiver.statuses.append(401)
    project.branches.create({"branch": "denied", "ref": "main"})
    project.mergerequests.create(
        {"source_branch": "denied", "target_branch": "dev", "title": "denied"}
    )
    assert sandbox.wait_for_deliveries()
    (delivery,) = sandbox.deliveries()
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 1


def test_unreachable_receiver_fails_after_retries(sandbox: Sandbox, project: Project) -> None:
    project.hooks.create(
        {
            "url": "http://127.0.0.1:9/nothing-listens",
            "merge_requests_events": True,
            "push_events": False,
        }
    )
    project.branches.create({"branch": "lost", "ref": "main"})
    project.mergerequests.create({"source_branch": "lost", "target_branch": "dev", "title": "lost"})
    assert sandbox.wait_for_deliveries()
    (delivery,) = sandbox.deliveries()
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 4
    assert all(a["error"] for a in delivery["attempts"])


def test_push_events(sandbox: Sandbox, project: Project, receiver: Receiver) -> None:
    project.hooks.create({"url": receiver.url, "push_events": True})
    project.branches.create({"branch": "pushed", "ref": "dev"})
    assert sandbox.wait_for_deliveries()
    (push,) = receiver.requests
    assert push.headers["X-Gitlab-Event"] == "Push Hook"
    assert push.body["object_kind"] == "push"
    assert push.body["ref"] == "refs/heads/pushed"
    assert push.body["before"] == "0" * 40
    assert push.body["after"] == project.branches.get("dev").commit["id"]


def test_close_and_reopen_events_and_admin_listing(
    sandbox: Sandbox, project: Project, receiver: Receiver
) -> None:
    hook_id = _mr_hook(project, receiver)
    project.branches.create({"branch": "toggle", "ref": "main"})
    mr = project.mergerequests.create(
        {"source_branch": "toggle", "target_branch": "dev", "title": "toggle"}
    )
    mr.state_event = "close"
    mr.save()
    mr.state_event = "reopen"
    mr.save()
    assert sandbox.wait_for_deliveries()
    bodies = [r.body["object_attributes"] for r in receiver.requests]
    assert [(b["action"], b["state"]) for b in bodies] == [
        ("open", "opened"),
        ("close", "closed"),
        ("reopen", "opened"),
    ]
    listed = requests.get(
        f"{sandbox.url}/-/sandbox/deliveries",
        params={"hook_id": hook_id, "status": "delivered"},
        headers={"PRIVATE-TOKEN": sandbox.token},
        timeout=10,
    ).json()
    assert [d["body"]["object_attributes"]["action"] for d in listed] == ["open", "close", "reopen"]
    assert all(d["event"] == "Merge Request Hook" for d in listed)
