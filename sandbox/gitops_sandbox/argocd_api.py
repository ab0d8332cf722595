"""Argo CD's REST API, the Applications subset a client needs, served under `/argocd`
as `argocd-server --rootpath /argocd` serves it (docs/SANDBOX.md, "Argo CD").

Routes (server/application/application.proto, assets/swagger.json):
`GET /api/v1/applications` (`selector`, `projects` / `project`, `name`),
`GET /api/v1/applications/{name}` (`project`), `POST /api/v1/applications/{name}/sync`
(`revision`, `prune`, `dryRun`, `project`). Auth as argocd-server checks it
(developer-guide/api-docs.md): `Authorization: Bearer <token>` or the `argocd.token`
cookie. The admin's sandbox token is Argo CD's `admin` (role:admin); the developer's
is a local account `developer` with `role:readonly` (operator-manual/rbac.md): it
gets and lists, and may not sync.

Errors are grpc-gateway v1's body, `{"error": m, "code": <gRPC code>, "message": m}`,
with its HTTP status for the code (runtime/errors.go HTTPStatusFromCode).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from flask import Blueprint, Response, g, request

from gitops_sandbox.api_util import json_response, params, require_admin
from gitops_sandbox.argocd import AppRecord, ArgoCD
from gitops_sandbox.argocd_selector import SelectorError, parse
from gitops_sandbox.argocd_shapes import application
from gitops_sandbox.context import services
from gitops_sandbox.errors import ApiError

ROOT_PATH = "/argocd"
bp = Blueprint("argocd", __name__, url_prefix=f"{ROOT_PATH}/api/v1")
admin_bp = Blueprint("sandbox_argocd", __name__, url_prefix="/-/sandbox/argocd")

# gRPC codes (google.golang.org/grpc/codes) and grpc-gateway's HTTP status for each.
UNKNOWN, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED = 2, 3, 5, 7
FAILED_PRECONDITION, UNAUTHENTICATED = 9, 16
_HTTP = {UNKNOWN: 500, INVALID_ARGUMENT: 400, NOT_FOUND: 404, PERMISSION_DENIED: 403,
         FAILED_PRECONDITION: 400, UNAUTHENTICATED: 401}  # fmt: skip


def grpc_error(code: int, message: str) -> ApiError:
    """grpc-gateway's error answer for a gRPC status."""
    return ApiError(_HTTP[code], {"error": message, "code": code, "message": message})


def permission_denied() -> ApiError:
    """common.PermissionDeniedAPIError: what a missing or hidden Application gets."""
    return grpc_error(PERMISSION_DENIED, "permission denied")


def app_not_found(name: str) -> ApiError:
    """A NotFound naming the resource as Kubernetes does (apierrors.NewNotFound)."""
    return grpc_error(NOT_FOUND, f'applications.argoproj.io "{name}" not found')


def model() -> ArgoCD:
    """The sandbox's Argo CD."""
    return services().argocd


# ---- auth --------------------------------------------------------------------------------


@bp.before_request
def _authenticate() -> Response | None:
    """Content type first (argocd-server's enforceContentTypes: `application/json`, the
    default of --api-content-types, for every non-GET), then the session (server.go
    getClaims: ErrNoSession, or "invalid session: ...")."""
    if request.method != "GET" and request.headers.get("Content-Type", "").lower() != (
        "application/json"
    ):
        return Response("Invalid content type\n", status=415, mimetype="text/plain")
    auth = request.headers.get("Authorization", "")
    token = (
        auth[7:].strip() if auth[:7].lower() == "bearer " else request.cookies.get("argocd.token")
    )
    if not token:
        raise grpc_error(UNAUTHENTICATED, "no session information")
    svc, account = services(), None
    for name, secret in (("admin", svc.token), ("developer", svc.developer_token)):
        if hmac.compare_digest(token.encode(), secret.encode()):
            account = name
    if account is None:
        # What golang-jwt says of a token that is not a JWT (the sandbox's are opaque).
        raise grpc_error(
            UNAUTHENTICATED,
            "invalid session: token is malformed: token contains an invalid number of segments",
        )
    g.argocd_account = account
    return None


def _may_sync(rec: AppRecord) -> None:
    """role:readonly has `applications, get` only (rbac.EnforceErr's message)."""
    account = g.argocd_account
    if account != "admin":
        project = _project_of(rec)
        raise grpc_error(
            PERMISSION_DENIED,
            f"permission denied: applications, sync, {project}/{rec.name}, sub: {account}",
        )


def _project_of(rec: AppRecord) -> str:
    """spec.project, `default` when empty (ApplicationSpec.GetProject)."""
    return str((rec.found.manifest.get("spec") or {}).get("project") or "default")


# ---- the API -----------------------------------------------------------------------------


