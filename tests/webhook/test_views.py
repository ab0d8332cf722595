"""The webhook's HTTP surface, through Flask's test client (no workers: jobs stay queued)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import webhook
from jenkins_helpers.errors import BadInput
from webhook import events
from webhook.store import Store

SECRET = "webhook-test-secret-8c1"  # noqa: S105 - made up
PROJECT = "platform/k8s-deployments"
DOCS_SAMPLE = Path(__file__).with_name("gitlab_docs_merge_request_event.json")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The webhook with no job workers, pointed at a GitLab nobody needs to reach."""
    created = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": SECRET,
            "GITLAB_URL": "http://127.0.0.1:9",
            "GITLAB_TOKEN": "gitlab-test-token",
            "GITOPS_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_WORKERS": 0,
        }
    )
    yield created
    webhook.shutdown(created)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client for the app."""
    return app.test_client()


def store(app: Flask) -> Store:
    found: Store = app.extensions["gitops"]["store"]
    return found


def merge_event(**attributes: Any) -> dict[str, Any]:
    """A merge-request `merge` event of the deployment project, as GitLab sends it."""
    attrs = {
        "iid": 7,
        "title": "Promote example-app 1.2.3 to dev",
        "description": "",
        "source_branch": "promote/dev/example-app",
        "target_branch": "dev",
        "state": "merged",
        "action": "merge",
        "merge_commit_sha": "a" * 40,
        "labels": [{"id": 1, "title": "promotion"}],
    }
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "project": {"id": 1, "path_with_namespace": PROJECT},
        "object_attributes": {**attrs, **attributes},
    }


def deliver(
    client: FlaskClient,
    body: object,
    *,
    token: str | None = SECRET,
    event: str = "Merge Request Hook",
    key: str = "delivery-1",
) -> tuple[int, dict[str, Any]]:
    headers = {"X-Gitlab-Event": event, "Idempotency-Key": key}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(
        "/hooks/gitlab", data=data, headers=headers, content_type="application/json"
    )
    return answer.status_code, answer.get_json() or {}


@pytest.mark.parametrize("token", [None, "wrong", SECRET + "x", ""])
def test_a_wrong_or_missing_token_is_401_and_makes_no_job(
    app: Flask, client: FlaskClient, token: str | None
) -> None:
    status, answer = deliver(client, merge_event(), token=token)
    assert (status, answer["status"]) == (401, "rejected")
    assert store(app).jobs() == []


def test_a_body_over_1_mib_is_413(client: FlaskClient) -> None:
    big = merge_event(description="x" * (1024 * 1024))
    status, _ = deliver(client, big)
    assert status == 413


def test_malformed_json_is_400(client: FlaskClient) -> None:
    status, answer = deliver(client, b"{not json")
    assert (status, answer["reason"]) == (400, "the body is not JSON")


def nested(depth: int, shape: str) -> bytes:
    """JSON nesting `depth` objects and arrays, as raw bytes (no Python object holds it)."""
    opening = {"arrays": "[", "objects": '{"a":', "mixed": '[{"a":'}[shape]
    closing = {"arrays": "]", "objects": "}", "mixed": "}]"}[shape]
    repeat = depth if shape != "mixed" else depth // 2
    return (opening * repeat + "1" + closing * repeat).encode()


@pytest.mark.parametrize("depth", [34, 100, 990, 1000, 5000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects", "mixed"])
@pytest.mark.parametrize("where", ["the body", "a field"])
def test_deeply_nested_json_is_400_not_a_crash(
    app: Flask, client: FlaskClient, depth: int, shape: str, where: str
) -> None:
    """Python's parser raises RecursionError near 1000 levels: that was a 500. Whatever
    the depth, the delivery is malformed, wherever the nesting is."""
    body = nested(depth, shape)
    if where == "a field":
        event = json.dumps(merge_event(description="@")).encode()
        body = event.replace(b'"@"', body)
    status, answer = deliver(client, body)
    assert (status, answer["status"]) == (400, "rejected")
    assert answer["reason"] == "the body nests deeper than 32 levels"
    assert store(app).jobs() == []


def test_json_nested_32_levels_is_read() -> None:
    body = json.dumps(merge_event(labels=json.loads(nested(29, "arrays")))).encode()
    assert events.load(body) == json.loads(body)


def test_gitlabs_documentation_sample_is_acknowledged_and_ignored(
    app: Flask, client: FlaskClient
) -> None:
    """GitLab's own example payload, unmodified: an `open` event of another project."""
    status, answer = deliver(client, json.loads(DOCS_SAMPLE.read_text()))
    assert (status, answer["status"]) == (202, "ignored")
    assert answer["reason"] == "merge request open, not a merge"
    assert store(app).jobs() == []


