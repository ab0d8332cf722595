"""Where promotions run: in this process (default), or as a Jenkins job.

Teams whose promotions must run on Jenkins agents set GITOPS_EXECUTOR=jenkins: each
promotion is handed to the parameterised Jenkins job GITOPS_JENKINS_JOB (created
from the promote-env.xml template, docs/JENKINS.md), whose pipeline runs the
`gitopsPromoteEnv` step, i.e. `gitops-helper promote-env` on an agent. The job
waits for the build and reads what it did from the one console line the step marks
(RESULT_MARKER): each unit's MR, or why it is blocked. So a job ends as it would
inline: `done` with the MRs the build opened, or `blocked` (the step fails the build
then, after reporting) and retried when the target changes. A build that failed for
any other reason fails the job, with the build's URL and the tail of its console.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from jenkins_helpers import jenkins
from jenkins_helpers.errors import UserError
from jenkins_helpers.operations.between_envs import (
    EnvPromotion,
    Selection,
    UnitResult,
    promote_between,
)
from jenkins_helpers.operations.cascade import Promote
from jenkins_helpers.promotion.model import Status
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import UNITS, Unit
from webhook.settings import WebhookSettings

BUILD_TIMEOUT = 1800.0  # seconds a promotion build may take, queue included
# The marker of the line gitopsPromoteEnv echoes its answer on (vars/gitopsPromoteEnv.groovy).
RESULT_MARKER = "gitopsPromoteEnv result (JSON): "
log = logging.getLogger(__name__)


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
        with jenkins.Jenkins(access) as server:
            build = server.run(
                job,
                _parameters(source, target, selection),
                BUILD_TIMEOUT,
                report_marker=RESULT_MARKER,
            )
        reported = _reported(build, deployment.project.path, source, target)
        if build.succeeded:
            return reported or EnvPromotion(
                deployment.project.path, source, target, "", False, runner=build.url
            )
        if reported is not None and reported.blocked and build.result == "FAILURE":
            return reported  # the step fails the build for a blocked unit, after reporting
        raise UserError(
            f"Jenkins build {build.url} of {job} ended {build.result}:\n{build.console_tail}",
            "see the build's console; retry the job with POST /jobs/<id>/retry",
        )

    return promote


def _parameters(source: str, target: str, selection: Selection) -> dict[str, str]:
    """The promote-env job's parameters for one promotion."""
    return {
        "FROM": source,
        "TO": target,
        "APPS": "" if selection.group else ",".join(selection.apps or ()),
        "GROUP": selection.group or "",
        "PLATFORM": "true" if selection.platform else "false",
        "SKIP_ENV": "false",
        "DRY_RUN": "false",
    }


def _reported(
    build: jenkins.BuildOutcome, project: str, source: str, target: str
) -> EnvPromotion | None:
    """What the build's marked line says it did; None without a usable one (an older
    library prints none: the job then knows only whether the build succeeded)."""
    if build.report is None:
        return None
    data = build.report
    try:
        if (data.get("source"), data.get("target")) != (source, target):
            raise ValueError(f"it promoted {data.get('source')} -> {data.get('target')}")
        units = [_unit(u) for u in _list(data.get("units"))]
        skipped = [str(e) for e in _list(data.get("skipped"))]
    except (ValueError, TypeError) as e:
        log.warning("build %s reported a result the webhook cannot use (%s)", build.url, e)
        return None
    commit = str(data.get("source_commit") or "")
    return EnvPromotion(project, source, target, commit, False, skipped, units, build.url)


def _unit(data: Any) -> UnitResult:
    """One unit as the marked line has it; ValueError or TypeError if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("unit"), str):
        raise TypeError("a unit is not an object with its name")
    if data.get("kind") not in UNITS:
        raise ValueError(f"unit kind {data.get('kind')!r}")
    if data.get("status") not in ("created", "updated", "noop", "blocked"):
        raise ValueError(f"unit status {data.get('status')!r}")
    iid = data.get("mr_iid")
    if iid is not None and (not isinstance(iid, int) or isinstance(iid, bool)):
        raise TypeError(f"mr_iid {iid!r}")
    return UnitResult(
        status=cast(Status, data["status"]),
        branch=_text(data, "branch"),
        mr_iid=iid,
        mr_url=_text(data, "mr_url"),
        superseded=tuple(int(i) for i in _list(data.get("superseded"))),
        unit=data["unit"],
        kind=cast(Unit, data["kind"]),
        tag=_text(data, "tag"),
        reason=_text(data, "reason"),
        warnings=[str(w) for w in _list(data.get("warnings"))],
    )


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"a unit's {key} is not text")
    return value


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{value!r} is not a list")
    return value
