"""Jenkins builds: trigger (recording parameters), queue items, build info.

Nothing runs: a triggered build leaves the queue at once as build #n with result
`NOT_BUILT`, carrying the parameters Jenkins would have passed (the job's declared
ones, defaults filled in, undeclared ones dropped, as Jenkins does since
SECURITY-170). The admin endpoint `/-/sandbox/jenkins/builds` lists them.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request

from gitops_sandbox import jenkins_api
from gitops_sandbox.api_util import json_response
from gitops_sandbox.context import services
from gitops_sandbox.jenkins_api import RUN_CLASSES, USER

bp = Blueprint("jenkins_builds", __name__, url_prefix="/jenkins")
bp.before_request(jenkins_api.authenticate)
bp.after_request(jenkins_api.identify)


@bp.post("/job/<name>/<any(build, buildWithParameters):kind>")
def trigger(name: str, kind: str) -> Response:
    """Queue a build, recording its parameters; answer 201 with the queue item's Location."""
    submitted = {
        k: v
        for k, v in {**request.form, **request.args}.items()
        if k not in ("token", "delay", "cause")
    }
    svc = services()
    with svc.state.transaction() as data:
        job = jenkins_api.find_job(name)
        if job is None:
            return jenkins_api.missing()
        if job["disabled"]:
            return jenkins_api.text(f"{name} is disabled\n", 409)
        if kind == "buildWithParameters" and not job["parameters"]:
            return jenkins_api.text(f"{name} is not parameterized\n", 400)
        parameters = [
            {"name": p["name"], "value": submitted.get(p["name"], p["default"])}
            for p in job["parameters"]
        ]
        queue_id = svc.state.next_id("jenkins_queue")
        build = {
            "number": job["next_build_number"],
            "queue_id": queue_id,
            "parameters": parameters,
            "submitted": submitted,
            "timestamp": int(time.time() * 1000),
            "job": name,
        }
        job["next_build_number"] += 1
        job["builds"].append(build)
        data["jenkins"]["queue"][str(queue_id)] = {
            "id": queue_id,
            "job": name,
            "number": build["number"],
        }
    return Response(
        status=201, headers={"Location": jenkins_api.url("queue", "item", str(queue_id))}
    )


def _actions(build: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = [
        {
            "_class": "hudson.model.CauseAction",
            "causes": [
                {
                    "_class": "hudson.model.Cause$UserIdCause",
                    "shortDescription": f"Started by user {USER}",
                    "userId": USER,
                    "userName": USER,
                }
            ],
        }
    ]
    if build["parameters"]:
        actions.insert(
            0,
            {
                "_class": "hudson.model.ParametersAction",
                "parameters": [
                    {"_class": "hudson.model.StringParameterValue", **p}
                    for p in build["parameters"]
                ],
            },
        )
    return actions


def _find_build(name: str, number: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    job = jenkins_api.find_job(name)
    for build in (job or {}).get("builds", []):
        if build["number"] == number:
            return job, build  # type: ignore[return-value]
    return None


@bp.get("/queue/item/<int:queue_id>/api/json")
def queue_item(queue_id: int) -> Response:
    """A queue item; it has always left the queue, pointing at its build."""
    with services().state.read() as data:
        item = data["jenkins"]["queue"].get(str(queue_id))
        found = item and _find_build(item["job"], item["number"])
        if not found:
            return jenkins_api.missing()
        job, build = found
        return json_response(
            {
                "_class": "hudson.model.Queue$LeftItem",
                "actions": _actions(build),
                "blocked": False,
                "buildable": False,
                "id": queue_id,
                "inQueueSince": build["timestamp"],
                "params": "".join(f"\n{p['name']}={p['value']}" for p in build["parameters"]),
                "stuck": False,
                "url": f"queue/item/{queue_id}/",
                "why": None,
                "cancelled": False,
                "task": {
                    "_class": job["class"],
                    "name": item["job"],
                    "url": jenkins_api.url("job", item["job"]),
                    "color": jenkins_api.color(job),
                },
                "executable": jenkins_api.build_ref(job, item["job"], build),
            }
        )


@bp.get("/job/<name>/<int:number>/api/json")
def build_info(name: str, number: int) -> Response:
    """A recorded build: parameters and cause; `NOT_BUILT`, since nothing runs here."""
    with services().state.read():
        found = _find_build(name, number)
        if not found:
            return jenkins_api.missing()
        job, build = found
        return json_response(
            {
                "_class": RUN_CLASSES.get(job["class"], "hudson.model.Run"),
                "actions": _actions(build),
                "building": False,
                "inProgress": False,
                "description": "recorded by the sandbox, not run",
                "displayName": f"#{number}",
                "duration": 0,
                "estimatedDuration": -1,
                "fullDisplayName": f"{name} #{number}",
                "id": str(number),
                "number": number,
                "queueId": build["queue_id"],
                "result": "NOT_BUILT",
                "timestamp": build["timestamp"],
                "url": jenkins_api.url("job", name, str(number)),
            }
        )