@bp.get("/applications")
def list_applications() -> Response:
    """ApplicationService.List: label selector, projects, name; sorted by name; an app
    the caller may not get is left out (both accounts may get every app)."""
    try:
        matches = parse(request.args.get("selector", ""))
    except SelectorError as e:
        raise grpc_error(UNKNOWN, f"error parsing the selector: {e}") from e
    projects = request.args.getlist("project") or request.args.getlist("projects")
    name = request.args.get("name")
    now, argocd = time.time(), model()
    items = [
        application(argocd, rec, now)
        for rec in argocd.applications(services())
        if matches(_labels(rec))
        and (not projects or _project_of(rec) in projects)
        and (name is None or rec.name == name)
    ]
    return json_response({"metadata": {"resourceVersion": _version(now)}, "items": items})


@bp.get("/applications/<name>")
def get_application(name: str) -> Response:
    """ApplicationService.Get."""
    rec = _visible(name, _one_project(request.args.getlist("project")
                                      or request.args.getlist("projects")))  # fmt: skip
    return json_response(application(model(), rec, time.time()))


@bp.post("/applications/<name>/sync")
def sync_application(name: str) -> Response:
    """ApplicationService.Sync: checks as Server.Sync does (get, then sync rights, then the
    revision, then no operation in progress); answers the Application with `operation`
    set and `operationState` cleared (util/argo SetAppOperation); the controller runs it."""
    body = _body()
    rec = _visible(name, str(body.get("project") or ""))
    _may_sync(rec)
    argocd = model()
    revision = _revision(argocd, rec, body)
    if argocd.running(rec):
        raise grpc_error(
            FAILED_PRECONDITION,
            "error setting app operation: another operation is already in progress",
        )
    argocd.start_sync(
        rec,
        revision,
        g.argocd_account,
        prune=body.get("prune") is True,
        dry_run=body.get("dryRun") is True,
    )
    answer = application(argocd, rec, time.time())
    answer["status"].pop("operationState", None)
    return json_response(answer)


# ---- helpers -----------------------------------------------------------------------------


def _visible(name: str, project: str) -> AppRecord:
    """Server.getAppEnforceRBAC: a missing Application is 403 "permission denied" unless
    the request names a project; then 404, also for an app of another project (the
    source's answer; developer-guide/api-docs.md says 403 for that case)."""
    rec = model().application(services(), name)
    if rec is None:
        raise app_not_found(name) if project else permission_denied()
    if project and _project_of(rec) != project:
        raise app_not_found(name)
    return rec


def _one_project(projects: list[str]) -> str:
    if len(projects) > 1:
        raise grpc_error(
            INVALID_ARGUMENT,
            "multiple projects specified - the get endpoint accepts either zero or one project",
        )
    return projects[0] if projects else ""


def _body() -> dict[str, Any]:
    """The ApplicationSyncRequest (JSON; an empty body is an empty request)."""
    raw = request.get_data(as_text=True).strip()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise grpc_error(INVALID_ARGUMENT, f"invalid JSON body: {e}") from e
    if not isinstance(body, dict):
        raise grpc_error(INVALID_ARGUMENT, "the request body must be a JSON object")
    return body


def _revision(argocd: ArgoCD, rec: AppRecord, body: dict[str, Any]) -> str:
    """Server.resolveSourceRevisions: another revision than targetRevision only without
    automated sync (or for a dry run); the commit it names."""
    target = str(rec.source.get("targetRevision") or "HEAD")
    wanted = str(body.get("revision") or "")
    if wanted and wanted != target and rec.automated and body.get("dryRun") is not True:
        raise grpc_error(
            FAILED_PRECONDITION, f"Cannot sync to {wanted}: auto-sync currently set to {target}"
        )
    sha = argocd.resolve(rec, wanted or target)
    if sha is None:
        raise grpc_error(
            FAILED_PRECONDITION, f"unable to resolve '{wanted or target}' to a commit SHA"
        )
    return sha


def _labels(rec: AppRecord) -> dict[str, str]:
    labels = (rec.found.manifest.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def _version(now: float) -> str:
    """A list's metadata.resourceVersion: opaque to clients; grows with time here."""
    return str(int(now * 1000))


# ---- sandbox-only admin: Argo CD faults ----------------------------------------------------


@admin_bp.before_request
def _admin_only() -> None:
    require_admin()


@admin_bp.get("/faults")
def list_faults() -> Response:
    """The Argo CD fault rules in force."""
    return json_response(model().faults.list())


@admin_bp.post("/faults")
def add_fault() -> Response:
    """Add a rule: `{app, health, message, sync, sync_failed, seconds}` (argocd_faults.py)."""
    return json_response(model().faults.add(params()), 201)


@admin_bp.delete("/faults")
def clear_faults() -> Response:
    """Remove every Argo CD fault rule."""
    model().faults.clear()
    return Response(status=204)
