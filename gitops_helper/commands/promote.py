"""`gitops-helper promote`: an app's new build as an MR to the first environment."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.from_build import BuildPromotion, promote_build

run = promote_build


def show(r: BuildPromotion, out: Printer) -> None:
    """What happened, the branch, the changed files, superseded MRs, warnings."""
    out(_headline(r))
    if r.branch:
        out(f"  branch {r.branch} -> {r.env} of {r.project}")
    if r.changes and (r.status != "noop" or r.dry_run):
        out(f"  {len(r.changes)} file(s) changed:")
        for c in r.changes:
            out(f"    {c.status:<8} {c.path} (+{c.added} -{c.removed})")
    for iid in r.superseded:
        out(f"  {'would close' if r.dry_run else 'closed'} merge request !{iid}")
    for warning in r.warnings:  # each starts with its severity
        out(warning, err=True)
    if r.dry_run and r.app_layer_diff:
        out("\napp layer diff:\n" + r.app_layer_diff.rstrip())


def _headline(r: BuildPromotion) -> str:
    what = f"{r.app} {r.tag} to {r.env}"
    mr = f"merge request !{r.mr_iid}" if r.mr_iid else "a merge request"
    if r.status == "superseded":
        return f"superseded: {r.tag} changes nothing; {mr} proposes another {r.app}\n  {r.mr_url}"
    if r.status == "noop":
        if r.mr_iid is None:
            return f"noop: {r.env} already runs {r.app} {r.tag}; nothing to promote"
        return f"noop: {mr} already promotes {what}\n  {r.mr_url}"
    if r.dry_run:
        return f"dry run: would {r.status.removesuffix('d')} {mr} to promote {what}"
    return f"{r.status} {mr}: promote {what}\n  {r.mr_url}"
