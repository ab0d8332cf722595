"""`gitops-helper promote-env`: what one environment has and the next lacks, one MR per unit."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.between_envs import EnvPromotion, UnitResult, promote_env

run = promote_env


def show(r: EnvPromotion, out: Printer) -> None:
    """One line per unit: its MR (or why none), then the files of new and updated ones."""
    skipped = f", skipping {', '.join(r.skipped)}" if r.skipped else ""
    head = "dry run: " if r.dry_run else ""
    out(f"{head}{r.source} ({r.source_commit[:12]}) -> {r.target}{skipped}: {len(r.units)} unit(s)")
    if not r.units:
        out(f"  nothing to promote: {r.target} has everything {r.source} has")
    for unit in r.units:
        out("  " + _line(unit, r.dry_run))
        if unit.status in ("created", "updated") and (r.dry_run or unit.changes):
            for c in unit.changes:
                out(f"      {c.status:<8} {c.path} (+{c.added} -{c.removed})")
        for iid in unit.superseded:
            out(f"      {'would close' if r.dry_run else 'closed'} merge request !{iid}")
        for warning in unit.warnings:
            out(f"      {warning}", err=True)


def _line(u: UnitResult, dry_run: bool) -> str:
    what = f"{u.unit} {u.tag}" if u.tag else u.unit
    if u.status == "blocked":
        return f"{what}: blocked, no merge request: {u.reason}"
    if u.status == "noop":
        return f"{what}: noop" + (f", merge request !{u.mr_iid} {u.mr_url}" if u.mr_iid else "")
    if dry_run:
        return f"{what}: would {u.status.removesuffix('d')} a merge request on {u.branch}"
    return f"{what}: {u.status} merge request !{u.mr_iid} {u.mr_url}"
