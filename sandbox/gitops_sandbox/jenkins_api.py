"""The Jenkins endpoints python-jenkins uses, under `/jenkins/`: auth, jobs, nodes, plugins.

Jobs are stored with their config.xml (parameter definitions are read from it,
and the pipeline definition when a build starts: `jenkins_jobs.py`); they are
created from XML or copied (`createItem`), renamed (`doRename`), reconfigured,
enabled, disabled and deleted. Builds are in `jenkins_builds.py`. Every
`api/json` answer is an exported object of `jenkins_shapes.py` pruned by the
request's `tree` or `depth`, as Jenkins' Remote Access API does
(https://www.jenkins.io/doc/book/using/remote-access-api/). Auth is HTTP basic,
user `admin`, password the sandbox token; every answer carries `X-Jenkins`
(python-jenkins' get_version).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from gitops_sandbox import jenkins_config, jenkins_jobs, jenkins_shapes
from gitops_sandbox.context import JENKINS_VERSION, services
from gitops_sandbox.jenkins_shapes import USER
from gitops_sandbox.state import now_iso

bp = Blueprint("jenkins", __name__, url_prefix="/jenkins")


def text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def failure(message: str) -> Response:
    """Jenkins' answer to a `hudson.model.Failure` (a user error): 400 with `X-Error`.

    core/src/main/resources/hudson/model/AbstractModelObject/error.jelly sets the
    status and the header; the page body says the message too (UTF-8). Jetty writes a
    header value's characters past U+00FF, CR and LF as spaces
    (org.eclipse.jetty.http.HttpGenerator.putSanitisedValue): the curly quotes of
    "A job already exists with the name \u2018x\u2019" arrive as spaces in `X-Error`.
    """
    resp = text(f"{message}\n", 400)
    resp.headers["X-Error"] = "".join(" " if ord(c) > 0xFF or c in "\r\n" else c for c in message)
    return resp


def model(data: dict[str, Any]) -> jenkins_shapes.Model:
    """The state's jobs and queue, for the beans (read under the state's lock)."""
    jenkins = data["jenkins"]
    return jenkins_shapes.Model(jenkins["jobs"], url, jenkins["queue"])


def exported(make: Callable[[jenkins_shapes.Model], jenkins_shapes.Bean | None]) -> Response:
    """An `api/json` answer: the bean `make` gives, pruned by `tree` or `depth` (404: None).

    As Stapler's ResponseImpl.serveExposedBean: a malformed `tree` or a `depth` that
    is not a number is a ServletException, a 500.
    """
    try:
        prune = jenkins_shapes.pruner(request.args.get("tree"), request.args.get("depth"))
    except ValueError as e:
        return text(f"{e}\n", 500)
    with services().state.read() as data:
        bean = make(model(data))
        if bean is None:
            return missing()
        body = jenkins_shapes.render(bean, prune)
    return Response(json.dumps(body), content_type="application/json;charset=UTF-8")


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
    executors = services().builds.settings.executors
    return exported(lambda m: jenkins_shapes.controller(m, executors))


@bp.get("/crumbIssuer/api/json")
def crumb() -> Response:
    """A CSRF crumb (accepted, never required: token-authenticated calls are exempt)."""
    value = hashlib.sha256(f"crumb:{services().token}".encode()).hexdigest()
    return exported(lambda m: jenkins_shapes.crumb_issuer(value))


@bp.get("/me/api/json")
def whoami() -> Response:
    """The authenticated user."""
    return exported(lambda m: jenkins_shapes.whoami(url))


@bp.get("/computer/api/json")
def computers() -> Response:
    """The nodes: only the built-in one (python-jenkins' get_nodes)."""
    svc = services()
    home = str(svc.state.root)
    return exported(lambda m: jenkins_shapes.computers(m, svc.builds.settings.executors, home))


@bp.get("/computer/<node>/api/json")
def computer(node: str) -> Response:
    """A node by name: the built-in node answers to `(built-in)` and, for old URLs,
    `(master)` (Jenkins.getComputer); its executors show the running builds
    (python-jenkins' get_node_info, get_running_builds)."""
    if node not in ("(built-in)", "(master)"):
        return missing()
    svc = services()
    home = str(svc.state.root)
    return exported(lambda m: jenkins_shapes.built_in(m, svc.builds.settings.executors, home))


@bp.get("/pluginManager/api/json")
def plugin_manager() -> Response:
    """The installed plugins (python-jenkins' get_plugins asks with depth=2)."""
    return exported(lambda m: jenkins_shapes.plugins(jenkins_config.PLUGINS))


# Empty jobs `createItem?mode=<class>` makes (Items.all().findByName), as Jenkins saves them.
EMPTY_CONFIGS = {
    f"{jenkins_jobs.WORKFLOW}WorkflowJob": (
        "<?xml version='1.1' encoding='UTF-8'?>\n<flow-definition plugin=\"workflow-job\">\n"
        "  <keepDependencies>false</keepDependencies>\n  <properties/>\n"
        "  <triggers/>\n  <disabled>false</disabled>\n</flow-definition>\n"
    ),
    "hudson.model.FreeStyleProject": (
        "<?xml version='1.1' encoding='UTF-8'?>\n<project>\n"
        "  <keepDependencies>false</keepDependencies>\n  <properties/>\n"
        '  <scm class="hudson.scm.NullSCM"/>\n  <canRoam>true</canRoam>\n'
        "  <disabled>false</disabled>\n  <triggers/>\n  <concurrentBuild>false</concurrentBuild>\n"
        "  <builders/>\n  <publishers/>\n  <buildWrappers/>\n</project>\n"
    ),
}


@bp.post("/createItem")
def create_item() -> Response:
    """Create a job: from the config.xml body, as a copy (`mode=copy&from=`), or empty.

    As ItemGroupMixIn.createTopLevelItem (Jenkins 2.462.3): without a Content-Type
    only a copy is possible ("No Content-Type header set"); `name` is required and
    must be a good name (Jenkins.checkGoodName) that no job has; an XML body makes
    the job (200); a copy answers 302 to the new job's `configure` page. Each refusal
    is a `Failure`: 400 with `X-Error`.
    """
    content_type = request.content_type or ""
    mode = request.values.get("mode")
    if not content_type and mode != "copy":
        return failure("No Content-Type header set")
    is_xml = content_type.startswith(("application/xml", "text/xml"))
    name = request.values.get("name")
    if name is None:
        return failure("Query parameter 'name' is required")
    problem = jenkins_jobs.check_name(name)
    if problem:
        return failure(problem)
    name = name.strip()
    config: str | None = None
    if mode != "copy" and is_xml:
        config = request.get_data(as_text=True)
    elif mode != "copy":
        if mode is None:
            return failure("No mode given")
        if mode not in EMPTY_CONFIGS:
            return failure(f"No item type \u2018{mode}\u2019 is known")
        config = EMPTY_CONFIGS[mode]
    with services().state.transaction():
        if name in _jobs():
            return failure(f"A job already exists with the name \u2018{name}\u2019")
        if config is None:
            return _copy(request.values.get("from"), name)
        parsed = _parse(config.encode())
        if isinstance(parsed, Response):
            return parsed
        _jobs()[name] = _new_job(parsed, config)
    if is_xml and mode != "copy":
        return text("", 200)
    return Response(status=302, headers={"Location": url("job", name) + "configure"})


def _new_job(parsed: jenkins_jobs.Job, config: str) -> dict[str, Any]:
    return {
        "class": parsed.cls,
        "description": parsed.description,
        "parameters": parsed.parameters,
        "config_xml": config,
        "disabled": False,
        "next_build_number": 1,
        "builds": [],
        "created_at": now_iso(),
    }


def _copy(source_name: str | None, name: str) -> Response:
    """`createItem?name=<name>&mode=copy&from=<source>` (ItemGroupMixIn.copy).

    The copy gets the source's config.xml and nothing of its history: next build
    number 1 (Job.onCopiedFrom), no builds. "Newly copied jobs get this flag set, so
    that Hudson doesn't try to run the job until its configuration is saved once"
    (Job.holdOffBuildUntilSave): it is not buildable (`buildable: false`, a build
    409) until something saves the job, which enabling or disabling it does when it
    changes the state (ParameterizedJob.makeDisabled); a config.xml POST
    (AbstractItem.updateByXml) does not save through Job.save. Runs under the
    caller's transaction.
    """
    source = _jobs().get(source_name) if source_name else None
    if source is None:
        if not (source_name or "").strip():
            return failure("Specify which job to copy")
        return failure(f"No such job: {source_name}")
    # Its configuration (config.xml and what Jenkins would have saved in it: the
    # parameters and properties its builds declared, disabled), not its history.
    history = ("builds", "next_build_number", "created_at", "hold_off_build")
    _jobs()[name] = {
        **{k: copy.deepcopy(v) for k, v in source.items() if k not in history},
        "next_build_number": 1,
        "builds": [],
        "created_at": now_iso(),
        "hold_off_build": True,
    }
    return Response(status=302, headers={"Location": url("job", name) + "configure"})


def find_job(name: str) -> dict[str, Any] | None:
    job: dict[str, Any] | None = _jobs().get(name)
    return job


def missing() -> Response:
    return text("Not Found\n", 404)


@bp.get("/job/<name>")
def job_page_no_slash(name: str) -> Response:
    """Stapler sends a URL without its trailing slash on to the one with it (302)."""
    with services().state.read():
        if not find_job(name):
            return missing()
    return Response(status=302, headers={"Location": url("job", name)})


@bp.get("/job/<name>/")
def job_page(name: str) -> Response:
    """The job's page (where enable/disable and doRename redirect to)."""
    with services().state.read():
        return text(f"{name}\n", 200) if find_job(name) else missing()


@bp.get("/job/<name>/configure")
def configure_page(name: str) -> Response:
    """The job's configuration page (where a copy redirects to)."""
    with services().state.read():
        return text(f"{name}: configure\n", 200) if find_job(name) else missing()


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


@bp.post("/job/<name>/doRename")
def rename_job(name: str) -> Response:
    """Rename the job (Job.doDoRename, then AbstractItem.doConfirmRename).

    Refused with a `Failure` (400, `X-Error`) as AbstractItem.doCheckNewName
    refuses: a bad name (Jenkins.checkGoodName), the same name, a name in use, or a
    job that is building (Job.checkRename). Its builds and their consoles go with
    it (its workspace stays, as on Jenkins, where the new name gets a new one).
    Answers 302 to `../<newName>`, relative to `.../job/<name>/doRename`.
    """
    new = request.values.get("newName")
    new = new.strip() if new is not None else ""
    svc = services()
    with svc.state.transaction() as data:
        job = find_job(name)
        if job is None:
            return missing()
        problem = jenkins_jobs.check_name(new)
        if problem:
            return failure(problem)
        if new == name:
            return failure("The new name is the same as the current name.")
        if new in _jobs():
            return failure(f"The name \u201c{new}\u201d is already in use.")
        if any(b.get("building") for b in job["builds"]):
            return failure("Unable to rename a job while it is building.")
        _jobs()[new] = _jobs().pop(name)
        for build in job["builds"]:
            build["job"] = new
        for item in data["jenkins"]["queue"].values():
            if item["job"] == name:
                item["job"] = new
        # Last, inside the transaction: no build of it can start meanwhile.
        builds = svc.builds.root / "jobs"
        if (builds / name).exists():
            (builds / name).rename(builds / new)
    return Response(status=302, headers={"Location": f"../{quote(new, safe='')}"})


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
    """Enable or disable the job (ParameterizedJob.makeDisabled).

    A change saves the job (which makes a copy buildable: Job.save); no change is a
    no-op. Disabling takes the job's waiting builds out of the queue (Queue.cancel).
    """
    disable = action == "disable"
    with services().state.transaction() as data:
        job = find_job(name)
        if job is None:
            return missing()
        if job["disabled"] != disable:
            job["disabled"] = disable
            job.pop("hold_off_build", None)
            if disable:
                for item in data["jenkins"]["queue"].values():
                    if item["job"] == name and item.get("number") is None:
                        item["cancelled"] = True
    return Response(status=302, headers={"Location": url("job", name)})


@bp.get("/job/<name>/api/json")
def job_info(name: str) -> Response:
    """The job: builds, the last ones of each kind, parameter definitions, next build number."""
    return exported(lambda m: m.job(name) if name in m.jobs else None)
