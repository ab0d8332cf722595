"""The Jenkins endpoints python-jenkins uses, under `/jenkins/`: auth, jobs, config.xml.

Jobs are stored with their config.xml (parameter definitions are read from it,
and the pipeline definition when a build starts: `jenkins_jobs.py`); builds are
in `jenkins_builds.py`, JSON shapes in `jenkins_shapes.py`. Auth is HTTP basic,
user `admin`, password the sandbox token; every answer carries `X-Jenkins`
(python-jenkins' get_version).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from gitops_sandbox import jenkins_jobs, jenkins_shapes
from gitops_sandbox.api_util import json_response
from gitops_sandbox.context import JENKINS_VERSION, services
from gitops_sandbox.jenkins_shapes import USER
from gitops_sandbox.state import now_iso

bp = Blueprint("jenkins", __name__, url_prefix="/jenkins")


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


def _parse(config: bytes) -> jenkins_jobs.Job | Response:
    """The job class, description and parameters of a config.xml, or Jenkins' 500."""
    try:
        return jenkins_jobs.parse(config)
    except jenkins_jobs.ConfigError as e:
        return text(f"{e}\n", 500)


@bp.get("/")
def root() -> Response:
    """The dashboard: only its headers matter to API clients."""
    return text("Jenkins (sandbox)\n", 200)


@bp.get("/api/json")
def info() -> Response:
    """The controller's overview with the job list."""
    with services().state.read():
        jobs = [
            {
                "_class": j["class"],
                "name": n,
                "url": url("job", n),
                "color": jenkins_shapes.color(j),
            }
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
            "numExecutors": services().builds.settings.executors,
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
    """Create a job from the config.xml body (`?name=`); 400 if the name is taken or unsafe."""
    name = request.args.get("name", "")
    problem = jenkins_jobs.check_name(name)
    if problem:
        resp = text(f"{problem}\n", 400)
        resp.headers["X-Error"] = problem
        return resp
    parsed = _parse(request.get_data())
    if isinstance(parsed, Response):
        return parsed
    with services().state.transaction():
        if name in _jobs():
            resp = text(f"A job already exists with the name '{name}'\n", 400)
            resp.headers["X-Error"] = f"A job already exists with the name '{name}'"
            return resp
        _jobs()[name] = {
            "class": parsed.cls,
            "description": parsed.description,
            "parameters": parsed.parameters,
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
        job["class"], job["description"] = parsed.cls, parsed.description
        job["parameters"] = parsed.parameters
        job["config_xml"] = request.get_data(as_text=True)
    return text("", 200)


@bp.post("/job/<name>/doDelete")
def delete_job(name: str) -> Response:
    """Delete the job; Jenkins answers with a redirect to the dashboard."""
    svc = services()
    with svc.state.read():
        job = find_job(name)
        running = [b["number"] for b in (job or {}).get("builds", []) if b.get("building")]
    for number in running:
        svc.builds.abort(name, number)
    with svc.state.transaction() as data:
        if _jobs().pop(name, None) is None:
            return missing()
        queue = data["jenkins"]["queue"]
        for item in queue.values():
            if item["job"] == name and item.get("number") is None:
                item["cancelled"] = True
    svc.builds.forget(name)
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


def waiting_item(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The job's queue item still waiting for an executor, as a job shows it."""
    for item in sorted(data["jenkins"]["queue"].values(), key=lambda i: i["id"]):
        if item["job"] == name and item.get("number") is None and not item.get("cancelled"):
            return jenkins_shapes.queue_item(item, find_job(name), None, url)
    return None


@bp.get("/job/<name>/api/json")
def job_info(name: str) -> Response:
    """The job: builds, the last ones of each kind, parameter definitions, next build number."""
    with services().state.read() as data:
        job = find_job(name)
        if job is None:
            return missing()
        return json_response(jenkins_shapes.job(name, job, url, waiting_item(data, name)))
