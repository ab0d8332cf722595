"""`gitops-helper reconcile`: run the cascades that missed webhook deliveries left undone."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_helper.commands import Printer
from jenkins_helpers import gitlab, inputs
from jenkins_helpers.operations import health_gate
from jenkins_helpers.operations.between_envs import EnvPromotion, promote_between
from jenkins_helpers.operations.cascade import cascade
from jenkins_helpers.operations.reconcile import missed
from jenkins_helpers.promotion import target


@dataclass(frozen=True)
class Missed:
    """One merge whose promotion was missing, and what was done about it."""

    mr_iid: int
    merged_into: str
    source: str
    target: str
    apps: list[str]
    platform: bool
    promotion: EnvPromotion | None = None  # None in a dry run, or held
    held: str | None = None  # why Argo CD's gate holds it (docs/ARGOCD.md)


@dataclass(frozen=True)
class Reconciled:
    project: str
    dry_run: bool
    missed: list[Missed] = field(default_factory=list)


def run(project: str, gitlab_url: str | None, dry_run: bool) -> Reconciled:
    """Find merges without their downstream promotion; unless `dry_run`, promote them,
    through the Argo CD gate as the webhook does (gitops.yaml's `argocd:`)."""
    project = inputs.project_path(project)
    access = gitlab.access_from_environment(gitlab_url)
    promote = health_gate.gated(promote_between, health_gate.connect)
    found = []
    with target.connect(project, access) as deployment:
        for merged, step in missed(deployment):
            done, held = None, None
            if not dry_run:
                try:
                    done = cascade(deployment, merged, promote).promotion
                except health_gate.GateClosed as closed:
                    held = closed.verdict.reason
            found.append(
                Missed(
                    merged.iid,
                    merged.target_branch,
                    step.source,
                    step.target,
                    list(step.selection.apps or ()),
                    bool(step.selection.platform),
                    done,
                    held,
                )
            )
    return Reconciled(project, dry_run, found)


def show(r: Reconciled, out: Printer) -> None:
    """One line per missed merge, and what its promotion did."""
    if not r.missed:
        out(f"{r.project}: nothing missed; every merge has its promotion downstream")
    for m in r.missed:
        units = ", ".join([*m.apps, *(["platform"] if m.platform else [])])
        verb = "would promote" if r.dry_run else "held" if m.held else "promoted"
        out(f"!{m.mr_iid} into {m.merged_into}: {verb} {units} from {m.source} to {m.target}")
        if m.held:
            out(f"  Argo CD: {m.held}")
        for unit in m.promotion.units if m.promotion else []:
            mr = f" !{unit.mr_iid} {unit.mr_url}" if unit.mr_iid else ""
            out(f"  {unit.unit}: {unit.status}{mr}" + (f" ({unit.reason})" if unit.reason else ""))
