"""Argo CD's Applications as its application controller keeps them: the model behind
argocd_api.py (docs/SANDBOX.md, "Argo CD").

Where Applications come from. Our render writes one Application per app and
environment, `manifests/<env>/<app>/application-<env>-<app>.yaml`, on the environment's
branch, and a root Application per environment applies them (app of apps). So every
branch of every project is read for `manifests/*/*/application-*.yaml` of kind
Application, and a file counts on the branch its `spec.source.targetRevision` names: a
promotion branch carries dev's files, which name `dev`, and deploys nothing. The
source is the project whose path `spec.source.repoURL` names
(`https://gitlab.example.com/platform/k8s-deployments.git` is `platform/k8s-deployments`,
whatever the host: the render writes the real GitLab's URL), at that branch.

The clock. Argo CD starts with the sandbox and has deployed each branch as it was
then. It is told of every push, as GitLab's push webhook to Argo CD's `/api/webhook`
tells it, and compares at once: `status.sync.revision` is the new head. If the app's
folder (`spec.source.path`) did not change, the app is Synced there and nothing runs;
else it is OutOfSync and automated sync starts an operation at the push, Running for
`sync_delay` seconds, then Succeeded (the head deployed, `history` appended) or, under
a `sync_failed` fault, Failed: then automated sync does not retry that commit (Argo CD
syncs once per commit: user-guide/auto_sync.md), a manual sync does. A newer push while
an operation runs is synced after it. Health is Healthy (Missing before a first
deployment) unless a fault says otherwise (argocd_faults.py).

Kept in memory, as Argo CD keeps it in the cluster: a restarted sandbox starts again
with each Application deployed at its branch head.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from gitops_sandbox import gitrepo
from gitops_sandbox.argocd_faults import ArgoFaults
from gitops_sandbox.context import Services

APP_FILE = re.compile(r"^manifests/[^/]+/[^/]+/application-[^/]+\.ya?ml$")
HISTORY_LIMIT = 10  # spec.revisionHistoryLimit's default (types.go)
FAILED_MESSAGE = "one or more objects failed to apply, reason: sandbox fault (sync_failed)"


@dataclass
class Operation:
    """A sync operation (types.go: Operation and OperationState)."""

    revision: str
    started: float
    initiated_by: dict[str, Any]
    prune: bool = False
    dry_run: bool = False
    phase: str = "Running"
    message: str = "one or more tasks are running"  # gitops-engine's sync_context.go
    finished: float | None = None


@dataclass
class Found:
    """An Application manifest, where it was found, and the project its source names."""

    manifest: dict[str, Any]
    repo: Path | None  # the source project's repository (None: repoURL names none)
    project_id: int | None
    head: str | None  # the source branch's head


@dataclass
class AppRecord:
    """What the controller knows of one Application."""

    name: str
    created: float
    found: Found
    deployed: str | None  # the revision of the last successful sync
    deployed_tree: str | None  # its `spec.source.path` tree
    compared: str | None = None  # status.sync.revision
    compared_tree: str | None = None
    operation: Operation | None = None
    failed_revision: str | None = None  # automated sync does not retry it
    history: list[dict[str, Any]] = field(default_factory=list)
    next_history_id: int = 0

    @property
    def source(self) -> dict[str, Any]:
        """spec.source."""
        return dict(self.found.manifest.get("spec", {}).get("source") or {})

    @property
    def automated(self) -> bool:
        """Whether spec.syncPolicy.automated is set."""
        policy = self.found.manifest.get("spec", {}).get("syncPolicy") or {}
        return policy.get("automated") is not None


class ArgoCD:
    """The Applications of every project's branches and their sync clock."""

    def __init__(self, sync_delay: float = 0.3) -> None:
        self.sync_delay = sync_delay
        self.faults = ArgoFaults()
        self.started = time.time()
        self._lock = threading.RLock()
        self._pushes: dict[tuple[int, str], list[tuple[str, str, float]]] = {}
        self._apps: dict[str, AppRecord] = {}
        self._files: dict[tuple[Path, str], list[str]] = {}
        self._trees: dict[tuple[Path, str, str], str | None] = {}

    # ---- what GitLab tells it ----------------------------------------------------------

    def observe_push(self, project_id: int, branch: str, before: str, after: str) -> None:
        """A branch moved (GitLab's push event, as Argo CD's webhook receives it)."""
        with self._lock:
            self._pushes.setdefault((project_id, branch), []).append((before, after, time.time()))

    # ---- reading -------------------------------------------------------------------------

    def applications(self, svc: Services) -> list[AppRecord]:
        """Every Application now, sorted by name, each brought up to date."""
        now = time.time()
        with self._lock:
            found = self._discover(svc)
            for gone in set(self._apps) - set(found):
                del self._apps[gone]
            for name, what in found.items():
                rec = self._apps.get(name) or self._first_sight(name, what)
                rec.found = what
                self._apps[name] = rec
                self._advance(rec, now)
            return [self._apps[n] for n in sorted(self._apps)]

    def application(self, svc: Services, name: str) -> AppRecord | None:
        """One Application by name, brought up to date, or None."""
        return next((a for a in self.applications(svc) if a.name == name), None)

    def uid(self, name: str) -> str:
        """A stable metadata.uid for an Application name."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"argocd-sandbox/{name}"))

    # ---- syncing -------------------------------------------------------------------------

    def start_sync(
        self, rec: AppRecord, revision: str, username: str, *, prune: bool, dry_run: bool
    ) -> None:
        """A manual sync of `rec` to `revision` (a resolved commit), starting now."""
        with self._lock:
            rec.failed_revision = None
            rec.operation = Operation(
                revision, time.time(), {"username": username}, prune=prune, dry_run=dry_run
            )

    def resolve(self, rec: AppRecord, revision: str) -> str | None:
        """The commit `revision` names in the source repository, or None."""
        if rec.found.repo is None:
            return None
        return gitrepo.resolve(rec.found.repo, revision)

    def running(self, rec: AppRecord) -> bool:
        """Whether an operation is in progress."""
        return rec.operation is not None and rec.operation.phase == "Running"

    # ---- the controller --------------------------------------------------------------------

    def _advance(self, rec: AppRecord, now: float) -> None:
        """Apply what happened up to `now`: finished operations, refreshes, automated syncs."""
        head = rec.found.head
        if rec.compared != head:
            rec.compared, rec.compared_tree = head, self._tree(rec, head)
        while True:
            op = rec.operation
            if op is not None and op.phase == "Running" and now >= op.started + self.sync_delay:
                self._finish(rec, op)
                continue
            if self._wants_auto_sync(rec) and head is not None:
                after = op.finished if op is not None and op.finished is not None else 0.0
                begin = max(self._pushed_at(rec, head), after)
                rec.operation = Operation(head, begin, {"automated": True})
                continue
            return

    def _wants_auto_sync(self, rec: AppRecord) -> bool:
        return (
            rec.automated
            and not self.running(rec)
            and rec.compared is not None
            and rec.compared_tree != rec.deployed_tree
            and rec.failed_revision != rec.compared
        )

    def _finish(self, rec: AppRecord, op: Operation) -> None:
        """End a running operation when its time is up: Succeeded, or Failed under a fault."""
        op.finished = op.started + self.sync_delay
        if self.faults.sync_fails(rec.name, op.finished):
            op.phase, op.message = "Failed", FAILED_MESSAGE
            rec.failed_revision = op.revision
            return
        op.phase, op.message = "Succeeded", "successfully synced (all tasks run)"
        if op.dry_run:
            return
        rec.deployed, rec.deployed_tree = op.revision, self._tree(rec, op.revision)
        self._remember(rec, op.revision, op.finished, op.started, op.initiated_by)

    def _remember(
        self, rec: AppRecord, revision: str, at: float, began: float, by: dict[str, Any]
    ) -> None:
        """Append to status.history (RevisionHistory), keeping the newest HISTORY_LIMIT."""
        rec.history.append(
            {
                "revision": revision,
                "deployedAt": at,
                "deployStartedAt": began,
                "id": rec.next_history_id,
                "source": rec.source,
                "initiatedBy": by,
            }
        )
        rec.next_history_id += 1
        del rec.history[:-HISTORY_LIMIT]

    def _first_sight(self, name: str, found: Found) -> AppRecord:
        """An Application seen the first time: deployed as its branch was at the start."""
        now = time.time()
        rec = AppRecord(name, now, found, None, None)
        start = self._revision_at_start(found)
        tree = None if start is None else self._tree(rec, start)
        if start is not None and tree is not None:
            rec.deployed, rec.deployed_tree = start, tree
            rec.compared, rec.compared_tree = start, tree
            op = Operation(start, self.started, {"automated": True})
            self._finish(rec, op)
            rec.operation = op
        return rec

    def _revision_at_start(self, found: Found) -> str | None:
        """The source branch's head when the sandbox started: before its first push since."""
        branch = str(found.manifest["spec"]["source"].get("targetRevision") or "")
        pushes = self._pushes.get((found.project_id or 0, branch))
        if not pushes:
            return found.head
        before = pushes[0][0]
        return None if before == gitrepo.ZERO_SHA else before

    def _pushed_at(self, rec: AppRecord, sha: str) -> float:
        """When a push made `sha` the source branch's head (now if none is known)."""
        branch = str(rec.source.get("targetRevision") or "")
        for _, after, at in reversed(self._pushes.get((rec.found.project_id or 0, branch), [])):
            if after == sha:
                return at
        return time.time()

    # ---- git -----------------------------------------------------------------------------

    def _tree(self, rec: AppRecord, sha: str | None) -> str | None:
        """The tree id of the app's `spec.source.path` at `sha` (None: absent)."""
        repo, path = rec.found.repo, str(rec.source.get("path") or "").strip("/")
        if repo is None or sha is None:
            return None
        key = (repo, sha, path)
        if key not in self._trees:
            spec = f"{sha}:{path}" if path else f"{sha}^{{tree}}"
            done = gitrepo.git(repo, "rev-parse", "--verify", "--quiet", spec, ok_codes=(0, 1, 128))
            self._trees[key] = done.stdout.decode().strip() if done.returncode == 0 else None
        return self._trees[key]

    def _discover(self, svc: Services) -> dict[str, Found]:
        """Every Application manifest on the branch it names, by metadata.name."""
        with svc.state.read() as data:
            recs = [dict(r) for r in sorted(data["projects"].values(), key=lambda r: r["id"])]
        heads = {r["id"]: gitrepo.branches(svc.repo_path(r)) for r in recs}
        by_path = {r["path_with_namespace"].lower(): r for r in recs}
        found: dict[str, Found] = {}
        for rec in recs:
            repo = svc.repo_path(rec)
            for branch, head in sorted(heads[rec["id"]].items()):
                for manifest in self._manifests(repo, head):
                    source = manifest["spec"]["source"]
                    name = manifest["metadata"]["name"]
                    if source.get("targetRevision") != branch or name in found:
                        continue
                    target = by_path.get(repo_path_of(str(source.get("repoURL") or "")))
                    found[name] = Found(
                        manifest,
                        None if target is None else svc.repo_path(target),
                        None if target is None else target["id"],
                        None if target is None else heads[target["id"]].get(branch),
                    )
        return found

    def _manifests(self, repo: Path, head: str) -> Iterator[dict[str, Any]]:
        """The Application objects in a commit's `manifests/*/*/application-*.yaml`."""
        key = (repo, head)
        if key not in self._files:
            listing = gitrepo.out(
                repo, "ls-tree", "-r", "-z", "--name-only", head, "--", "manifests"
            )
            self._files[key] = [p for p in listing.split("\0") if APP_FILE.match(p)]
        for path in self._files[key]:
            manifest = self._manifest(repo, head, path)
            if manifest is not None:
                yield manifest

    def _manifest(self, repo: Path, head: str, path: str) -> dict[str, Any] | None:
        """One file's Application, or None (not YAML, another kind, no name or source)."""
        read = gitrepo.read_file(repo, head, path)
        try:
            obj = yaml.safe_load(read[0]) if read else None
        except yaml.YAMLError:
            return None
        if not isinstance(obj, dict) or obj.get("kind") != "Application":
            return None
        name = (obj.get("metadata") or {}).get("name")
        source = (obj.get("spec") or {}).get("source")
        return obj if isinstance(name, str) and isinstance(source, dict) else None


def repo_path_of(url: str) -> str:
    """The project path a git URL names: `https://host/g/p.git` and `git@host:g/p.git`."""
    path = urlparse(url).path if "://" in url else url.partition(":")[2]
    return path.strip("/").removesuffix(".git").lower()
