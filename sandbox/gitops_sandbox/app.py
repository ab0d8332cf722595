"""The sandbox's Flask app factory: GitLab API, git smart HTTP, Jenkins, admin.

No app at module level: `create_app(state_dir, token)` builds one around a state
directory, so tests run many sandboxes side by side. Call `shutdown_app(app)` to
stop its webhook worker (the server in `server.py` does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from gitops_sandbox import (
    admin_api,
    argocd_api,
    git_http,
    gitlab_api,
    gitlab_commits,
    gitlab_deployments,
    gitlab_merge_requests,
    gitlab_repository,
    health,
    jenkins_api,
    jenkins_builds,
    jenkins_push,
    web_environments,
    web_pages,
)
from gitops_sandbox.api_util import RAW_PATH_KEY, EncodedConverter, json_response
from gitops_sandbox.argocd import ArgoCD
from gitops_sandbox.context import (
    DEFAULT_DEVELOPER_TOKEN,
    GITLAB_VERSION,
    Services,
    check_tokens,
    services,
)
from gitops_sandbox.errors import ApiError, GitError
from gitops_sandbox.faults import Fault, Faults, default_body, drip_raw, dripping
from gitops_sandbox.hooks import HookDispatcher
from gitops_sandbox.jenkins_config import JenkinsSettings
from gitops_sandbox.jenkins_executors import BuildRunner
from gitops_sandbox.state import State

log = logging.getLogger(__name__)
API_PREFIX = "/api/v4/"
ADMIN_PREFIX = "/-/sandbox/"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RawApiPath:
    """WSGI middleware: route `/api/v4/` on the still-encoded path.

    The server decodes `%2F` to `/` in PATH_INFO, which would split
    `projects/platform%2Fk8s-deployments` into two segments. GitLab routes on the
    encoded path; so do we, and `EncodedConverter` decodes each segment.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Swap in the raw path for API requests, then call the app."""
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw:
            raw_path = raw.split("?", 1)[0]
            if "://" in raw_path:  # absolute-form request target
                raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
            environ[RAW_PATH_KEY] = raw_path
            if raw_path.startswith(API_PREFIX):
                environ["PATH_INFO"] = raw_path
        return self.app(environ, start_response)


def create_app(
    state_dir: Path | str,
    token: str,
    *,
    developer_token: str = DEFAULT_DEVELOPER_TOKEN,
    settings: Mapping[str, Any] | None = None,
) -> Flask:
    """Build a sandbox app whose state (JSON and bare repos) lives in `state_dir`.

    `token` is the administrator's, `developer_token` the developer's (they must differ).

    `settings` may hold `external_url`, `hook_timeout`, `hook_retry_delays`,
    `argocd_sync_delay` (how long an Argo CD sync takes, argocd.py), `ready`
    (default True; False holds traffic with 503 until `svc.ready` is set) and
    `jenkins` (a `JenkinsSettings`: libraries, credentials, environment, agent PATH).
    """
    check_tokens(token, developer_token)
    options = dict(settings or {})
    app = Flask(__name__)
    app.config.update(SANDBOX_STATE_DIR=str(state_dir))
    state = State(Path(state_dir))
    svc: Services
    hooks = HookDispatcher(
        state,
        instance_url=lambda: svc.base_url,
        user_agent=f"GitLab/{GITLAB_VERSION}",
        timeout=float(options.get("hook_timeout", 5.0)),
        retry_delays=options.get("hook_retry_delays", (0.2, 0.5, 1.0)),
    )
    builds = BuildRunner(
        state, options.get("jenkins") or JenkinsSettings(), token, lambda: svc.base_url
    )
    svc = Services(
        state=state,
        hooks=hooks,
        faults=Faults(),
        builds=builds,
        argocd=ArgoCD(float(options.get("argocd_sync_delay", 0.3))),
        token=token,
        developer_token=developer_token,
        external_url=options.get("external_url"),
        settings=options,
    )
    app.extensions["sandbox"] = svc
    app.url_map.converters["enc"] = EncodedConverter
    if options.get("ready", True):
        svc.ready.set()
    for blueprint in (
        health.bp,
        gitlab_api.bp,
        gitlab_repository.bp,
        gitlab_commits.bp,
        gitlab_merge_requests.bp,
        gitlab_deployments.bp,
        git_http.bp,
        jenkins_api.bp,
        jenkins_builds.bp,
        jenkins_push.bp,
        admin_api.bp,
        argocd_api.bp,
        argocd_api.admin_bp,
        web_environments.bp,
        web_pages.bp,  # last: its catch-all project route must not shadow the others
    ):
        app.register_blueprint(blueprint)
    app.before_request(health.gate)  # first: nothing else runs before the sandbox is ready
    app.before_request(_inject_faults)
    app.after_request(_drip_answer)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(GitError, _git_error)
    app.wsgi_app = RawApiPath(app.wsgi_app)  # type: ignore[method-assign]
    hooks.start()
    builds.start()
    return app


def shutdown_app(app: Flask) -> None:
    """Stop the app's Jenkins executors (running builds end ABORTED) and webhook worker.

    Pending deliveries and queued builds resume on the next start.
    """
    svc: Services = app.extensions["sandbox"]
    svc.builds.stop()
    svc.hooks.stop()


def _inject_faults() -> Response | None:
    """Apply the first matching fault rule: delay, then fail with its status if it has one;
    a dripping rule marks the request for `_drip_answer`."""
    if request.path.startswith(ADMIN_PREFIX):
        return None
    fault = services().faults.take(request.method, request.path)
    if fault is None:
        return None
    if fault.drip:
        g.sandbox_drip = fault
    if fault.delay:
        time.sleep(fault.delay)
    if fault.status is None:
        return None
    return json_response(
        fault.body if fault.body is not None else default_body(fault.status), fault.status
    )


def _drip_answer(response: Response) -> Response:
    """A dripping fault's answer, as a slow proxy passes it on: the headers (with the
    whole body's Content-Length) at once, then the body one byte every `drip` seconds;
    with `drip_headers`, byte by byte from the status line on."""
    fault: Fault | None = g.pop("sandbox_drip", None)
    if fault is None:
        return response
    body = response.get_data()
    if fault.drip_headers:
        drip_raw(
            request.environ["werkzeug.socket"],
            response.status,
            response.headers.items(),
            body,
            fault.drip,
        )
        return response  # the socket is shut: Werkzeug's write of it fails quietly
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return Response(dripping(body, fault.drip), status=response.status, headers=headers)


def _api_error(e: ApiError) -> Response:
    return json_response(e.body, e.status)


def _http_error(e: HTTPException) -> Response | HTTPException:
    """GitLab's JSON error shapes under /api/v4; Werkzeug's pages elsewhere."""
    if request.path.startswith((API_PREFIX, ADMIN_PREFIX)):
        code = e.code or 500
        if code == 404:
            return json_response({"error": "404 Not Found"}, 404)
        if code == 405:
            return json_response({"error": "405 Method Not Allowed"}, 405)
        return json_response({"message": f"{code} {e.name}"}, code)
    return e


def _git_error(e: GitError) -> Response:
    log.error("git failed: %s", e)
    return json_response({"message": "500 Internal Server Error"}, 500)
