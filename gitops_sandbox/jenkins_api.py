"""The Jenkins endpoints python-jenkins uses, under `/jenkins/`: auth, jobs, config.xml.

Jobs are stored with their config.xml (parameter definitions are read from it);
builds are in `jenkins_builds.py`. Auth is HTTP basic, user `admin`, password the
sandbox token; every answer carries `X-Jenkins` (python-jenkins' get_version).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from gitops_sandbox.api_util import json_response
from gitops_sandbox.context import JENKINS_VERSION, services
from gitops_sandbox.state import now_iso

bp = Blueprint("jenkins", __name__, url_prefix="/jenkins")
USER = "admin"
_WORKFLOW = "org.jenkinsci.plugins.workflow.job."
_CLASSES = {
    "flow-definition": f"{_WORKFLOW}WorkflowJob",
    "project": "hudson.model.FreeStyleProject",
}
RUN_CLASSES = {
    f"{_WORKFLOW}WorkflowJob": f"{_WORKFLOW}WorkflowRun",
    "hudson.model.FreeStyleProject": "hudson.model.FreeStyleBuild",
}


def text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.before_request
def authenticate() -> Response | None:
    """Basic auth as `admin` with the token; the root page stays readable (get_version)."""
    auth = request.headers.get("Authorization", "")
    if not auth:
        if request.method == "GET" and request.path.rstrip("/") == "/jenkins":
            return None
        return text("Authentication required\n", 403)
    try:
        user, _, password = base64.b64decode(auth.partition(" ")[2]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, password = "", ""
    if not (
        auth.lower().startswith("basic ")
        and user == USER
        and hmac.compare_digest(password.encode(), services().token.encode())
    ):
        return text(f"Invalid password/token for user: {user}\n", 401)
    return None


@bp.after_request
def identify(response: Response) -> Response:
    """Every Jenkins answer names the version (python-jenkins' get_version reads it)."""
    response.headers["X-Jenkins"] = JENKINS_VERSION
    response.headers["X-Hudson"] = "1.395"
    return response


def url(*parts: str) -> str:
    tail = "/".join(quote(p, safe="") for p in parts)
    return f"{services().base_url}/jenkins/{tail + '/' if tail else ''}"


def _jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = services().state.data["jenkins"]["jobs"]
    return jobs


def _parse(config: bytes) -> tuple[str, str | None, list[dict[str, Any]]] | Response:
    """The job class, description and parameter definitions of a config.xml."""
    try:
        root = ET.fromstring(config)  # noqa: S314 - loopback test clients only
    except ET.ParseError as e:
        return text(f"Failed to parse config.xml: {e}\n", 500)
    params = []
    for prop in root.iter("hudson.model.ParametersDefinitionProperty"):
        for definition in prop.iter():
            name = definition.findtext("name")
            if definition.tag.endswith("ParameterDefinition") and name:
                params.append(
                    {
                        "name": name,
                        "type": definition.tag.rsplit(".", 1)[-1],
                        "default": definition.findtext("defaultValue") or "",
                        "description": definition.findtext("description") or "",
                    }
                )
    cls = _CLASSES.get(root.tag, root.tag)
    return cls, root.findtext("description"), params


@bp.get("/")
def root() -> Response:
    """The dashboard: only its headers matter to API clients."""
    return text("Jenkins (sandbox)\n", 200)


@bp.get("/api/json")
def info() -> Response:
    """The controller's overview with the job list."""
    with services().state.read():
        jobs = [
            {"_class": j["class"], "name": n, "url": url("job", n), "color": color(j)}
            for n, j in sorted(_jobs().items())
        ]
    view = {"_class": "hudson.model.AllView", "name": "all", "url": url()}
    return json_response(
        {
            "_class": "hudson.model.Hudson",
            "assignedLabels": [{"name": "built-in"}],
            "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "",
            "numExecutors": 0,
            "description": None,
            "jobs": jobs,
            "overallLoad": {},
            "primaryView": view,
            "quietDownReason": None,
            "quietingDown": False,
            "slaveAgentPort": -1,
            "unlabeledLoad": {},
            "url": url(),
            "useCrumbs": True,
            "useSecurity": True,
            "views": [view],
        }
    )


@bp.get("/crumbIssuer/api/json")
def crumb() -> Response:
    """A CSRF crumb (accepted, never required: token-authenticated calls are exempt)."""
    value = hashlib.sha256(f"crumb:{services().token}".encode()).hexdigest()
    return json_response(
        {
            "_class": "hudson.security.csrf.DefaultCrumbIssuer",
            "crumb": value,
            "crumbRequestField": "Jenkins-Crumb",
        }
    )


@bp.get("/me/api/json")
def whoami() -> Response:
    """The authenticated user."""
    return json_response(
        {
            "_class": "hudson.model.User",
            "absoluteUrl": url("user", USER),
            "description": None,
            "fullName": USER,
            "id": USER,
            "property": [],
        }
    )


@bp.post("/createItem")
def create_item() -> Response:
    """Create a job from the config.xml body (`?name=`); 400 if the name is taken."""
    name = request.args.get("name", "")
    if not name or "/" in name:
        return text("No name is specified (folders are not emulated)\n", 400)
    parsed = _parse(request.get_data())
    if isinstance(parsed, Response):
        return parsed
    with services().state.transaction():
        if name in _jobs():
            resp = text(f"A job already exists with the name '{name}'\n", 400)
            resp.headers["X-Error"] = f"A job already exists with the name '{name}'"
            return resp
        cls, description, params = parsed
        _jobs()[name] = {
            "class": cls,
            "description": description,
            "parameters": params,
            "config_xml": request.get_data(as_text=True),
            "disabled": False,
            "next_build_number": 1,
            "builds": [],
            "created_at": now_iso(),
        }
    return text("", 200)


def find_job(name: str) -> dict[str, Any] | None:
    job: dict[str, Any] | None = _jobs().get(name)
    return job


def missing() -> Response:
    return text("Not Found\n", 404)


@bp.get("/job/<name>/")
def job_page(name: str) -> Response:
    """The job's page (where enable/disable redirect to)."""
    with services().state.read():
        return text(f"{name}\n", 200) if find_job(name) else missing()


@bp.get("/job/<name>/config.xml")
def get_config(name: str) -> Response:
    """The job's config.xml as stored."""
    with services().state.read():
        job = find_job(name)
        if job is None:
            return missing()
        return Response(job["config_xml"], mimetype="application/xml")


@bp.post("/job/<name>/config.xml")
def set_config(name: str) -> Response:
    """Replace the job's config.xml."""
    parsed = _parse(request.get_data())
    if isinstance(parsed, Response):
        return parsed
    with services().state.transaction():
        job = find_job(name)
        if job is None:
            return missing()
        job["class"], job["description"], job["parameters"] = parsed
        job["config_xml"] = request.get_data(as_text=True)
    return text("", 200)


@bp.post("/job/<name>/doDelete")
def delete_job(name: str) -> Response:
    """Delete the job; Jenkins answers with a redirect to the dashboard."""
    with services().state.transaction():
        if _jobs().pop(name, None) is None:
            return missing()
    return Response(status=302, headers={"Location": url()})


@bp.post("/job/<name>/<any(enable, disable):action>")
def toggle(name: str, action: str) -> Response:
    """Enable or disable the job."""
    with services().state.transaction():
        job = find_job(name)
        if job is None:
            return missing()
        job["disabled"] = action == "disable"
    return Response(status=302, headers={"Location": url("job", name)})


def color(job: dict[str, Any]) -> str:
    return "disabled" if job["disabled"] else ("notbuilt" if not job["builds"] else "grey")


def build_ref(job: dict[str, Any], name: str, build: dict[str, Any] | None) -> Any:
    if build is None:
        return None
    return {
        "_class": RUN_CLASSES.get(job["class"], "hudson.model.Run"),
        "number": build["number"],
        "url": url("job", name, str(build["number"])),
    }


@bp.get("/job/<name>/api/json")
def job_info(name: str) -> Response:
    """The job: builds, parameter definitions, next build number."""
    with services().state.read():
        job = find_job(name)
        if job is None:
            return missing()
        builds = sorted(job["builds"], key=lambda b: b["number"], reverse=True)
        last = builds[0] if builds else None
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
        return json_response(
            {
                "_class": job["class"],
                "actions": [],
                "description": job["description"],
                "displayName": name,
                "fullDisplayName": name,
                "fullName": name,
                "name": name,
                "url": url("job", name),
                "buildable": not job["disabled"],
                "builds": [build_ref(job, name, b) for b in builds],
                "color": color(job),
                "firstBuild": build_ref(job, name, builds[-1] if builds else None),
                "healthReport": [],
                "inQueue": False,
                "keepDependencies": False,
                "lastBuild": build_ref(job, name, last),
                "lastCompletedBuild": build_ref(job, name, last),
                "lastFailedBuild": None,
                "lastStableBuild": None,
                "lastSuccessfulBuild": None,
                "lastUnstableBuild": None,
                "lastUnsuccessfulBuild": build_ref(job, name, last),
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
                "queueItem": None,
                "concurrentBuild": False,
                "disabled": job["disabled"],
                "resumeBlocked": False,
            }
        )
