"""Keep open promotion MRs true: after a merge into an environment, re-apply the others.

An open MR's branch was made from its target's head at the time. When something
else merges into that target, the MR's diff would show the other change reverted
and it could conflict. So every open MR the tool owns there is regenerated on the
new head, from what its trailer says it carries: a build's MR from its own branch
(its app layer and image), an environment's MR from that environment as it is now
(a newer version there updates the MR: the pending promotion is never duplicated).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jenkins_helpers import git
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.forge import MergeRequest
from jenkins_helpers.operations.between_envs import Selection, promote_between
from jenkins_helpers.promotion import proposal, sources, trust
from jenkins_helpers.promotion.model import Outcome
from jenkins_helpers.promotion.plan import apply_versions
from jenkins_helpers.promotion.publish import publish
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer

TOOL_LABELS = ("gitops", "promotion")


@dataclass(frozen=True, kw_only=True)
class Refreshed(Outcome):
    """What happened to one open MR: regenerated (`created`, `updated`, `noop`), `blocked`,
    `closed` (its target already has what it carries, or runs newer) or `skipped` (no
    trailer that counts, or its branch lacks an app's image)."""

    mr_iid: int  # always the MR refreshed
    reason: str | None = None


def refresh_open(deployment: DeploymentProject, env: Environment) -> list[Refreshed]:
    """Regenerate every open tool MR into `env` on `env`'s current head."""
    gl, path = deployment.gl, deployment.project.path
    results = []
    for mr in gl.merge_requests(path, labels=TOOL_LABELS, target_branch=env.branch):
        trailer, ignored = trust.read_proposal(deployment, mr)
        if trailer is None:
            reason = ignored or "no trailer: not the tool's MR"
            results.append(Refreshed(status="skipped", mr_iid=mr.iid, reason=reason))
            continue
        try:
            results.append(_refresh(deployment, env, mr, trailer))
        except UserError as e:
            results.append(Refreshed(status="blocked", mr_iid=mr.iid, reason=e.message))
    return results


def _refresh(
    deployment: DeploymentProject, env: Environment, mr: MergeRequest, trailer: Trailer
) -> Refreshed:
    if trailer.source_env is None and trailer.unit in ("app", "group"):
        return _refresh_build(deployment, env, mr, trailer)
    promoted = promote_between(
        deployment,
        trailer.source_env or deployment.settings.main_branch,
        env.name,
        Selection.from_trailer(trailer),
        skip_env=bool(trailer.skipped),
    )
    mine = [u for u in promoted.units if u.branch == mr.source_branch or u.mr_iid == mr.iid]
    if mine:
        unit = mine[0]
        return Refreshed.of(unit, mr_iid=mr.iid, reason=unit.reason)
    ours = set(trailer.apps) | {trailer.group or ""}
    back = [u for u in promoted.units if u.unit in ours and u.status == "noop" and u.reason]
    if back and back[0].reason:  # env runs a newer version now: the MR would take it back
        return _close(deployment, mr, back[0].reason)
    return _close_if_done(deployment, env, mr)


def _refresh_build(
    deployment: DeploymentProject, env: Environment, mr: MergeRequest, trailer: Trailer
) -> Refreshed:
    """A build's MR (or a group's, from a build): app layers and images from its branch."""
    with deployment.checkout(env.branch) as clone:
        commit = git.fetch_branch(clone.tree, mr.source_branch, clone.auth)
        versions = [sources.from_revision(clone.files, commit, app) for app in sorted(trailer.apps)]
        if any(v is None for v in versions):
            reason = f"{mr.source_branch} lacks an app's image"
            return Refreshed(status="skipped", mr_iid=mr.iid, reason=reason)
        plan = apply_versions(clone.tree, env, [v for v in versions if v is not None])
        if trailer.unit == "group" and trailer.group:
            change = proposal.group_change(plan, trailer, trailer.group, trailer.build_url)
        else:
            fresh = replace(trailer, app_layer_sha256=plan.apps[0].app_layer_sha256)
            lines = [f"App layer: {trailer.app_repo or '-'} at {trailer.app_commit or 'no commit'}"]
            change = proposal.app_change(plan, fresh, lines, trailer.build_url)
        if not change.files:
            return _close_if_done(deployment, env, mr)
        outcome = publish(clone, change)
    return Refreshed.of(outcome, mr_iid=mr.iid)


def _close_if_done(deployment: DeploymentProject, env: Environment, mr: MergeRequest) -> Refreshed:
    """The target already has what the MR carries: close it, saying so."""
    return _close(deployment, mr, f"{env.name} already has what this merge request carries")


def _close(deployment: DeploymentProject, mr: MergeRequest, reason: str) -> Refreshed:
    note = f"Closed by gitops-helper: {reason}."
    deployment.gl.close_merge_request(deployment.project.path, mr.iid, note)
    return Refreshed(status="closed", mr_iid=mr.iid, reason=reason)
