"""The webhook's jobs: recorded in the store, queued in huey, run here.

A `merge` job runs the cascade of one merged MR (jenkins_helpers.operations.cascade):
refresh the tool's other open MRs in that environment, promote what the merge
carried to the next one. A `reconcile` job finds merges whose cascade is missing
and adds their merge jobs. Jobs for the same target branch never run at once
(locks in the store); GitLab or git failures that may pass are retried with
backoff; a job that keeps failing ends `failed`, its last error kept, and can be
retried through the API. A promotion blocked on its target (say, it needs a
platform change not yet there) is retried when that target next changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from jenkins_helpers import argocd
from jenkins_helpers.deployrepo.settings import ARGOCD_DEFAULT_POLL, Settings
from jenkins_helpers.errors import TransientError, UserError
from jenkins_helpers.operations import deployments, health_gate
from jenkins_helpers.operations.between_envs import Selection
from jenkins_helpers.operations.cascade import Cascade, Merged, Promote, cascade
from jenkins_helpers.operations.reconcile import missed
from jenkins_helpers.promotion import target
from jenkins_helpers.promotion.target import DeploymentProject
from webhook import logs
from webhook.events import MergeEvent
from webhook.metrics import Metrics
from webhook.queue import JobQueue
from webhook.settings import WebhookSettings
from webhook.store import GATED, Job, JobState, Store

log = logging.getLogger(__name__)
LOCK_WAIT = 20.0  # seconds a job waits for its branches before it is requeued
# A degraded or timed-out promotion is looked at this many `argocd.poll`s apart.
BLOCKED_POLLS = 6


class Jobs:
    """Records, queues and runs jobs."""

    def __init__(
        self, settings: WebhookSettings, store: Store, metrics: Metrics, promote: Promote
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.promote = promote
        self.queue = JobQueue(settings.data_dir, self._run)
        self._reconciler: threading.Thread | None = None
        self._stopping = threading.Event()
        self._argocd: dict[tuple[str, str, str | None], argocd.ArgoCD] = {}

    # --- adding jobs ----------------------------------------------------------------------

    def add_merge(self, event: MergeEvent, delivery: str | None) -> tuple[Job, bool]:
        """The job for a merge (created and queued, unless this merge has one already)."""
        commit = event.merge_commit_sha or f"!{event.iid}"
        job, created = self.store.add_job(
            f"merge:{event.target_branch}:{commit}", "merge", event.as_payload(), delivery
        )
        if created:
            self.queue.submit(job.id)
        return job, created

    def retry(self, job_id: int) -> Job | None:
        """Run a failed or blocked job again (POST /jobs/<id>/retry)."""
        job = self.store.get(job_id)
        if job is None:
            return None
        if job.state in ("failed", "blocked", "done"):
            self.store.mark(job.id, "queued")
            self.queue.submit(job.id)
        elif job.state in GATED:
            self.queue.submit(job.id, once=True)  # look at Argo CD again now
        return self.store.get(job_id)

    # --- life cycle -----------------------------------------------------------------------

    def recover(self) -> int:
        """At start: queue again what was queued or running when the process died."""
        self.store.clear_locks()
        self.queue.flush()
        unfinished = self.store.unfinished()
        for job in unfinished:
            self.store.mark(job.id, "queued")
            self.queue.submit(job.id)
        for job in self.store.gated():
            # Its schedule was in the queue: a new one, its first look a poll from now
            # (the last look may be less than half a poll ago: see _recheck).
            self.queue.submit(job.id, delay=_poll(job))
        return len(unfinished)

    def start(self) -> None:
        """Recover, start the workers, and reconcile now and every interval."""
        recovered = self.recover()
        if recovered:
            log.info("re-queued %d unfinished job(s)", recovered)
        self.queue.start(self.settings.workers)
        if self.settings.reconcile_interval > 0 and self.settings.workers > 0:
            self._reconciler = threading.Thread(
                target=self._reconcile_loop, name="gitops-reconcile", daemon=True
            )
            self._reconciler.start()

    def stop(self) -> None:
        self._stopping.set()
        self.queue.stop()

    def _reconcile_loop(self) -> None:
        # Once at every start (a restart must look for what it missed while down, even
        # within the interval of the last run), then once per interval: the interval's
        # key makes the processes of one deployment (gunicorn workers) run it once.
        key = f"reconcile:start:{time.time_ns()}"
        while not self._stopping.is_set():
            job, created = self.store.add_job(key, "reconcile", {}, None)
            if created:
                self.queue.submit(job.id)
            self._stopping.wait(self.settings.reconcile_interval)
            key = f"reconcile:{int(time.time() // self.settings.reconcile_interval)}"

    # --- running jobs ---------------------------------------------------------------------

    def _run(self, job_id: int, once: bool = False) -> float | None:
        """Run one attempt; the seconds until the next one, or None when it has ended."""
        job = self.store.get(job_id)
        if job is not None and job.state in GATED:
            with logs.context(job=job.id, delivery=job.delivery, kind="gate"):
                return self._recheck(job, once)
        if job is None or job.state not in ("queued", "running"):
            return None  # a duplicate queue entry of a job that has ended
        self.store.mark(job.id, "running", attempt=True)
        started = time.monotonic()
        with logs.context(job=job.id, delivery=job.delivery, kind=job.kind):
            state, retry_in = self._attempt(job)
        self.metrics.job_duration.labels(state).observe(time.monotonic() - started)
        return retry_in

    def _attempt(self, job: Job) -> tuple[JobState, float | None]:
        try:
            with target.connect(self.settings.project, self.settings.access) as deployment:
                if job.kind == "reconcile":
                    state, result, target_env = self._reconcile(deployment)
                else:
                    state, result, target_env = self._merge(job, deployment)
        except TransientError as e:
            self.metrics.gitlab_errors.inc()
            attempts = job.attempts + 1
            delays = self.settings.retry_delays
            if attempts > len(delays):
                log.warning("job failed after %d attempts: %s", attempts, e.message)
                self.store.mark(job.id, "failed", error=e.message)
                return "failed", None
            delay = delays[attempts - 1]
            log.info("attempt %d failed, retrying in %g s: %s", attempts, delay, e.message)
            self.store.mark(job.id, "queued", error=e.message)
            return "queued", delay
        except UserError as e:
            log.warning("job failed: %s", e.message)
            self.store.mark(job.id, "failed", error=e.message)
            return "failed", None
        except Exception as e:
            log.exception("job failed unexpectedly")
            self.store.mark(job.id, "failed", error=f"unexpected {type(e).__name__}: {e}")
            return "failed", None
        self.store.mark(job.id, state, result=result, target=target_env)
        log.info("job %s", state)
        return state, None

    def _merge(
        self, job: Job, deployment: DeploymentProject
    ) -> tuple[JobState, dict[str, Any], str | None]:
        event = MergeEvent.from_payload(job.payload)
        merged = Merged(
            event.iid,
            event.title,
            event.description,
            event.labels,
            event.target_branch,
            event.merge_commit_sha or self._merge_commit(deployment, event.iid),
            author_id=event.author_id,
        )
        branches = _touched(deployment, event.target_branch)
        # Known before anything can fail: the board names where a failed job promotes to.
        self.store.mark(job.id, "running", target=_promotes_to(deployment, event.target_branch))
        with self._locked(job, branches):
            recorded = deployments.record(
                deployment, event.target_branch, merged.merge_commit, event.iid
            )
            gate = health_gate.gated(self.promote, self._connect)
            try:
                done = cascade(deployment, merged, gate, self.settings.jenkins)
            except health_gate.GateClosed as closed:
                return self._gate_closed(job, deployment, event, closed)
        if recorded is not None and recorded.failed:
            self.metrics.deployment_errors.inc()
        if done.ignored_trailer:
            self.metrics.ignored_trailers.inc()
        self._unblock(deployment, event.target_branch)
        blocked = done.promotion is not None and bool(done.promotion.blocked)
        target_env = done.step.target if done.step else None
        result = {**_result(done), "deployment": asdict(recorded) if recorded else None}
        return ("blocked" if blocked else "done"), result, target_env

    # --- the Argo CD gate (operations/health_gate.py, docs/ARGOCD.md) --------------------

    def _connect(self, settings: Settings) -> argocd.ArgoCD:
        """The Argo CD gitops.yaml names: one client per server, token and project."""
        found = settings.argocd
        if found is None:
            return health_gate.connect(settings)  # refused: gitops.yaml has no `argocd:`
        key = (found.url, found.token_env, found.project)
        if key not in self._argocd:
            self._argocd[key] = health_gate.connect(settings)
        return self._argocd[key]

    def _gate_closed(
        self,
        job: Job,
        deployment: DeploymentProject,
        event: MergeEvent,
        closed: health_gate.GateClosed,
    ) -> tuple[JobState, dict[str, Any], str | None]:
        """A merge whose promotion waits for Argo CD: the promotion to run later, and
        when the wait began (kept across reruns of the job, for the timeout)."""
        argocd_settings = deployment.settings.argocd
        poll = argocd_settings.poll if argocd_settings else ARGOCD_DEFAULT_POLL
        gate = {
            "since": _gate(job).get("since") or _now(),
            "looked": time.time(),
            "poll": poll,
            "step": closed.step,
            "verdict": closed.verdict.as_json(),
            "waited": 0.0,
        }
        state = _gate_state(closed.verdict)
        self._note(deployment, event.iid, gate, closed.verdict if state != "waiting" else None)
        self.queue.submit(job.id, delay=poll if state == "waiting" else poll * BLOCKED_POLLS)
        return state, {"gate": gate}, closed.step["target"]

    def _recheck(self, job: Job, once: bool) -> float | None:
        """Look at Argo CD again for a gated job; promote once its gate is open. The
        seconds until the next look, or None when the job has ended. A scheduled look
        that comes within half a poll of the last one is a duplicate: dropped."""
        gate = _gate(job)
        step = gate["step"]
        poll = _poll(job)
        if not once and time.time() - float(gate.get("looked") or 0) < poll / 2:
            return None
        if not once:  # the schedule's own look: the next one is due a poll from now
            gate["looked"] = time.time()
        waited = time.time() - datetime.fromisoformat(gate["since"]).timestamp()
        selection = Selection(tuple(step["apps"] or ()), step["platform"], step["group"])
        state = job.state
        try:
            with target.connect(self.settings.project, self.settings.access) as deployment:
                verdict = health_gate.check(
                    deployment, step["source"], selection, self._connect, waited=waited
                )
                gate = {**gate, "verdict": verdict.as_json(), "waited": round(waited, 1)}
                if verdict.open:
                    self._gate_opened(job, deployment, gate, selection)
                    return None
                state = _gate_state(verdict)
                if state != job.state:
                    log.info("job %s: %s", state, verdict.reason)
                    if state != "waiting":
                        self._note(deployment, int(job.payload["iid"]), gate, verdict)
                self.store.mark(job.id, state, result={"gate": gate})
        except TransientError as e:
            log.info("looking at Argo CD failed, looking again later: %s", e.message)
        except UserError as e:
            log.warning("job failed: %s", e.message)
            self.store.mark(job.id, "failed", error=e.message)
            return None
        return poll if state == "waiting" else poll * BLOCKED_POLLS

    def _gate_opened(
        self, job: Job, deployment: DeploymentProject, gate: dict[str, Any], selection: Selection
    ) -> None:
        """Run the promotion the gate held, as the merge job would have."""
        step = gate["step"]
        self.store.mark(job.id, "running", result={"gate": gate})
        source = deployment.settings.environment(step["source"]).branch
        with self._locked(job, _touched(deployment, source)):
            promotion = self.promote(deployment, step["source"], step["target"], selection)
        if job.state != "waiting":
            self._note(deployment, int(job.payload["iid"]), gate, None)
        state: JobState = "blocked" if promotion.blocked else "done"
        result = {"gate": gate, "promotion": asdict(promotion)}
        self.store.mark(job.id, state, result=result, target=step["target"])
        log.info("gate open after %s s: job %s", gate["waited"], state)

    def _note(
        self,
        deployment: DeploymentProject,
        iid: int,
        gate: dict[str, Any],
        verdict: health_gate.Verdict | None,
    ) -> None:
        """Say on the merged MR why its next MR is not opened (`verdict`), or, with
        none, that it is opened now after all."""
        target_env = gate["step"]["target"]
        if verdict is None:
            text = (
                f"Argo CD now reports what merged here Synced and Healthy: the promotion "
                f"to {target_env} runs."
            )
        else:
            text = (
                f"No merge request to {target_env}: {verdict.reason}. The webhook looks "
                "again and opens it once Argo CD reports Synced and Healthy (docs/ARGOCD.md)."
            )
        try:
            deployment.gl.add_note(deployment.project.path, iid, text)
        except UserError as e:  # a courtesy: the job's state says it too
            log.warning("could not comment on !%d: %s", iid, e.message)

    def _reconcile(
        self, deployment: DeploymentProject
    ) -> tuple[JobState, dict[str, Any], str | None]:
        added, requeued = [], []
        path = deployment.project.path
        for merged, _step in missed(deployment):
            # The merge commit as GitLab's event has it (null for a fast-forward), so
            # that this job and a late delivery of the same merge share one key.
            sha = deployment.gl.merge_request(path, merged.iid).merge_commit_sha
            event = MergeEvent(
                path,
                merged.iid,
                merged.title,
                merged.description,
                merged.labels,
                "",
                merged.target_branch,
                sha,
                merged.author_id,
            )
            job, created = self.add_merge(event, None)
            if created:
                added.append(job.id)
            elif job.state in ("degraded", "timeout"):
                self.queue.submit(job.id, once=True)  # may be healthy by now: look again
            elif job.state == "failed":
                # Its retries ran out (a GitLab outage, a build that failed): the merge
                # is still missed, so it gets another run now.
                self.store.mark(job.id, "queued")
                self.queue.submit(job.id)
                requeued.append(job.id)
        if added or requeued:
            log.info("reconcile queued %d missed merge(s), %d again", len(added), len(requeued))
        return "done", {"queued": added, "requeued": requeued}, None

    def _merge_commit(self, deployment: DeploymentProject, iid: int) -> str | None:
        """Fast-forward merges send no merge_commit_sha (and the event carries no
        squash commit): ask the API which commit the merge put on the branch."""
        return deployment.gl.merge_request(deployment.project.path, iid).merged_commit

    def _unblock(self, deployment: DeploymentProject, branch: str) -> None:
        """A promotion blocked on `branch`'s environment may pass now that it changed."""
        env = next((e for e in deployment.settings.environments if e.branch == branch), None)
        for job in self.store.blocked_for(env.name) if env else []:
            self.store.mark(job.id, "queued")
            self.queue.submit(job.id)

    @contextmanager
    def _locked(self, job: Job, branches: list[str]) -> Iterator[None]:
        deadline = time.monotonic() + LOCK_WAIT
        while not self.store.try_lock(branches, job.id):
            if time.monotonic() > deadline:
                raise TransientError(f"another job holds {', '.join(branches)}")
            time.sleep(0.2)
        try:
            yield
        finally:
            self.store.unlock(job.id)


