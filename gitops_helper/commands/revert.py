"""`gitops-helper revert`: undo an environment's merge by a [no-promote] MR."""

from __future__ import annotations

from gitops_helper.commands import Printer
from jenkins_helpers.operations.revert import RevertResult, revert

run = revert


def show(r: RevertResult, out: Printer) -> None:
    """The revert MR, and the downstream MRs closed."""
    what = f"merge {r.commit[:12]}" + (f" (!{r.reverted_mr})" if r.reverted_mr else "")
    if r.dry_run:
        out(f"dry run: would {r.status.removesuffix('d')} a revert of {what} in {r.env}")
    elif r.status == "noop":
        out(f"noop: !{r.mr_iid} already reverts {what} in {r.env}\n  {r.mr_url}")
    else:
        out(f"{r.status} merge request !{r.mr_iid}: revert {what} in {r.env}\n  {r.mr_url}")
    for iid in r.closed:
        out(f"  closed !{iid}: it carried the reverted change onwards")
