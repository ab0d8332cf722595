"""`gitops-helper onboard`: a new app's Jenkins job, push hook and environment entries."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.onboard import OnboardResult, onboard

run = onboard


def show(r: OnboardResult, out: Printer) -> None:
    """The Jenkins side, then one line per branch's MR."""
    would = "would be " if r.dry_run else ""
    if r.jenkins_job is not None:
        out(f"Jenkins job {r.jenkins_job}: {would}{r.job}")
        out(f"push hook on {r.repo} -> {r.hook_url}: {would}{r.hook}")
    for reg in r.registrations:
        if reg.status == "noop":
            out(f"{reg.branch}: already registered" + (f" (!{reg.mr_iid})" if reg.mr_iid else ""))
        elif r.dry_run:
            out(
                f"{reg.branch}: would {reg.status.removesuffix('d')} a merge request adding "
                + ", ".join(reg.added)
            )
        else:
            out(
                f"{reg.branch}: {reg.status} merge request !{reg.mr_iid} adding "
                f"{', '.join(reg.added)}\n  {reg.mr_url}"
            )
    for warning in r.warnings:
        out(f"warning: {warning}", err=True)
