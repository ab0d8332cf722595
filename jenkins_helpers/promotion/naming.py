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


# --- the platform layer, and main's changes on their way to the first environment -------
# Branch names of app units are `promote/<env>/<app>`; app names never start with `_`,
# so these cannot collide with an app's.


def platform_branch(env: str) -> str:
    """The one branch promoting the platform layer to `env`."""
    return f"promote/{env}/_platform"


def platform_title(env: str, source: str) -> str:
    """`Promote the platform layer from <source> to <env>`."""
    return f"Promote the platform layer from {source} to {env}"


def sync_branch(env: str) -> str:
    """The one branch carrying main's platform and app layers to the first environment."""
    return f"promote/{env}/_main"


def sync_title(env: str, main: str) -> str:
    """`Sync <main> to <env>: platform and app layers`."""
    return f"Sync {main} to {env}: platform and app layers"


def group_branch(env: str, group: str) -> str:
    """The one branch promoting a release group to `env`."""
    return f"promote/{env}/_group-{group}"


def group_title(group: str, apps: dict[str, str], env: str) -> str:
    """`Promote release-2.0 to prod: example-app 2.0.0, postgres 17-alpine`."""
    members = ", ".join(f"{app} {tag}" for app, tag in sorted(apps.items()))
    return f"Promote {group} to {env}: {members}"


def group_labels(group: str, apps: list[str], env: str) -> tuple[str, ...]:
    """The group's identity label, and each member's (so per-app filters find it too)."""
    return (
        "gitops",
        "promotion",
        f"group::{group}",
        *(f"app::{a}" for a in sorted(apps)),
        f"env::{env}",
    )


def unit_identity(unit: str, env: str) -> tuple[str, ...]:
    """The labels that identify a platform or sync unit's promotion to `env`."""
    return ("promotion", f"unit::{unit}", f"env::{env}")


def unit_labels(unit: str, env: str) -> tuple[str, ...]:
    """Every label of a platform or sync unit's MR."""
    return ("gitops", *unit_identity(unit, env))


# --- what stops the cascade -------------------------------------------------------------

NO_PROMOTE = "no-promote"
SKIP_ENV = "skip-env"  # the label of an MR that skips environments on its way
NO_PROMOTE_MARK = "[no-promote]"


def no_promote_reason(title: str, description: str, labels: tuple[str, ...]) -> str | None:
    """Why a merged MR must not be promoted further, or None when it should be.

    `[no-promote]` in the title or description, a `no-promote` label, or a revert
    (GitLab's and git's revert titles start with `Revert "`) stop the cascade.
    """
    if NO_PROMOTE_MARK in title or NO_PROMOTE_MARK in description:
        return f"{NO_PROMOTE_MARK} in the title or description"
    if NO_PROMOTE in labels:
        return f"the {NO_PROMOTE} label"
    if title.startswith(('Revert "', "Revert '")):
        return "a revert"
    return None
