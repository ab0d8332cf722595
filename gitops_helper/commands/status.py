"""`gitops-helper status`: the status board (jenkins_helpers/status.py) in a terminal, or as JSON.

With --webhook-url, also the webhook's merge jobs that failed (their retries ran
out), with the full reason: read from its token-protected `GET /jobs?state=failed`
with GITOPS_WEBHOOK_SECRET, the secret the webhook itself is configured with. The
board in the browser shows them too, but never the reason's text (docs/WEBHOOK.md).
A webhook that cannot be read is a warning: the board still prints.

With `argocd:` in gitops.yaml, each app's row is followed by a `running` row: what
Argo CD reports in each environment (sync status, health, the commit), `#` marking
drift, which a Drift section explains (jenkins_helpers/deployed.py).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import requests

from gitops_helper.commands import Printer
from jenkins_helpers import gitlab, http, inputs, secrets, status
from jenkins_helpers.errors import BadInput
from jenkins_helpers.promotion import target
from jenkins_helpers.secrets import mask
from jenkins_helpers.status import Board, Cell, Row

# The marks after a tag in the table, and what they mean (printed under it).
MARKS = (("*", "pending MR"), ("<", "behind"), ("!", "ahead"), ("~", "went back"))
LEGEND = "  ".join(f"{mark} {meaning}" for mark, meaning in MARKS) + (
    "  - not there  (no image) onboarded, no image yet"
)
DRIFT_MARK = "#"
RUNNING = "  running"  # the label of an app's second row: what Argo CD reports


# The webhook's own setting for its secret (webhook/settings.py).
SECRET_VARIABLE = "GITOPS_WEBHOOK_SECRET"  # noqa: S105 - a variable's name, not a secret
WEBHOOK_TIMEOUT = 10.0  # seconds the webhook has to answer
FAILED_LIMIT = 100  # the newest failed and gated jobs asked for
# The webhook's job states of a merge whose next MR waits for Argo CD (webhook/store.py).
GATED_STATES = ("waiting", "degraded", "timeout")


@dataclass(frozen=True)
class Webhook:
    """Where the webhook is and the secret it takes (never shown)."""

    url: str
    secret: str = dataclasses.field(repr=False)


@dataclass(frozen=True)
class FailedJob:
    """A merge job of the webhook whose retries ran out, with its full last error."""

    id: int
    merge_iid: int | None
    title: str | None
    merged_into: str | None  # the merge's target branch
    target: str | None  # the environment it promotes to, when the job knew it
    failed_at: str
    attempts: int
    category: str | None  # the webhook's few words for it, as the board shows them
    error: str


@dataclass(frozen=True)
class GatedJob:
    """A merge job whose next MR waits for Argo CD (docs/ARGOCD.md): `waiting`, or held
    (`degraded`, `timeout`) until what merged runs Synced and Healthy."""

    id: int
    merge_iid: int | None
    merged_into: str | None
    target: str | None
    state: str
    since: str | None  # when the wait began
    reason: str  # the gate's last verdict


@dataclass(frozen=True)
class WebhookJobs:
    """The webhook's failed and gated merge jobs, or why they could not be read."""

    url: str
    failed: list[FailedJob] | None  # None: not read
    problem: str | None = None
    gated: list[GatedJob] | None = None  # None: not read


def webhook(url: str | None) -> Webhook | None:
    """The webhook to read failed jobs from (None without a URL); its secret from
    GITOPS_WEBHOOK_SECRET. BadInput before anything is read when either is unusable."""
    if not url:
        return None
    try:
        checked = inputs.server_url(url, "webhook URL")
    except BadInput as e:
        raise BadInput(e.message, "e.g. https://gitops-webhook.example.com") from None
    secret = os.environ.get(SECRET_VARIABLE, "")
    if not secret.strip():
        raise BadInput(
            f"{SECRET_VARIABLE} is not set: the webhook's job records need its secret",
            f"export {SECRET_VARIABLE} with the secret the webhook runs with, or leave out "
            "--webhook-url (and GITOPS_WEBHOOK_URL)",
        )
    return Webhook(checked, secrets.checked_token(secret, SECRET_VARIABLE))


