"""Names of promotion MRs: source branch, title, labels and notes (docs/PROMOTION.md).

People search and filter by these and the tool finds its own MRs by them, so they
are stable: one deterministic branch per unit and target, so that a newer version
updates the open MR in place instead of opening a second one.
"""

from __future__ import annotations


def source_branch(env: str, app: str) -> str:
    """The one branch promoting `app` to `env`: a newer version reuses (and updates) it."""
    return f"promote/{env}/{app}"


def title(app: str, tag: str, env: str) -> str:
    """`Promote <app> <tag> to <env>`: what moves where, readable in a list of MRs."""
    return f"Promote {app} {tag} to {env}"


def identity_labels(app: str, env: str) -> tuple[str, ...]:
    """The labels that identify 'promotion of `app` to `env`' (for finding superseded MRs)."""
    return ("promotion", f"app::{app}", f"env::{env}")


def labels(app: str, env: str) -> tuple[str, ...]:
    """Every label of the MR: the tool's own `gitops`, then the identity labels."""
    return ("gitops", *identity_labels(app, env))


def superseded_note(iid: int) -> str:
    """The note on an MR closed because `!iid` now promotes the same unit."""
    return f"Superseded by !{iid}"
