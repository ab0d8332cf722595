"""Jenkins builds: trigger, the queue, build info, console text, stop.

A trigger puts an item in the queue (201, `Location: .../queue/item/<n>/`) with
the parameters Jenkins would pass: the job's declared ones, defaults filled in,
undeclared ones dropped (as Jenkins does since SECURITY-170). An executor takes
it (`jenkins_executors.py`) and the item then points at build #n. The console is
`.../<n>/consoleText` (whole) or `.../<n>/logText/progressiveText?start=<bytes>`
and `progressiveHtml` (from an offset, with `X-Text-Size` and `X-More-Data` while
the build runs), read from the log file as it is now.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, request

from gitops_sandbox import jenkins_api, jenkins_shapes
from gitops_sandbox.context import services
from gitops_sandbox.jenkins_api import exported, find_job, missing, text, url
from gitops_sandbox.jenkins_executors import now_ms

bp = Blueprint("jenkins_builds", __name__, url_prefix="/jenkins")
bp.before_request(jenkins_api.authenticate)
bp.after_request(jenkins_api.identify)
PERMALINKS = jenkins_shapes.PERMALINKS


@bp.post("/job/<name>/<any(build, buildWithParameters):kind>")
def trigger(name: str, kind: str) -> Response:
    """Queue a build with its parameters; 201 with the queue item's Location."""
    submitted = {
        k: v
        for k, v in {**request.form, **request.args}.items()
        if k not in ("token", "delay", "cause")
    }
    queued = queue_build(name, submitted, parameterized=kind == "buildWithParameters")
    if isinstance(queued, Response):
        return queued
    return Response(status=201, headers={"Location": url("queue", "item", str(queued))})


def queue_build(name: str, submitted: dict[str, str], *, parameterized: bool) -> int | Response:
    """Put a build of job `name` in the queue; its queue id, or Jenkins' refusal.

    As ParameterizedJobMixIn.doBuild / doBuildWithParameters (Jenkins 2.462.3): a
    job that is not buildable (disabled, or a copy never saved) is a 409 "<name> is
    not buildable" ("...!" for buildWithParameters), and buildWithParameters on a
    job without parameters throws IllegalStateException("This build is not
    parameterized!"), which Jenkins answers with a 500.
    """
    svc = services()
    with svc.state.transaction() as data:
        job = find_job(name)
        if job is None:
            return missing()
        if not jenkins_shapes.buildable(job):
            return text(f"{name} is not buildable{'!' if parameterized else ''}\n", 409)
        if parameterized and not job["parameters"]:
            return text("java.lang.IllegalStateException: This build is not parameterized!\n", 500)
        queue_id = svc.state.next_id("jenkins_queue")
        data["jenkins"]["queue"][str(queue_id)] = {
            "id": queue_id,
            "job": name,
            "number": None,
            "cancelled": False,
            "in_queue_since": now_ms(),
            "submitted": submitted,
            "parameters": [
                {"name": p["name"], "value": submitted.get(p["name"], p["default"])}
                for p in job["parameters"]
            ],
        }
    svc.builds.enqueue(queue_id)
    return queue_id


def _find_build(job: dict[str, Any] | None, number: int) -> dict[str, Any] | None:
    return next((b for b in (job or {}).get("builds", []) if b["number"] == number), None)


