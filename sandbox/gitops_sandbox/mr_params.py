"""Merge request parameters checked as GitLab's Grape declarations check them.

Grape refuses a request before any work is done: a value outside `values:` is
`400 {"error": "<name> does not have a valid value"}`, and an update naming
none of the updatable fields is `400 {"error": "<names> are missing, at least
one parameter must be provided"}` (lib/api/merge_requests.rb).
"""

from __future__ import annotations

from typing import Any

from gitops_sandbox.errors import ApiError

LIST_STATES = ("opened", "closed", "locked", "merged", "all")
STATE_EVENTS = ("close", "reopen")
# lib/api/merge_requests.rb, update_params_at_least_one_of (GitLab 17.x)
UPDATE_PARAMS = (
    "assignee_id",
    "assignee_ids",
    "reviewer_ids",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "milestone_id",
    "milestone",
    "remove_source_branch",
    "allow_collaboration",
    "allow_maintainer_to_push",
    "squash",
    "target_branch",
    "title",
    "state_event",
    "discussion_locked",
    "merge_after",
)


def invalid(name: str) -> ApiError:
    """Grape's answer for a value outside the declared ones."""
    return ApiError(400, {"error": f"{name} does not have a valid value"})


def check_list(params: dict[str, Any]) -> None:
    """`GET .../merge_requests`: `state` must be one of GitLab's."""
    if params.get("state") not in (None, *LIST_STATES):
        raise invalid("state")


def check_update(params: dict[str, Any]) -> None:
    """`PUT .../merge_requests/:iid`: at least one updatable field, valid values."""
    if not any(name in params for name in UPDATE_PARAMS):
        names = ", ".join(UPDATE_PARAMS)
        raise ApiError(
            400, {"error": f"{names} are missing, at least one parameter must be provided"}
        )
    if "state_event" in params and params["state_event"] not in STATE_EVENTS:
        raise invalid("state_event")
    for name in ("title", "target_branch"):  # allow_blank: false
        if name in params and not str(params[name] or "").strip():
            raise ApiError(400, {"error": f"{name} is empty"})


def labels_param(value: Any) -> list[str]:
    """Labels as given: a list or GitLab's comma-separated string; order kept, no blanks."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return list(dict.fromkeys(s.strip() for s in items if str(s).strip()))


def to_bool(value: Any) -> bool:
    """A boolean parameter as Grape coerces it."""
    return value is True or str(value).lower() in ("true", "1", "yes")
