"""`gitops-helper decommission`: remove an app everywhere, one branch at a time."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.decommission import DecommissionResult, decommission

run = decommission


def show(r: DecommissionResult, out: Printer) -> None:
    """The open removal MR and what still holds the app; or the Jenkins clean-up."""
    if r.step == "remove":
        where = f"removing {r.app} from {r.branch}"
        if r.dry_run:
            out(f"dry run: would {(r.status or 'noop').removesuffix('d')} the MR {where}")
        elif r.status == "noop":
            out(f"waiting: !{r.mr_iid} is {where}; merge it to go on\n  {r.mr_url}")
        else:
            out(f"{r.status} merge request !{r.mr_iid}: {where}\n  {r.mr_url}")
        out(f"  still holding it, in order: {', '.join(r.remaining)}")
        for iid in r.closed:
            out(f"  closed !{iid}: it would bring {r.app} back")
        return
    out(f"{r.app} is in no branch of {r.project}")
    if r.app_repo:
        verb = "would delete" if r.dry_run else "deleted"
        out(f"  push hooks on {r.app_repo}: {verb} {r.hooks_deleted}")
    out(f"  Jenkins job {r.app}: {r.jenkins_job}")
    if r.step == "done":
        out(f"{r.app} is decommissioned")
    elif not r.dry_run:
        out("  set JENKINS_URL, JENKINS_USER and JENKINS_TOKEN and rerun to finish", err=True)
