"""The Argo CD gate: the next environment's MR opens once what merged runs healthy.

After a promotion merges into environment E, the webhook proposes E+1 only when each
promoted app's Application in E (`<env>-<app>`) is Synced at the commit the MR would
promote (E's branch head, at or after the merge commit) and Healthy: what reaches
the next MR is what runs in E. Until then the job waits; a Degraded app at that
commit, or no verdict within `argocd.timeout`, blocks it (docs/ARGOCD.md).

Not gated: gitops.yaml without `argocd:`, an environment turned off there, merges
into main (no Argo CD deploys main), merges that promote nothing (a hotfix, a
`[no-promote]` change: the cascade stops before it asks), and a promotion of the
platform layer alone (no one app's Application tells its health).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from jenkins_helpers import argocd
from jenkins_helpers.argocd import AppState, ArgoCD, application_name
from jenkins_helpers.deployrepo.settings import Settings
from jenkins_helpers.errors import UserError
from jenkins_helpers.http import seconds
from jenkins_helpers.operations.between_envs import EnvPromotion, Selection
from jenkins_helpers.operations.cascade import Promote
from jenkins_helpers.promotion.target import DeploymentProject

Outcome = Literal["proceed", "waiting", "degraded", "timeout"]
# Whether commit `descendant` is commit `ancestor` or has it in its history.
Ancestry = Callable[[str, str], bool]
# The Argo CD that gitops.yaml's `argocd:` names (the webhook's: argocd.client).
Connect = Callable[[Settings], ArgoCD]


@dataclass(frozen=True)
class AppCheck:
    """One promoted app's Application as the gate read it, and what it made of it."""

    app: str
    application: str
    ready: bool
    why: str  # "Synced, Healthy at 1a2b3c4d5e6f", "Progressing", "no Application"...
    state: AppState | None


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one merge, and the Applications it is based on."""

    outcome: Outcome
    reason: str
    checks: tuple[AppCheck, ...] = ()

    @property
    def open(self) -> bool:
        return self.outcome == "proceed"

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "apps": [
                {**asdict(c), "state": asdict(c.state) if c.state else None} for c in self.checks
            ],
        }


def applies(settings: Settings, source: str) -> str | None:
    """Why a promotion out of `source` (an environment or the main branch) is not gated,
    or None when it is."""
    if settings.argocd is None:
        return "no `argocd:` in gitops.yaml"
    if source == settings.main_branch or source not in settings.names:
        return f"{source} is not an environment Argo CD deploys"
    if not settings.argocd.gates(source):
        return f"`argocd.environments.{source}: false` in gitops.yaml"
    return None


def decide(
    argocd: ArgoCD,
    env: str,
    apps: Sequence[str],
    commit: str,
    ancestry: Ancestry,
    *,
    waited: float,
    timeout: float,
) -> Verdict:
    """The verdict for `apps` in `env`, which must run `commit` (or a descendant) healthy.

    Degraded at that commit blocks at once; anything else not yet ready waits, up to
    `timeout` seconds after the merge (`waited`: seconds so far). A release group's
    apps are all listed: it waits for every member.
    """
    if not apps:
        return Verdict("proceed", "no app promoted: nothing for Argo CD to report on")
    checks = tuple(_check(argocd, env, app, commit, ancestry) for app in apps)
    pending = [c for c in checks if not c.ready]
    if not pending:
        return Verdict("proceed", f"running in {env}: " + "; ".join(_named(checks)), checks)
    degraded = [c for c in pending if c.why.startswith("Degraded")]
    if degraded:
        return Verdict("degraded", f"Degraded in {env}: " + "; ".join(_named(degraded)), checks)
    if waited >= timeout:
        return Verdict(
            "timeout",
            f"not Synced and Healthy in {env} within {_duration(timeout)}: "
            + "; ".join(_named(pending)),
            checks,
        )
    return Verdict("waiting", f"waiting for {env}: " + "; ".join(_named(pending)), checks)


def _check(argocd: ArgoCD, env: str, app: str, commit: str, ancestry: Ancestry) -> AppCheck:
    name = application_name(env, app)
    state = argocd.application(name)
    if state is None:
        return AppCheck(app, name, False, "no Application in Argo CD yet", None)
    at = state.revision
    current = at is not None and ancestry(commit, at)
    where = f"at {at[:12]}" if at else "at no revision"
    if not current:
        older = f"{state.sync_status}, {where}, before {commit[:12]}"
        return AppCheck(app, name, False, older, state)
    if state.health == "Degraded":
        message = f": {state.health_message}" if state.health_message else ""
        return AppCheck(app, name, False, f"Degraded {where}{message}", state)
    ready = state.healthy_and_synced
    return AppCheck(app, name, ready, f"{state.sync_status}, {state.health} {where}", state)


def _named(checks: Sequence[AppCheck]) -> list[str]:
    return [f"{c.application} {c.why}" for c in checks]


def _duration(value: float) -> str:
    return f"{seconds(value / 60)} min" if value >= 60 else f"{seconds(value)} s"


class GateClosed(Exception):
    """A promotion not run (yet): what merged does not run healthy in its environment.
    `step`: the promotion held, to run once the gate opens (JSON: source, target, apps,
    platform, group)."""

    def __init__(self, verdict: Verdict, source: str, target: str, selection: Selection) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict
        self.step = {"source": source, "target": target, **asdict(selection)}


def check(
    deployment: DeploymentProject,
    source: str,
    selection: Selection,
    connect: Connect,
    *,
    waited: float,
) -> Verdict:
    """The verdict for promoting `selection` out of `source` now (`proceed` at once when
    the promotion is not gated): its apps must run `source`'s branch head, which holds
    the merge commit, so the MR proposes what runs."""
    settings = deployment.settings
    skipped = applies(settings, source)
    if skipped is not None or settings.argocd is None:
        return Verdict("proceed", f"not gated: {skipped}")
    env = settings.environment(source)
    path = deployment.project.path
    head = deployment.gl.branch_head(path, env.branch)
    if head is None:
        return Verdict("waiting", f"{env.branch} has no head commit")

    def ancestry(ancestor: str, descendant: str) -> bool:
        return deployment.gl.is_ancestor(path, ancestor, descendant)

    apps = selection.apps or ()
    timeout = settings.argocd.timeout
    return decide(connect(settings), source, apps, head, ancestry, waited=waited, timeout=timeout)


def connect(settings: Settings) -> ArgoCD:
    """The Argo CD gitops.yaml's `argocd:` names (asked only when it is set)."""
    found = settings.argocd
    if found is None:
        raise UserError("gitops.yaml has no `argocd:` section")
    return argocd.client(found.url, found.token_env, found.project)


def gated(promote: Promote, connect: Connect) -> Promote:
    """`promote`, run only when the gate is open; GateClosed otherwise (the cascade's
    promotion, so that nothing after a hotfix or `[no-promote]` merge asks)."""

    def run(
        deployment: DeploymentProject, source: str, target: str, selection: Selection
    ) -> EnvPromotion:
        verdict = check(deployment, source, selection, connect, waited=0.0)
        if not verdict.open:
            raise GateClosed(verdict, source, target, selection)
        return promote(deployment, source, target, selection)

    return run
