"""GitLab merge-request events: what the webhook reads from a payload, and nothing more.

Real payloads carry many more fields than any handler reads, and GitLab adds fields
over versions: parse leniently, validate what is used (docs/WEBHOOK.md lists the
fields and GitLab's delivery rules). A merge arrives as `object_kind:
merge_request` with `object_attributes.action: merge` and `state: merged`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput

_SHA = re.compile(r"[0-9a-f]{40}")
# How deep a delivery's JSON may nest, counting every object and array: GitLab's own
# sample merge request event nests 5 deep; a deeper body is malformed (docs/WEBHOOK.md).
MAX_DEPTH = 32


@dataclass(frozen=True)
class MergeEvent:
    """A merged merge request of some project: the fields a promotion needs."""

    project_path: str
    iid: int
    title: str
    description: str
    labels: tuple[str, ...]
    source_branch: str
    target_branch: str
    merge_commit_sha: str | None  # may be null for some merge methods: then ask the API
    author_id: int | None = None  # who opened the MR: trailers count only from our own user

    def as_payload(self) -> dict[str, Any]:
        """The event as a job stores it (JSON)."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> MergeEvent:
        """The event a job stored."""
        return cls(**{**data, "labels": tuple(data["labels"])})


@dataclass(frozen=True)
class Ignored:
    """An event the webhook acknowledges and does not act on, and why."""

    reason: str


def load(raw: bytes) -> object:
    """A delivery's body as JSON; BadInput when it is not JSON or nests deeper than
    MAX_DEPTH (Python's parser gives up near 1000 levels with a RecursionError)."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput("the body is not JSON") from e
    except RecursionError as e:
        raise BadInput(f"the body nests deeper than {MAX_DEPTH} levels") from e
    level: list[object] = [body]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
    if any(isinstance(node, dict | list) for node in level):
        raise BadInput(f"the body nests deeper than {MAX_DEPTH} levels")
    return body


def parse(event_header: str, body: object) -> MergeEvent | Ignored:
    """A merge event to act on, or why the delivery is ignored; BadInput for a malformed one."""
    if event_header != "Merge Request Hook":
        return Ignored(f"not a merge request event ({inputs.show(event_header)})")
    if not isinstance(body, dict) or body.get("object_kind") != "merge_request":
        return Ignored("not a merge request payload")
    attrs = _mapping(body, "object_attributes")
    if attrs.get("action") != "merge" or attrs.get("state") != "merged":
        return Ignored(f"merge request {attrs.get('action') or 'event'}, not a merge")
    project = _mapping(body, "project")
    return MergeEvent(
        project_path=_text(project, "path_with_namespace"),
        iid=_int(attrs, "iid"),
        title=str(attrs.get("title") or ""),
        description=str(attrs.get("description") or ""),
        labels=_labels(body, attrs),
        source_branch=_text(attrs, "source_branch"),
        target_branch=_text(attrs, "target_branch"),
        merge_commit_sha=_sha(attrs.get("merge_commit_sha")),
        author_id=_optional_int(attrs, "author_id"),
    )


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise BadInput(f"payload field {key} is missing or not an object")
    return value


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadInput(f"payload field {key} is {inputs.show(value)}, expected a string")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput(f"payload field {key} is {inputs.show(value)}, expected a number")
    return value


def _optional_int(data: dict[str, Any], key: str) -> int | None:
    """A number the handler can do without: absent or malformed is None (never trusted)."""
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sha(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise BadInput(f"payload field merge_commit_sha is {inputs.show(value)}, expected a commit")
    return value


def _labels(body: dict[str, Any], attrs: dict[str, Any]) -> tuple[str, ...]:
    """Label titles, from object_attributes.labels (or the top-level labels)."""
    found = attrs.get("labels") or body.get("labels") or []
    titles = [item.get("title") for item in found if isinstance(item, dict)]
    return tuple(sorted(t for t in titles if isinstance(t, str)))
