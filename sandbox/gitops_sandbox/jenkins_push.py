"""GitLab's push hook starting a Jenkins build, as the Jenkins GitLab plugin does it.

A job whose config.xml has the plugin's `GitLabPushTrigger` (trigger on push, with
a secret token) gets a build for every `Push Hook` that GitLab POSTs to
`JENKINS_URL/project/<job>` carrying that secret in `X-Gitlab-Token`. The endpoint
is authenticated by the secret, not by a Jenkins user (so GitLab needs no Jenkins
account); it answers 200 with the queued build, and ignores other events and, with
the trigger's NameBasedFilter, pushes to branches it does not include.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from gitops_sandbox import jenkins_jobs
from gitops_sandbox.context import services
from gitops_sandbox.jenkins_api import find_job, identify, missing, text
from gitops_sandbox.jenkins_builds import queue_build

bp = Blueprint("jenkins_push", __name__, url_prefix="/jenkins")
bp.after_request(identify)


@bp.post("/project/<name>")
def push(name: str) -> Response:
    """Queue a build of `name` for a GitLab push event with the job's secret."""
    with services().state.read():
        job = find_job(name)
    if job is None:
        return missing()
    secret = jenkins_jobs.push_token(job["config_xml"])
    given = request.headers.get("X-Gitlab-Token", "")
    if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
        return text("Invalid token\n", 401)
    if request.headers.get("X-Gitlab-Event") != "Push Hook":
        return text("Ignored: not a push event\n", 200)
    wanted = jenkins_jobs.push_branch_filter(job["config_xml"])
    ref = str((request.get_json(silent=True) or {}).get("ref", ""))
    if wanted is not None and ref.removeprefix("refs/heads/") not in wanted:
        return text(f"Ignored: {ref} is not among the trigger's branches\n", 200)
    queued = queue_build(name, {}, parameterized=False)
    if isinstance(queued, Response):
        return queued
    return text(f"Scheduled build of {name} (queue item {queued})\n", 200)
