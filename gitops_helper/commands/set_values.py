"""`gitops-helper set`: an app's image or env values in one environment, by MR."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.edits import EditResult, set_values

run = set_values


def show(r: EditResult, out: Printer) -> None:
    """The MR (or the plan), then each value before and after."""
    where = f"{r.app} in {r.env}"
    if r.status == "noop":
        out(f"noop: {where} already has this" + (f" (!{r.mr_iid} {r.mr_url})" if r.mr_iid else ""))
    elif r.dry_run:
        out(
            f"dry run: would {r.status.removesuffix('d')} a merge request on {r.branch} for {where}"
        )
    else:
        out(f"{r.status} merge request !{r.mr_iid}: {where}\n  {r.mr_url}")
    for s in r.settings:
        out(f"  {s['path']}: {s['before']!r} -> {s['after']!r}")
    out("  merging it promotes the new image onwards" if r.promotes else "  [no-promote]")
    for warning in r.warnings:
        out(warning, err=True)
