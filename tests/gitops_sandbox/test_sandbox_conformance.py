"""Every sandbox answer and webhook body carries the fields GitLab documents for it.

The field lists are facts from GitLab's OpenAPI spec and webhook docs, kept in
tests/gitops_sandbox/gitlab_fields.py with the fields deliberately absent (and why).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gitlab
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox import gitlab_fields as f
from tests.gitops_sandbox.sandbox_testing import Receiver


def conforms(answer: dict[str, Any], entity: str) -> None:
    """`answer` has every documented field of `entity` but the allowed absences, and not those."""
    expected: set[str] = getattr(f, entity)
    absent = set(f.ABSENT.get(entity, {}))
    missing = sorted(expected - absent - set(answer))
    assert not missing, f"{entity} lacks {missing}"
    stale = sorted(absent & set(answer))
    assert not stale, f"{entity} carries {stale}: drop them from ABSENT"


def conform_all(answers: Iterable[dict[str, Any]], entity: str) -> None:
    items = list(answers)
    assert items, f"no {entity} to check"
    for answer in items:
        conforms(answer, entity)


def test_rest_entities(gl: gitlab.Gitlab, project: Project) -> None:
    conforms(gl.http_get(f"/projects/{project.id}"), "PROJECT")
    conform_all(gl.http_list("/projects", get_all=True), "PROJECT")
    conform_all(gl.http_list(f"/projects/{project.id}/repository/branches"), "BRANCH")
    conforms(project.branches.get("dev").commit, "COMMIT")
    commits = gl.http_list(f"/projects/{project.id}/repository/commits", get_all=True)
    conform_all(commits, "COMMIT")
    detail = gl.http_get(f"/projects/{project.id}/repository/commits/{commits[0]['id']}")
    conforms(detail, "COMMIT_DETAIL")
    conforms(detail["stats"], "COMMIT_STATS")
    created = project.commits.create(
        {
            "branch": "conform",
            "start_branch": "dev",
            "commit_message": "c",
            "actions": [{"action": "update", "file_path": "envs/dev/env.cue", "content": "x\n"}],
        }
    )
    conforms(created.attributes, "COMMIT_DETAIL")
    conform_all(created.diff(), "DIFF")
    compared = project.repository_compare("main", "conform")
    conform_all(compared["diffs"], "DIFF")
    conform_all(compared["commits"], "COMMIT")

    mr = project.mergerequests.create(
        {"source_branch": "conform", "target_branch": "dev", "title": "c", "labels": ["x"]}
    )
    conforms(mr.attributes, "MERGE_REQUEST")
    conforms(mr.author, "USER_BASIC")
    listed = gl.http_list(f"/projects/{project.id}/merge_requests", get_all=True)
    conform_all(listed, "MERGE_REQUEST_BASIC")
    changes = mr.changes()
    conform_all(changes["changes"], "DIFF")
    mr.merge()
    merged = project.mergerequests.get(mr.iid).attributes
    conforms(merged, "MERGE_REQUEST")
    conforms(merged["merged_by"], "USER_BASIC")
    hook = project.hooks.create({"url": "http://127.0.0.1:9/x"})
    conforms(hook.attributes, "PROJECT_HOOK")


def test_webhook_bodies(sandbox: Sandbox, project: Project, receiver: Receiver) -> None:
    project.hooks.create(
        {
            "url": receiver.url,
            "push_events": True,
            "merge_requests_events": True,
            "note_events": True,
        }
    )
    project.commits.create(
        {
            "branch": "hooked",
            "start_branch": "dev",
            "commit_message": "c",
            "actions": [{"action": "create", "file_path": "new.txt", "content": "n\n"}],
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": "hooked", "target_branch": "dev", "title": "h", "labels": ["l"]}
    )
    mr.notes.create({"body": "note"})
    mr.merge()
    assert sandbox.wait_for_deliveries()
    by_event: dict[str, list[dict[str, Any]]] = {}
    for request in receiver.requests:
        by_event.setdefault(request.headers["X-Gitlab-Event"], []).append(request.body)

    pushes = by_event["Push Hook"]
    conform_all(pushes, "PUSH")
    conform_all([c for p in pushes for c in p["commits"]], "PUSH_COMMIT")
    events = by_event["Merge Request Hook"]
    conform_all(events, "MERGE_REQUEST_EVENT")
    conform_all([e["object_attributes"] for e in events], "MERGE_REQUEST_ATTRIBUTES")
    conform_all([e["object_attributes"]["last_commit"] for e in events], "HOOK_COMMIT")
    conform_all([lab for e in events for lab in e["labels"]], "HOOK_LABEL")
    notes = by_event["Note Hook"]
    conform_all(notes, "NOTE_EVENT")
    conform_all([n["object_attributes"] for n in notes], "NOTE_ATTRIBUTES")
    conform_all([n["merge_request"] for n in notes], "NOTE_MERGE_REQUEST")
    everything = [*pushes, *events, *notes]
    conform_all([b["project"] for b in everything], "HOOK_PROJECT")
    conform_all([b["repository"] for b in everything], "HOOK_REPOSITORY")
    conform_all([b["user"] for b in [*events, *notes]], "HOOK_USER")
