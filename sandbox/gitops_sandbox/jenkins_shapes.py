"""Jenkins' JSON shapes (the remote access API, `.../api/json`) for jobs, builds, queue items.

Field by field as Jenkins answers for a Pipeline job (`WorkflowJob`, runs are
`WorkflowRun`) and the queue (`Queue$WaitingItem` while waiting, `Queue$LeftItem`
once a build took it or it was cancelled). Only the representation lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_sandbox.jenkins_jobs import WORKFLOW

USER = "admin"
RUN_CLASSES = {
    f"{WORKFLOW}WorkflowJob": f"{WORKFLOW}WorkflowRun",
    "hudson.model.FreeStyleProject": "hudson.model.FreeStyleBuild",
}
# The ball colour of a job: its last completed build's result.
COLORS = {"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red", "ABORTED": "aborted"}

Url = Callable[..., str]


def color(job: dict[str, Any]) -> str:
    """`blue`, `red`, ... of the last completed build; `_anime` while one is building."""
    if job["disabled"]:
        return "disabled"
    done = [b for b in job["builds"] if not b.get("building")]
    base = COLORS.get(done[-1].get("result") or "", "notbuilt") if done else "notbuilt"
    return f"{base}_anime" if any(b.get("building") for b in job["builds"]) else base


def build_ref(job: dict[str, Any], name: str, build: dict[str, Any] | None, url: Url) -> Any:
    """A build as jobs and queue items point at it."""
    if build is None:
        return None
    return {
        "_class": RUN_CLASSES.get(job["class"], "hudson.model.Run"),
        "number": build["number"],
        "url": url("job", name, str(build["number"])),
    }


def actions(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The build's (or queue item's) parameters and cause."""
    found: list[dict[str, Any]] = [
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
    if parameters:
        values = [{"_class": "hudson.model.StringParameterValue", **p} for p in parameters]
        found.insert(0, {"_class": "hudson.model.ParametersAction", "parameters": values})
    return found


def build(job: dict[str, Any], name: str, b: dict[str, Any], url: Url) -> dict[str, Any]:
    """`GET /job/<name>/<n>/api/json`."""
    number = b["number"]
    return {
        "_class": RUN_CLASSES.get(job["class"], "hudson.model.Run"),
        "actions": actions(b["parameters"]),
        "artifacts": [],
        "building": bool(b.get("building")),
        "description": b.get("description"),
        "displayName": b.get("display_name") or f"#{number}",
        "duration": b.get("duration", 0),
        "estimatedDuration": -1,
        "executor": {"_class": "hudson.model.OneOffExecutor"} if b.get("building") else None,
        "fullDisplayName": f"{name} #{number}",
        "id": str(number),
        "inProgress": bool(b.get("building")),
        "keepLog": False,
        "number": number,
        "queueId": b["queue_id"],
        "result": b.get("result"),
        "timestamp": b["timestamp"],
        "url": url("job", name, str(number)),
        "changeSets": [],
        "culprits": [],
        "nextBuild": None,
        "previousBuild": None,
    }


def _last(job: dict[str, Any], name: str, url: Url, test: Callable[[dict[str, Any]], bool]) -> Any:
    found = [b for b in job["builds"] if test(b)]
    return build_ref(job, name, max(found, key=lambda b: b["number"]) if found else None, url)


def job(name: str, job: dict[str, Any], url: Url, queue_item: dict[str, Any] | None) -> Any:
    """`GET /job/<name>/api/json`: builds, the last ones of each kind, parameters."""
    builds = sorted(job["builds"], key=lambda b: b["number"], reverse=True)

    def done(b: dict[str, Any]) -> bool:
        return not b.get("building")

    definitions = [
        {
            "_class": f"hudson.model.{p['type']}",
            "defaultParameterValue": {
                "_class": "hudson.model.StringParameterValue",
                "name": p["name"],
                "value": p["default"],
            },
            "description": p["description"],
            "name": p["name"],
            "type": p["type"],
        }
        for p in job["parameters"]
    ]
    return {
        "_class": job["class"],
        "actions": [],
        "description": job["description"],
        "displayName": name,
        "fullDisplayName": name,
        "fullName": name,
        "name": name,
        "url": url("job", name),
        "buildable": not job["disabled"],
        "builds": [build_ref(job, name, b, url) for b in builds],
        "color": color(job),
        "firstBuild": build_ref(job, name, builds[-1] if builds else None, url),
        "healthReport": [],
        "inQueue": queue_item is not None,
        "keepDependencies": False,
        "lastBuild": build_ref(job, name, builds[0] if builds else None, url),
        "lastCompletedBuild": _last(job, name, url, done),
        "lastFailedBuild": _last(job, name, url, lambda b: b.get("result") == "FAILURE"),
        "lastStableBuild": _last(job, name, url, lambda b: b.get("result") == "SUCCESS"),
        "lastSuccessfulBuild": _last(job, name, url, lambda b: b.get("result") == "SUCCESS"),
        "lastUnstableBuild": _last(job, name, url, lambda b: b.get("result") == "UNSTABLE"),
        "lastUnsuccessfulBuild": _last(
            job, name, url, lambda b: done(b) and b.get("result") != "SUCCESS"
        ),
        "nextBuildNumber": job["next_build_number"],
        "property": (
            [
                {
                    "_class": "hudson.model.ParametersDefinitionProperty",
                    "parameterDefinitions": definitions,
                }
            ]
            if definitions
            else []
        ),
        "queueItem": queue_item,
        "concurrentBuild": True,
        "disabled": job["disabled"],
        "resumeBlocked": False,
    }


def queue_item(
    item: dict[str, Any], job: dict[str, Any] | None, build: dict[str, Any] | None, url: Url
) -> dict[str, Any]:
    """A queue item: waiting for an executor, or left (to its build, or cancelled)."""
    name = item["job"]
    waiting = build is None and not item.get("cancelled")
    body: dict[str, Any] = {
        "_class": "hudson.model.Queue$WaitingItem" if waiting else "hudson.model.Queue$LeftItem",
        "actions": actions(item.get("parameters", [])),
        "blocked": False,
        "buildable": waiting,
        "id": item["id"],
        "inQueueSince": item.get("in_queue_since", 0),
        "params": "".join(f"\n{p['name']}={p['value']}" for p in item.get("parameters", [])),
        "stuck": False,
        "url": f"queue/item/{item['id']}/",
        "why": "Waiting for next available executor" if waiting else None,
        "task": {
            "_class": job["class"] if job else "hudson.model.FreeStyleProject",
            "name": name,
            "url": url("job", name),
            "color": color(job) if job else "notbuilt",
        },
    }
    if not waiting:
        body["cancelled"] = bool(item.get("cancelled"))
        body["executable"] = build_ref(job, name, build, url) if job and build else None
    return body
