"""The cascade: what follows a merged MR (the webhook's job, and `reconcile`'s).

Merged into an environment that is not the last: promote the units the MR carried
to the next environment (from its trailer when trust.py trusts it; else from what
the merge changed: app layers, images, the platform layer; env-only settings
never move).
Merged into main, touching the platform layer or app layers: the same files to
the first environment, as one sync MR. `[no-promote]`, a `no-promote` label or a
revert stop it. After any merge into an environment, the tool's other open MRs
there are regenerated on the new head (refresh.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.jenkins import JenkinsAccess
from jenkins_helpers.operations.between_envs import EnvPromotion, Selection, promote_between
from jenkins_helpers.operations.decommission import DecommissionResult, advance
from jenkins_helpers.operations.refresh import Refreshed, refresh_open
from jenkins_helpers.promotion import merges, naming, trust
from jenkins_helpers.promotion.target import DeploymentProject

log = logging.getLogger(__name__)

# Runs one promotion: in this process, or handed to Jenkins (the webhook's executors).
Promote = Callable[[DeploymentProject, str, str, Selection], EnvPromotion]


@dataclass(frozen=True)
class Merged:
    """A merged MR of the deployment project, as the cascade needs it."""

    iid: int
    title: str
    description: str
    labels: tuple[str, ...]
    target_branch: str
    merge_commit: str | None  # what the merge put on the target: forge.MergeRequest.merged_commit
    merged_at: str | None = None
    author_id: int | None = None  # who opened it: trailers count only from our own user


@dataclass(frozen=True)
class Step:
    """The promotion a merge calls for: from where to where, which units."""

    source: str  # an environment's name, or the main branch
    target: str  # an environment's name
    selection: Selection
    ignored_trailer: str | None = None  # why the MR's trailer was not trusted


@dataclass
class Cascade:
    """What a merge led to."""

    merged_into: str
    stopped: str | None = None  # why nothing was promoted
    step: Step | None = None
    promotion: EnvPromotion | None = None
    refreshed: list[Refreshed] = field(default_factory=list)
    decommission: DecommissionResult | None = None
    ignored_trailer: str | None = None  # why the MR's trailer was not trusted (trust.py)


def next_step(deployment: DeploymentProject, merged: Merged) -> Step | str:
    """The promotion `merged` calls for, or why there is none."""
    settings = deployment.settings
    reason = naming.no_promote_reason(merged.title, merged.description, merged.labels)
    if reason:
        return f"not promoted: {reason}"
    env = _env_of(deployment, merged.target_branch)
    if merged.target_branch == settings.main_branch:
        selection = _main_units(deployment, merged)
        if not selection.apps and not selection.platform:
            return "not promoted: the merge into main touched no platform or app layer"
        return Step(settings.main_branch, settings.environments[0].name, selection)
    if env is None:
        return f"not promoted: {merged.target_branch} is not an environment branch"
    names = settings.names
    if names.index(env.name) == len(names) - 1:
        return f"not promoted: {env.name} is the last environment"
    selection, ignored = _carried(deployment, merged, env)
    if not selection.apps and not selection.platform:
        return "not promoted: the merge changed no app layer, image or platform layer"
    return Step(env.name, names[names.index(env.name) + 1], selection, ignored)


def cascade(
    deployment: DeploymentProject,
    merged: Merged,
    promote: Promote = promote_between,
    jenkins: JenkinsAccess | None = None,
) -> Cascade:
    """Refresh the open MRs of the merge's environment, then promote what it calls for;
    after a decommission step, take the next one (`jenkins`: to delete the app's job)."""
    env = _env_of(deployment, merged.target_branch)
    result = Cascade(env.name if env else merged.target_branch)
    if env is not None:
        result.refreshed = refresh_open(deployment, env)
    trailer, result.ignored_trailer = trust.read_own(deployment, merged)
    if trailer is not None and trailer.unit == "decommission" and trailer.app:
        if trust.removed(deployment, trailer.app, merged.target_branch, merged.merge_commit):
            result.stopped = f"decommissioning {trailer.app}: not promoted"
            result.decommission = advance(deployment, trailer.app, trailer.app_repo, jenkins)
            return result
        result.ignored_trailer = (
            f"a decommission of {trailer.app} whose merge left it in {merged.target_branch}"
        )
    step = next_step(deployment, merged)
    if isinstance(step, str):
        result.stopped = step
    else:
        result.step = step
        result.ignored_trailer = result.ignored_trailer or step.ignored_trailer
        result.promotion = promote(deployment, step.source, step.target, step.selection)
    if result.ignored_trailer:
        log.warning("!%d: promotion trailer ignored: %s", merged.iid, result.ignored_trailer)
    return result


def _env_of(deployment: DeploymentProject, branch: str) -> Environment | None:
    return next((e for e in deployment.settings.environments if e.branch == branch), None)


def _carried(
    deployment: DeploymentProject, merged: Merged, env: Environment
) -> tuple[Selection, str | None]:
    """The units the MR carried: its trailer's if trusted, else what the merge changed;
    and why a trailer was not trusted."""
    changed = functools.cache(lambda: _changed_units(deployment, merged, env))
    verdict = trust.judge_merge(
        deployment,
        merged,
        merged.merge_commit,
        lambda: (set(changed().apps or ()), bool(changed().platform)),
    )
    if verdict.trailer is not None:
        return Selection.from_trailer(verdict.trailer), None
    return changed(), verdict.ignored


def _changed_units(deployment: DeploymentProject, merged: Merged, env: Environment) -> Selection:
    """Apps whose layer or image the merge changed, and whether the platform layer changed."""
    apps, platform = merges.changed(deployment, merged.iid, merged.merge_commit)
    return Selection(tuple(sorted(apps)), platform)


def _main_units(deployment: DeploymentProject, merged: Merged) -> Selection:
    paths = deployment.gl.merge_request_paths(deployment.project.path, merged.iid)
    apps = sorted(a for p in paths if (a := merges.app_of(p)))
    return Selection(tuple(apps), any(layout.is_platform_path(p) for p in paths))
