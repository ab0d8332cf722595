"""Where promotions run: in this process (default), or as a Jenkins job.

Teams whose promotions must run on Jenkins agents set GITOPS_EXECUTOR=jenkins:
each promotion is handed to a parameterised Jenkins job (docs/JENKINS.md) whose
pipeline runs the `gitopsPromoteEnv` step, i.e. `gitops-helper promote-env`.
"""

from __future__ import annotations

from jenkins_helpers.promotion.between_envs import promote_between
from jenkins_helpers.promotion.cascade import Promote
from webhook.settings import WebhookSettings


def executor_for(settings: WebhookSettings) -> Promote:
    """The promotion runner the settings ask for."""
    return promote_between