def _resolve(name: str, ref: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The job and the build `ref` names: a number or a permalink (lastBuild, ...)."""
    job = find_job(name)
    if job is None:
        return None
    if ref.isdigit():
        build = _find_build(job, int(ref))
    else:
        matching = [b for b in job["builds"] if ref in PERMALINKS and PERMALINKS[ref](b)]
        build = max(matching, key=lambda b: b["number"]) if matching else None
    return (job, build) if build else None


@bp.get("/queue/api/json")
def queue_list() -> Response:
    """The items waiting for an executor (python-jenkins' get_queue_info)."""
    return exported(jenkins_shapes.queue)


@bp.get("/queue/item/<int:queue_id>/api/json")
def queue_item(queue_id: int) -> Response:
    """A queue item: waiting, or left the queue for its build (or cancelled)."""

    def make(m: jenkins_shapes.Model) -> jenkins_shapes.Bean | None:
        item = m.queue.get(str(queue_id))
        return m.queue_item(item) if item is not None else None

    return exported(make)


@bp.post("/queue/cancelItem")
def cancel_item() -> Response:
    """Take a waiting item out of the queue (python-jenkins' cancel_queue)."""
    queue_id = request.args.get("id", "")
    with services().state.transaction() as data:
        item = data["jenkins"]["queue"].get(queue_id)
        if item is None:
            return missing()
        if item.get("number") is None:
            item["cancelled"] = True
    return Response(status=302, headers={"Location": url("queue")})


@bp.get("/job/<name>/<ref>/")
def build_page(name: str, ref: str) -> Response:
    """The build's page (where Stop redirects): only its status matters to API clients."""
    with services().state.read():
        found = _resolve(name, ref)
    return text(f"{name} #{found[1]['number']}\n", 200) if found else missing()


@bp.get("/job/<name>/<ref>/api/json")
def build_info(name: str, ref: str) -> Response:
    """A build: parameters, cause, `building`, `result` (null until it ends), description."""

    def make(m: jenkins_shapes.Model) -> jenkins_shapes.Bean | None:
        found = _resolve(name, ref)
        return m.build(name, found[1]) if found else None

    return exported(make)


def _log(name: str, ref: str) -> tuple[bytes, bool] | None:
    """A build's console so far, and whether it is still building."""
    svc = services()
    with svc.state.read():
        found = _resolve(name, ref)
        if not found:
            return None
        _, build = found
        building, number = bool(build.get("building")), build["number"]
    path = svc.builds.log_path(name, number)
    return (path.read_bytes() if path.exists() else b""), building


@bp.get("/job/<name>/<ref>/testReport/api/json")
def test_report(name: str, ref: str) -> Response:
    """The build's test results (hudson.tasks.junit.TestResult, python-jenkins'
    get_build_test_report): what its `junit` steps recorded; 404 without any."""
    svc = services()
    with svc.state.read():
        found = _resolve(name, ref)
    if not found:
        return missing()
    path = svc.builds.build_dir(name, found[1]["number"]) / "junitResult.json"
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return missing()
    cls = report.pop("_class", "hudson.tasks.junit.TestResult")
    return exported(lambda m: jenkins_shapes.Bean(cls, report))


@bp.get("/job/<name>/<ref>/consoleText")
def console_text(name: str, ref: str) -> Response:
    """The whole console (python-jenkins' get_build_console_output)."""
    found = _log(name, ref)
    if found is None:
        return missing()
    return Response(found[0], mimetype="text/plain", content_type="text/plain; charset=utf-8")


# LargeText.writeLogTo reads at most this many lines of a log still being written.
MAX_LINES_READ = 10000


@bp.get("/job/<name>/<ref>/logText/<any(progressiveText, progressiveHtml):kind>")
def progressive(name: str, ref: str, kind: str) -> Response:
    """The console from byte `start`, as far as it is written now (AnnotatedLargeText).

    As stapler's LargeText.doProgressText: a `start` past the end starts again from
    0 ("text rolled over"); while the build runs only whole lines are sent (up to
    the last newline, at most 10000 lines) and `X-More-Data: true` says to ask
    again; `X-Text-Size` is the byte offset to ask from next; a lone LF is sent as
    CR+LF (LineEndNormalizingWriter). progressiveHtml sends the same text with
    `<`, `>` and `&` escaped (text/html; ConsoleAnnotationOutputStream), with an
    `X-ConsoleAnnotator` for the next call (opaque; the sandbox has no console
    annotations).
    """
    found = _log(name, ref)
    if found is None:
        return missing()
    content, building = found
    start = request.args.get("start", "0")
    try:
        offset = int(start)
        if offset < 0:
            raise ValueError(start)
    except ValueError:
        return text(f'java.lang.NumberFormatException: For input string: "{start}"\n', 500)
    if offset > len(content):
        offset = 0
    chunk = content[offset:]
    if building:
        lines = chunk.splitlines(keepends=True)[:MAX_LINES_READ]
        whole = [line for line in lines if line.endswith((b"\n", b"\r"))]
        chunk = b"".join(whole)
    headers = {"X-Text-Size": str(offset + len(chunk))}
    if building:
        headers["X-More-Data"] = "true"
    # LineEndNormalizingWriter: a lone LF goes out as CR+LF (X-Text-Size counts the file's).
    body = re.sub(r"(?<!\r)\n", "\r\n", chunk.decode("utf-8", errors="replace"))
    if kind == "progressiveHtml":
        headers["X-ConsoleAnnotator"] = "AA=="
        # MarkupText.toString(true) -> Util.xmlEscape: only <, > and & (spaces, lines intact).
        html = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return Response(html, headers=headers, content_type="text/html;charset=UTF-8")
    return Response(body, headers=headers, content_type="text/plain;charset=UTF-8")


@bp.post("/job/<name>/<int:number>/stop")
def stop(name: str, number: int) -> Response:
    """Abort a running build (Jenkins' Stop): it ends ABORTED."""
    svc = services()
    with svc.state.read():
        if not _find_build(find_job(name), number):
            return missing()
    svc.builds.abort(name, number)
    return Response(status=302, headers={"Location": url("job", name, str(number))})
