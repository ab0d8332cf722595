"""Argo CD's JSON for an Application (pkg/apis/application/v1alpha1/types.go; the
`v1alpha1Application` schema of assets/swagger.json), from the model in argocd.py.

Field names and enum values are Argo CD's: `status.sync` (SyncStatus: `status`
Synced | OutOfSync | Unknown, `revision`, `comparedTo`), `status.health`
(AppHealthStatus: `status` Healthy | Progressing | Degraded | Suspended | Missing |
Unknown, `message`), `status.operationState` (OperationState: `operation`, `phase`
Running | Succeeded | Failed | Error | Terminating, `message`, `syncResult.revision`,
`startedAt`, `finishedAt`), `status.history` (RevisionHistory: `id`, `revision`,
`deployedAt`, `deployStartedAt`, `source`, `initiatedBy`), `status.reconciledAt`;
times as metav1.Time writes them (RFC 3339, seconds, UTC). Fields left out are listed
under "Not emulated" in docs/SANDBOX.md (resources, summary, conditions but one).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from gitops_sandbox.argocd import AppRecord, ArgoCD, Operation


def iso(at: float) -> str:
    """A metav1.Time: `2024-05-01T12:00:00Z`."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def application(model: ArgoCD, rec: AppRecord, now: float) -> dict[str, Any]:
    """The Application as `GET /api/v1/applications/{name}` answers it."""
    manifest = copy.deepcopy(rec.found.manifest)
    meta = dict(manifest.get("metadata") or {})
    meta.setdefault("namespace", "argocd")
    meta.update(
        uid=model.uid(rec.name),
        creationTimestamp=iso(rec.created),
        generation=1,
    )
    body: dict[str, Any] = {
        "metadata": meta,
        "spec": manifest.get("spec") or {},
        "status": _status(model, rec, now),
    }
    if model.running(rec) and rec.operation is not None:
        body["operation"] = _operation(rec.operation)  # cleared when it completes
    return body


def _status(model: ArgoCD, rec: AppRecord, now: float) -> dict[str, Any]:
    spec = rec.found.manifest.get("spec") or {}
    status: dict[str, Any] = {
        "sync": {
            "status": _sync_code(model, rec, now),
            "comparedTo": {"source": rec.source, "destination": spec.get("destination") or {}},
            **({"revision": rec.compared} if rec.compared else {}),
        },
        "health": _health(model, rec, now),
        "history": [_history(h) for h in rec.history],
        "reconciledAt": iso(now),
        "sourceType": "Directory",
        "controllerNamespace": "argocd",
    }
    if not status["history"]:
        del status["history"]  # omitempty
    if rec.found.repo is None:
        status["conditions"] = [
            {
                "type": "ComparisonError",
                "message": f"repository not found: {rec.source.get('repoURL')}",
                "lastTransitionTime": iso(now),
            }
        ]
    if rec.operation is not None:
        status["operationState"] = _operation_state(rec, rec.operation)
    return status


def _sync_code(model: ArgoCD, rec: AppRecord, now: float) -> str:
    forced = model.faults.sync(rec.name, now)
    if forced is not None:
        return forced
    if rec.found.repo is None or rec.compared is None:
        return "Unknown"
    return "Synced" if rec.compared_tree == rec.deployed_tree else "OutOfSync"


def _health(model: ArgoCD, rec: AppRecord, now: float) -> dict[str, Any]:
    forced = model.faults.health(rec.name, now)
    if forced is not None:
        code, message = forced
        return {"status": code, **({"message": message} if message else {})}
    if rec.found.repo is None:
        return {"status": "Unknown"}
    return {"status": "Healthy" if rec.deployed_tree is not None else "Missing"}


def _operation(op: Operation) -> dict[str, Any]:
    sync: dict[str, Any] = {"revision": op.revision}
    if op.prune:
        sync["prune"] = True
    if op.dry_run:
        sync["dryRun"] = True
    return {"sync": sync, "initiatedBy": dict(op.initiated_by), "retry": {}}


def _operation_state(rec: AppRecord, op: Operation) -> dict[str, Any]:
    state: dict[str, Any] = {
        "operation": _operation(op),
        "phase": op.phase,
        "message": op.message,
        "syncResult": {"revision": op.revision, "source": rec.source},
        "startedAt": iso(op.started),
    }
    if op.finished is not None:
        state["finishedAt"] = iso(op.finished)
    return state


def _history(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **entry,
        "deployedAt": iso(entry["deployedAt"]),
        "deployStartedAt": iso(entry["deployStartedAt"]),
    }
