"""Coordinated releases: a named group of apps that moves as one unit (F4).

A group starts with `promote --group NAME` (an app's build and the versions of the
apps it needs, in one MR to the first environment). Its MRs carry the label
`group::NAME` and a trailer with `unit: group`; the cascade promotes the group as
one unit. While a group's MR into an environment is open, promotions of its
members one by one into that environment are held back: no environment ever
renders one member without the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jenkins_helpers.errors import BadInput
from jenkins_helpers.promotion import trust
from jenkins_helpers.promotion.model import Outcome
from jenkins_helpers.promotion.target import DeploymentProject

LABEL_PREFIX = "group::"


def label(group: str) -> str:
    """The label every MR of the group carries."""
    return f"{LABEL_PREFIX}{group}"


def members(deployment: DeploymentProject, group: str, source: str) -> tuple[str, ...]:
    """The apps of `group`, from its newest MR into the environment `source`."""
    branch = deployment.settings.environment(source).branch
    gl, path = deployment.gl, deployment.project.path
    for state in ("opened", "merged"):
        for mr in gl.merge_requests(
            path, labels=(label(group),), target_branch=branch, state=state, newest=20
        ):
            trailer = trust.own_trailer(deployment, mr)
            if trailer is not None and trailer.group == group and trailer.apps:
                return tuple(sorted(trailer.apps))
    raise BadInput(
        f"no group {group} in {source}: no merge request of it targets {branch}",
        "start a group with `gitops-helper promote --group NAME ... --with APP=TAG`",
    )


def in_flight(deployment: DeploymentProject, target_branch: str) -> dict[str, str]:
    """Apps held back from promotion into `target_branch`: members of an open group MR
    there, each with the reason."""
    gl, path = deployment.gl, deployment.project.path
    held: dict[str, str] = {}
    for mr in gl.merge_requests(path, labels=("promotion",), target_branch=target_branch):
        if not any(lbl.startswith(LABEL_PREFIX) for lbl in mr.labels):
            continue
        trailer = trust.own_trailer(deployment, mr)
        if trailer is not None and trailer.unit == "group":
            for app in trailer.apps:
                held[app] = f"held back: part of group {trailer.group} in flight (!{mr.iid})"
    return held


def supersede(
    deployment: DeploymentProject,
    outcome: Outcome,
    target_branch: str,
    group: str,
    apps: Sequence[str],
) -> Outcome:
    """After a group's MR is published into `target_branch`: close its members' own open
    promotions there (supersede_members), adding them to the outcome's `superseded`.
    Nothing without an MR, nor in a dry run."""
    if outcome.mr_iid is None or outcome.dry_run:
        return outcome
    closed = supersede_members(deployment, target_branch, group, outcome.mr_iid, apps)
    return replace(outcome, superseded=(*outcome.superseded, *closed))


def supersede_members(
    deployment: DeploymentProject,
    target_branch: str,
    group: str,
    group_iid: int,
    apps: Sequence[str],
) -> list[int]:
    """Close the members' own open promotions into `target_branch`: merged after the group,
    one would change a member alone. Returns their iids."""
    gl, path = deployment.gl, deployment.project.path
    closed = []
    for app in apps:
        for mr in gl.merge_requests(
            path, labels=("promotion", f"app::{app}"), target_branch=target_branch
        ):
            if mr.iid != group_iid and label(group) not in mr.labels:
                note = f"Superseded by !{group_iid}: {app} moves with the release group {group}."
                gl.close_merge_request(path, mr.iid, note)
                closed.append(mr.iid)
    return closed
