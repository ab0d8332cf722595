"""GitLab deployments: each merge into an environment branch recorded as one.

Why: every merge into an environment branch changes what ArgoCD runs there
(promotions, hotfixes, rollbacks, reverts, `set`, onboarding...), so GitLab's
Environments page, as teams used to GitLab CI deployments expect, shows each
environment's last deployment and its history, and each deployment lists the
merge requests it shipped (GitLab links them itself, from the merge commits
between two deployments: our sha is the merge commit, so our MR is among them).

Recorded once per environment and commit: a redelivered event, a retried job or
a reconcile finds it recorded already. Only the commit the branch still points
at is recorded: a late job for an older merge would otherwise become the
environment's last deployment, while the newer one (which GitLab links the older
MR to) is what runs. A failure is logged and reported, never raised: the
promotion chain goes on. gitops.yaml's `gitlab: {deployments: false}` turns it off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion.target import DeploymentProject

log = logging.getLogger(__name__)
RECENT = 20  # deployments read to find this one recorded already (newest first)
# GitLab's tiers for the names everyone uses; others are left to GitLab's own guess.
TIERS = {
    "dev": "development",
    "development": "development",
    "stage": "staging",
    "staging": "staging",
    "prod": "production",
    "production": "production",
}


@dataclass(frozen=True)
class Recorded:
    """What became of one merge's deployment (shown in the webhook's job result)."""

    environment: str
    sha: str
    outcome: str  # recorded | already recorded | skipped: why | failed: why
    deployment_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.outcome.startswith("failed")


def tier(name: str) -> str | None:
    """The tier of an environment called `name`, when the name makes it obvious."""
    return TIERS.get(name.lower())


def record(
    deployment: DeploymentProject, branch: str, sha: str | None, iid: int
) -> Recorded | None:
    """Record the merge of !`iid` (commit `sha`) into `branch` as a successful
    deployment of its environment; None when `branch` is no environment's, the merge
    has no commit yet, or gitops.yaml turned deployments off."""
    settings = deployment.settings
    env = next((e for e in settings.environments if e.branch == branch), None)
    if env is None or sha is None or not settings.deployments:
        return None
    try:
        return _record(deployment, env.name, branch, sha, iid)
    except UserError as e:
        log.warning("!%d: no GitLab deployment recorded for %s: %s", iid, env.name, e.message)
        return Recorded(env.name, sha, f"failed: {e.message}")


def _record(deployment: DeploymentProject, name: str, branch: str, sha: str, iid: int) -> Recorded:
    gl, path = deployment.gl, deployment.project.path
    head = gl.branch_head(path, branch)
    if head != sha:
        return Recorded(name, sha, f"skipped: {branch} has moved on to {str(head)[:12]}")
    for known in gl.deployments(path, name, newest=RECENT):
        if known.sha == sha and known.status == "success":
            return Recorded(name, sha, "already recorded", known.id)
    made = gl.record_deployment(path, environment=name, ref=branch, sha=sha, tier=tier(name))
    log.info("!%d: recorded GitLab deployment %d of %s to %s", iid, made.id, sha[:12], name)
    return Recorded(name, sha, "recorded", made.id)