def _gate(job: Job) -> dict[str, Any]:
    found = (job.result or {}).get("gate")
    return found if isinstance(found, dict) else {}


def _poll(job: Job) -> float:
    """Seconds between two looks at a waiting job (gitops.yaml's `argocd.poll`)."""
    return float(_gate(job).get("poll") or ARGOCD_DEFAULT_POLL)


def _gate_state(verdict: health_gate.Verdict) -> JobState:
    """A held job's state: the verdict's outcome (degraded, timeout), else waiting."""
    held: dict[str, JobState] = {"degraded": "degraded", "timeout": "timeout"}
    return held.get(verdict.outcome, "waiting")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _touched(deployment: DeploymentProject, branch: str) -> list[str]:
    """The branches a merge into `branch` changes MRs of: itself and the next environment."""
    settings = deployment.settings
    if branch == settings.main_branch:
        return [f"lock:{settings.environments[0].branch}"]
    names = [e.branch for e in settings.environments]
    touched = [branch]
    if branch in names and names.index(branch) + 1 < len(names):
        touched.append(names[names.index(branch) + 1])
    return sorted(f"lock:{b}" for b in touched)


def _promotes_to(deployment: DeploymentProject, branch: str) -> str | None:
    """The environment a merge into `branch` is promoted to (as cascade.next_step has it):
    the first after main, the next after an environment; None after the last or another
    branch."""
    settings = deployment.settings
    if branch == settings.main_branch:
        return settings.environments[0].name
    names = [e.branch for e in settings.environments]
    at = names.index(branch) if branch in names else len(names)
    return settings.environments[at + 1].name if at + 1 < len(names) else None


def _result(done: Cascade) -> dict[str, Any]:
    """What a merge job did, as GET /jobs shows it."""
    return {
        "merged_into": done.merged_into,
        "stopped": done.stopped,
        "promotion": asdict(done.promotion) if done.promotion else None,
        "refreshed": [asdict(r) for r in done.refreshed],
        "decommission": asdict(done.decommission) if done.decommission else None,
        "ignored_trailer": done.ignored_trailer,
    }
