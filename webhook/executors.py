"""Where promotions run: in this process (default), or as a Jenkins job.

Teams whose promotions must run on Jenkins agents set GITOPS_EXECUTOR=jenkins: each
promotion is handed to the parameterised Jenkins job GITOPS_JENKINS_JOB (created
from the promote-env.xml template, docs/JENKINS.md), whose pipeline runs the
`gitopsPromoteEnv` step, i.e. `gitops-helper promote-env` on an agent. The job
waits for the build: a failed build fails the job, with the build's URL and the
tail of its console.
"""

from __future__ import annotations

from jenkins_helpers import jenkins
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion.between_envs import EnvPromotion, Selection, promote_between
from jenkins_helpers.promotion.cascade import Promote
from jenkins_helpers.promotion.target import DeploymentProject
from webhook.settings import WebhookSettings

BUILD_TIMEOUT = 1800.0  # seconds a promotion build may take, queue included


def executor_for(settings: WebhookSettings) -> Promote:
    """The promotion runner the settings ask for."""
    if settings.executor == "jenkins":
        return on_jenkins(settings.jenkins_job, jenkins.access_from_environment())
    return promote_between


def on_jenkins(job: str, access: jenkins.JenkinsAccess) -> Promote:
    """Run each promotion as a build of Jenkins job `job`."""

    def promote(
        deployment: DeploymentProject, source: str, target: str, selection: Selection
    ) -> EnvPromotion:
        parameters = {
            "FROM": source,
            "TO": target,
            "APPS": "" if selection.group else ",".join(selection.apps or ()),
            "GROUP": selection.group or "",
            "PLATFORM": "true" if selection.platform else "false",
            "SKIP_ENV": "false",
            "DRY_RUN": "false",
        }
        with jenkins.Jenkins(access) as server:
            build = server.run(job, parameters, timeout=BUILD_TIMEOUT)
        if not build.succeeded:
            raise UserError(
                f"Jenkins build {build.url} of {job} ended {build.result}:\n{build.console_tail}",
                "see the build's console; retry the job with POST /jobs/<id>/retry",
            )
        return EnvPromotion(deployment.project.path, source, target, "", False, runner=build.url)

    return promote
