"""Why a job failed, in a few words anyone may read.

The status board needs no secret, and an error's text may name GitLab's or Jenkins'
URL, a file's content or a build's console: so the board never shows it. It shows
the category `category` finds for it instead ("GitLab unavailable", "Jenkins build
failed"...), read from the messages this tool itself writes (gitlab.py, git.py,
jenkins.py, webhook/executors.py and jobs.py). The full text stays behind the
secret: GET /jobs, and `gitops-helper status --webhook-url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # store.py imports this module: Job only for type hints
    from webhook.store import Job

# The first category whose pattern matches the error's text wins.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.DOTALL))
    for name, pattern in (
        # A build the step failed for a blocked unit, without the marked result line
        # (a library older than the webhook): the job could not tell it was blocked.
        ("blocked", r"^Jenkins build \S+ of \S+ ended FAILURE:.*\bblocked, no merge request"),
        ("Jenkins build failed", r"^Jenkins build \S+ of \S+ ended "),
        ("Jenkins unreachable", r"^cannot reach Jenkins\b"),
        ("Jenkins refused", r"^Jenkins (rejected|refused|failed|has no)\b"),
        ("Jenkins build did not finish", r"^(the build of job|build #\d+ of job) "),
        ("GitLab unavailable", r"^cannot reach GitLab\b|^GitLab failed .*: HTTP 5\d\d\b"),
        ("GitLab refused the token", r"^GitLab (rejected the token|refused)\b"),
        ("GitLab refused a request", r"^GitLab failed\b"),
        ("deployment project unreadable", r"^GitLab project .* not found|gitops\.yaml"),
        ("git transfer failed", r"^git (clone|fetch|push|ls-remote)\b"),
        ("branch moved meanwhile", r"changed on the server while this promotion ran"),
        ("branches busy", r"^another job holds\b"),
        ("internal error", r"^unexpected \w+"),
    )
)
OTHER = "promotion error"


def category(error: str | None) -> str:
    """A few words for why a job failed, from its last error; never the error's text."""
    text = (error or "").strip()
    return next((name for name, pattern in CATEGORIES if pattern.search(text)), OTHER)


@dataclass(frozen=True)
class FailedMerge:
    """A failed merge job as the board shows it: what, where, when, how often, why."""

    job: int
    merge_iid: int
    title: str
    merged_into: str  # the merge's target branch
    target: str | None  # the environment it promotes to, once the job knew it
    failed_at: str  # ISO 8601, UTC
    attempts: int
    reason: str  # a category (above), never the error's text


def failed_merge(job: Job) -> FailedMerge | None:
    """The board's line for a job: None unless it is a merge job that failed."""
    if job.state != "failed" or job.kind != "merge":
        return None
    payload = job.payload
    return FailedMerge(
        job=job.id,
        merge_iid=int(payload["iid"]),
        title=str(payload["title"]),
        merged_into=str(payload["target_branch"]),
        target=job.target,
        failed_at=job.updated_at,
        attempts=job.attempts,
        reason=category(job.last_error),
    )