@pytest.mark.parametrize(
    ("event", "body", "reason"),
    [
        ("Push Hook", {"object_kind": "push"}, "not a merge request event ('Push Hook')"),
        ("Merge Request Hook", merge_event(action="close", state="closed"), "merge request close"),
        (
            "Merge Request Hook",
            {**merge_event(), "project": {"path_with_namespace": "other/repo"}},
            "not the deployment project (other/repo)",
        ),
        (
            "Merge Request Hook",
            merge_event(merge_commit_sha="not-a-sha"),
            "malformed payload: payload field merge_commit_sha is 'not-a-sha'",
        ),
    ],
    ids=["push", "closed", "other-project", "bad-sha"],
)
def test_events_it_does_not_act_on_are_202_with_the_reason(
    app: Flask, client: FlaskClient, event: str, body: dict[str, Any], reason: str
) -> None:
    status, answer = deliver(client, body, event=event)
    assert (status, answer["status"]) == (202, "ignored")
    assert answer["reason"].startswith(reason)
    assert store(app).jobs() == []


def test_one_merge_delivered_three_times_makes_one_job(app: Flask, client: FlaskClient) -> None:
    """A retry keeps its Idempotency-Key; a second hook or a resend repeats the merge."""
    first = deliver(client, merge_event(), key="k-1")
    again = deliver(client, merge_event(), key="k-1")
    other_key = deliver(client, merge_event(), key="k-2")
    assert first == (202, {"status": "queued", "job": first[1]["job"]})
    assert again[1]["status"] == other_key[1]["status"] == "duplicate"
    jobs = store(app).jobs()
    assert len(jobs) == 1 and jobs[0].state == "queued"
    assert jobs[0].key == f"merge:dev:{'a' * 40}"


def test_health_metrics_and_the_job_records(app: Flask, client: FlaskClient) -> None:
    deliver(client, merge_event())
    assert client.get("/healthz").get_json() == {"status": "ok"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'gitops_webhook_deliveries_total{outcome="queued"} 1.0' in metrics
    assert 'gitops_webhook_jobs{state="queued"} 1.0' in metrics
    assert client.get("/jobs").status_code == 401
    listed = client.get("/jobs", headers={"X-Gitlab-Token": SECRET}).get_json()
    assert [j["state"] for j in listed["jobs"]] == ["queued"] and listed["counts"]["queued"] == 1
    assert listed["jobs"][0]["merge"] == {
        "iid": 7,
        "title": "Promote example-app 1.2.3 to dev",
        "target_branch": "dev",
    }
    assert listed["jobs"][0]["failure"] is None, "a category only for a failed job"
    assert client.get("/jobs?state=bogus", headers={"X-Gitlab-Token": SECRET}).status_code == 400
    missing = client.post("/jobs/999/retry", headers={"Authorization": f"Bearer {SECRET}"})
    assert missing.status_code == 404


def test_readiness_says_when_gitlab_cannot_be_reached(client: FlaskClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"queue": "ok", "gitlab": "failed"}  # why: in the log


@pytest.mark.parametrize("delays", ["2,soon", "2,,5", "-1", "nan", ","])
def test_unusable_retry_delays_are_refused_at_start(tmp_path: Path, delays: str) -> None:
    with pytest.raises(BadInput, match="GITOPS_RETRY_DELAYS must be seconds separated by commas"):
        webhook.create_app(
            {
                "GITOPS_WEBHOOK_SECRET": SECRET,
                "GITLAB_URL": "http://127.0.0.1:9",
                "GITLAB_TOKEN": "gitlab-test-token",
                "GITOPS_DATA_DIR": str(tmp_path / "data"),
                "GITOPS_WORKERS": 0,
                "GITOPS_RETRY_DELAYS": delays,
            }
        )