def failed_jobs(hook: Webhook) -> WebhookJobs:
    """The webhook's newest failed and gated merge jobs; a problem instead when it
    cannot be read."""
    states = [("state", state) for state in ("failed", *GATED_STATES)]
    try:
        with http.session(WEBHOOK_TIMEOUT) as client:  # a total deadline: no drip hangs it
            answer = client.get(
                f"{hook.url}/jobs",
                params=[*states, ("limit", str(FAILED_LIMIT))],
                headers={"Authorization": f"Bearer {hook.secret}"},
                timeout=WEBHOOK_TIMEOUT,
            )
    except requests.RequestException as e:
        why = (
            f"no answer within {WEBHOOK_TIMEOUT:g} s"
            if isinstance(e, requests.Timeout)
            else "connection failed"
            if isinstance(e, requests.ConnectionError)
            else type(e).__name__
        )
        return WebhookJobs(hook.url, None, f"cannot reach the webhook at {hook.url} ({why})")
    if answer.status_code == 401:
        problem = f"the webhook at {hook.url} refused {SECRET_VARIABLE} (HTTP 401)"
        return WebhookJobs(hook.url, None, problem)
    try:
        merges = [j for j in answer.json()["jobs"] if j.get("kind") == "merge"]
        failed = [_failed_job(j) for j in merges if j["state"] == "failed"]
        gated = [_gated_job(j) for j in merges if j["state"] in GATED_STATES]
    except (ValueError, KeyError, TypeError, AttributeError):
        problem = (
            f"the webhook at {hook.url} answered GET /jobs with HTTP {answer.status_code}, "
            "not its job records: is it the webhook's address?"
        )
        return WebhookJobs(hook.url, None, problem)
    return WebhookJobs(hook.url, failed, gated=gated)


def _gated_job(job: dict[str, Any]) -> GatedJob:
    merge = job.get("merge") or {}
    gate = (job.get("result") or {}).get("gate") or {}
    return GatedJob(
        id=int(job["id"]),
        merge_iid=merge.get("iid"),
        merged_into=merge.get("target_branch"),
        target=job.get("target"),
        state=str(job["state"]),
        since=gate.get("since"),
        reason=mask(str((gate.get("verdict") or {}).get("reason") or "no verdict yet")),
    )


def _failed_job(job: dict[str, Any]) -> FailedJob:
    merge = job.get("merge") or {}
    return FailedJob(
        id=int(job["id"]),
        merge_iid=merge.get("iid"),
        title=merge.get("title"),
        merged_into=merge.get("target_branch"),
        target=job.get("target"),
        failed_at=str(job["updated_at"]),
        attempts=int(job["attempts"]),
        category=job.get("failure"),
        error=mask(str(job.get("last_error") or "no error recorded")),
    )


def as_data(b: Board, jobs: WebhookJobs | None) -> dict[str, Any]:
    """The --json document: the board, and with a webhook its failed jobs (null when
    they could not be read, with `webhook_problem` saying why)."""
    data = dataclasses.asdict(b)
    if jobs is not None:
        data["failed_jobs"] = (
            None if jobs.failed is None else [dataclasses.asdict(j) for j in jobs.failed]
        )
        data["gated_jobs"] = (
            None if jobs.gated is None else [dataclasses.asdict(j) for j in jobs.gated]
        )
        data["webhook_problem"] = jobs.problem
    return data


def run(project: str, gitlab_url: str | None, check_manifests: bool) -> Board:
    """Read the deployment project's board (and compare manifests, if asked)."""
    project = inputs.project_path(project)
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        return status.board(deployment, check_manifests=check_manifests)


def cell_text(cell: Cell) -> str:
    """A table cell: the tag (or `-`, `(no image)`) and its marks."""
    text = {"deployed": cell.tag or "", "onboarded": "(no image)", "absent": "-"}[cell.state]
    marks = ("*" if cell.pending else "") + ("<" if "behind" in cell.diverged else "")
    marks += ("!" if "ahead" in cell.diverged else "") + ("~" if "back" in cell.diverged else "")
    return f"{text} {marks}" if marks else text


def running_text(cell: Cell) -> str:
    """A cell of an app's `running` row: `Synced Healthy 1a2b3c4`, `#` after drift."""
    d = cell.deployed
    if d is None:
        return ""
    text = "(no Application)" if d.sync_status is None else f"{d.sync_status} {d.health}"
    text += f" {d.short}" if d.short else ""
    return f"{text} {DRIFT_MARK}" if d.drift else text


def _lines(b: Board, row: Row) -> list[list[str]]:
    """An app's row, and with Argo CD read its `running` row."""
    lines = [[row.app, *(cell_text(c) for c in row.cells)]]
    if b.argocd == "read":
        lines.append([RUNNING, *(running_text(c) for c in row.cells)])
    return lines


def show(b: Board, out: Printer, jobs: WebhookJobs | None = None) -> None:
    """The table, then the pending MRs, divergences, decommissions, manifests and (with
    a webhook) its failed jobs."""
    names = [e.name for e in b.environments]
    out(f"{b.project} at {b.generated_at}: {' -> '.join(names)}")
    out("")
    header = ["APP", *(n.upper() for n in names)]
    rows = [line for r in b.rows for line in _lines(b, r)]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        out("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
    if not b.rows:
        out("(no app has an entry in any environment)")
    out(LEGEND)
    if b.argocd == "read":
        out(f"running: Argo CD's sync status, health and commit  {DRIFT_MARK} drift")
        _section(
            out,
            "Drift (Argo CD)",
            [
                f"{app} in {c.env}: {c.deployed.explain(b.heads.get(c.env))}"
                for app, c in b.drift
                if c.deployed
            ],
            empty="none: every Application is Synced and not Degraded at its branch head",
        )
    _section(
        out,
        "Pending merge requests",
        [
            f"!{mr.iid} {mr.env or mr.target_branch}: {mr.title}"
            + (f" (group {mr.group})" if mr.group else "")
            + f"  {mr.url}"
            for mr in b.pending
        ],
    )
    _section(
        out,
        "Divergences",
        [f"{d.app}: {d.text}" + (f"  {d.mr_url}" if d.mr_url else "") for d in b.divergences],
    )
    _section(
        out,
        "Decommissions in progress",
        [
            f"{d.app}: still in {', '.join(d.remaining)}; "
            + ", ".join(f"!{mr.iid} ({mr.state}) {mr.url}" for mr in d.mrs)
            for d in b.decommissions
        ],
    )
    _manifests(b, out)
    if jobs is not None:
        _failed(jobs, out)
        _gated(jobs, out)
    problems = [f"{e.name}: {e.problem}" for e in b.environments if e.problem]
    problems += [b.argocd_problem] if b.argocd_problem else []
    _section(out, "Warnings", [*problems, *b.warnings], empty=None)


def warn(jobs: WebhookJobs | None, out: Printer) -> None:
    """One warning line on stderr when the webhook could not be read."""
    if jobs is not None and jobs.problem:
        out(f"warning: {jobs.problem}; failed webhook jobs not shown", err=True)


def _failed(jobs: WebhookJobs, out: Printer) -> None:
    if jobs.failed is None:
        out("")
        out("Failed webhook jobs: not read (see the warning)")
        return
    lines = []
    for j in jobs.failed:
        where = f"!{j.merge_iid} into {j.merged_into}" + (f" -> {j.target}" if j.target else "")
        lines.append(f"job {j.id}: {where}: {j.title}")
        attempts = f"{j.attempts} attempt" + ("s" if j.attempts != 1 else "")
        lines.append(f"  failed at {j.failed_at} after {attempts} ({j.category}):")
        lines += [f"    {line}" for line in j.error.splitlines()]
    if lines:
        lines.append("(each runs again at the webhook's next reconcile; or POST /jobs/ID/retry)")
    _section(out, f"Failed webhook jobs at {jobs.url}", lines, empty="none")


def _gated(jobs: WebhookJobs, out: Printer) -> None:
    if jobs.gated is None:
        return  # not read: _failed said so
    lines = []
    for j in jobs.gated:
        where = f"!{j.merge_iid} into {j.merged_into}" + (f" -> {j.target}" if j.target else "")
        lines.append(f"job {j.id}: {where}: {j.state} since {j.since or '?'}")
        lines.append(f"  {j.reason}")
    _section(out, f"Waiting for Argo CD at {jobs.url}", lines, empty="none")


def _manifests(b: Board, out: Printer) -> None:
    if not b.manifests_checked:
        out("")
        out("Stale manifests: not checked (--check-manifests renders every environment)")
        return
    lines = [f"{e.name}: {path}" for e in b.environments for path in e.stale or ()]
    lines += [f"{e.name}: not checked (see Warnings)" for e in b.environments if e.stale is None]
    _section(out, "Stale manifests", lines, empty="every environment matches its env.cue")


def _section(out: Printer, title: str, lines: list[str], empty: str | None = "none") -> None:
    if not lines and empty is None:
        return
    out("")
    out(f"{title}:" + ("" if lines else f" {empty}"))
    for line in lines:
        out(f"  {line}")
