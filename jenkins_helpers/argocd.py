"""Argo CD, read through its REST API: what runs in each environment, and how healthy.

The promotion gate (operations/health_gate.py) and the status board read each
promoted app's Application (`<env>-<app>`, platform/argocd.cue) from here. Only
reads: GET /api/v1/applications/{name} and GET /api/v1/applications?selector=
(Argo CD's API docs, developer-guide/api-docs; the Application's status fields:
operator-manual/declarative-setup, "Applications"), so the token needs no more than
`applications, get` (docs/ARGOCD.md).

Requests go through our DeadlineAdapter and retry policy (http.py, retry.py) like
GitLab's and Jenkins'. The bearer token is registered with the masker and never
put in a message; Argo CD's error body (`{"error", "code", "message"}`, gRPC-gateway)
becomes a UserError naming the Application.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

from jenkins_helpers import http, inputs, retry, secrets
from jenkins_helpers.errors import BadInput, UserError

log = logging.getLogger(__name__)
DEFAULT_TOKEN_ENV = "ARGOCD_TOKEN"  # noqa: S105 - a variable name, not a token
RBAC_HINT = (
    "give the token's account `applications, get` on the Applications' project "
    "(docs/ARGOCD.md, 'Token')"
)


@dataclass(frozen=True)
class AppState:
    """One Application's status as Argo CD reports it (all of `status`, as read)."""

    name: str
    sync_status: str  # Synced | OutOfSync | Unknown
    revision: str | None  # status.sync.revision: the commit it compared against
    health: str  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    health_message: str = ""
    operation_phase: str | None = None  # status.operationState.phase: Running, Succeeded...
    reconciled_at: str | None = None  # status.reconciledAt (RFC 3339)
    deployed_at: str | None = None  # the newest status.history entry's deployedAt

    @property
    def healthy_and_synced(self) -> bool:
        """Synced and Healthy; whether at the right commit is the gate's to tell."""
        return self.sync_status == "Synced" and self.health == "Healthy"

    @staticmethod
    def from_json(item: Mapping[str, Any]) -> AppState:
        """An AppState from an Application object of the API (missing fields: Unknown)."""
        meta = _mapping(item.get("metadata"))
        status = _mapping(item.get("status"))
        sync, health = _mapping(status.get("sync")), _mapping(status.get("health"))
        history = [h for h in status.get("history") or [] if isinstance(h, Mapping)]
        return AppState(
            name=str(meta.get("name", "")),
            sync_status=str(sync.get("status") or "Unknown"),
            revision=_text(sync.get("revision")),
            health=str(health.get("status") or "Unknown"),
            health_message=str(health.get("message") or ""),
            operation_phase=_text(_mapping(status.get("operationState")).get("phase")),
            reconciled_at=_text(status.get("reconciledAt")),
            deployed_at=_text(history[-1].get("deployedAt")) if history else None,
        )


def application_name(env: str, app: str) -> str:
    """The Application of `app` in `env`, as platform/argocd.cue names it."""
    return f"{env}-{app}"


class ArgoCD(Protocol):
    """What the gate and the board read from Argo CD."""

    def application(self, name: str) -> AppState | None:
        """The Application called `name`; None when Argo CD says there is none (404)."""
        ...

    def applications(self, selector: str | None = None) -> list[AppState]:
        """Every Application the token may see, or those matching a label `selector`."""
        ...


@dataclass(frozen=True)
class ArgoCDAccess:
    """Where Argo CD is, the token that reads it, and the project its Applications are in."""

    url: str
    token: str
    project: str | None = None  # sent as ?project=: Argo CD then answers 404, not 403

    def __repr__(self) -> str:
        return f"ArgoCDAccess(url={self.url!r}, project={self.project!r})"


def access(
    url: str, token_env: str, project: str | None = None, environ: Mapping[str, str] | None = None
) -> ArgoCDAccess:
    """Argo CD at `url` with the token in the environment variable `token_env`."""
    source = os.environ if environ is None else environ
    raw = source.get(token_env, "")
    if not raw.strip():
        raise BadInput(
            f"gitops.yaml sets `argocd:` but {token_env} is not set",
            f"set {token_env} to an Argo CD API token (argocd account generate-token); "
            "or remove `argocd:` from gitops.yaml to turn the health gate off",
        )
    checked = inputs.server_url(url, "Argo CD URL")
    return ArgoCDAccess(checked, secrets.checked_token(raw, token_env), project)


class ArgoCDClient:
    """Argo CD's REST API, read with a bearer token."""

    def __init__(self, access: ArgoCDAccess, *, deadlines: http.Deadlines | None = None) -> None:
        self.access = access
        self.url = access.url
        self.deadlines = deadlines or http.Deadlines.from_environment()
        secrets.register(access.token)
        self._session = requests.Session()
        self._adapter = http.mount(self._session, http.DeadlineAdapter(self.deadlines.request))
        self._session.headers["Authorization"] = f"Bearer {access.token}"
        self._session.headers["Accept"] = "application/json"

    def application(self, name: str) -> AppState | None:
        found = self._get(f"/api/v1/applications/{quote(name, safe='')}", name, self._project())
        return None if found is None else AppState.from_json(found)

    def applications(self, selector: str | None = None) -> list[AppState]:
        params = self._project()
        if selector:
            params["selector"] = selector
        found = self._get("/api/v1/applications", "the list of Applications", params) or {}
        return [AppState.from_json(i) for i in found.get("items") or [] if isinstance(i, dict)]

    def close(self) -> None:
        self._session.close()

    def _project(self) -> dict[str, str]:
        return {"project": self.access.project} if self.access.project else {}

    def _get(self, path: str, what: str, params: dict[str, str]) -> dict[str, Any] | None:
        """GET `path`: its JSON object, None on 404; retried when it may pass."""
        doing = f"reading {what} from Argo CD"

        def attempt() -> dict[str, Any] | None:
            response = self._session.get(self.url + path, params=params)
            if response.status_code == 404:
                return None
            if response.status_code >= 500:
                raise _Answer(response.status_code, _reason(response))
            if response.status_code >= 400:
                raise self._refused(response, what)
            body = _json(response)
            if not isinstance(body, dict):
                raise UserError(f"Argo CD at {self.url} answered {doing} with no JSON object")
            return body

        def transient(e: Exception) -> retry.Transient:
            if isinstance(e, _Answer):
                problem = f"Argo CD answered HTTP {e.status}"
                return retry.Transient(
                    problem,
                    UserError(
                        secrets.mask(f"{problem} while {doing}: {e.reason}"),
                        "rerun; if it keeps failing, check argocd-server's log",
                    ),
                )
            why = e.reason if isinstance(e, http.DeadlineExceeded) else type(e).__name__
            return retry.Transient(
                f"Argo CD at {self.url} not reachable ({why})",
                UserError(
                    f"cannot reach Argo CD at {self.url} ({why}) while {doing}",
                    "check `argocd.url` in gitops.yaml and the network; then rerun",
                ),
            )

        return retry.call(
            doing,
            attempt,
            failures=(_Answer, requests.RequestException),
            transient=transient,
            deadlines=self.deadlines,
            deadline_hint="Argo CD answers too slowly: check argocd-server, then rerun",
            log=log,
            adapter=self._adapter,
        )

    def _refused(self, response: requests.Response, what: str) -> UserError:
        reason = _reason(response)
        if response.status_code == 401:
            return UserError(
                f"Argo CD at {self.url} rejected the token ({reason})",
                "the token may have expired or been revoked: generate a new one "
                "(argocd account generate-token) and set it again",
            )
        if response.status_code == 403:
            # Argo CD answers 403, not 404, for an Application that does not exist
            # unless the request names its project (developer-guide/api-docs, "How to
            # avoid 403 errors for missing applications").
            return UserError(
                f"Argo CD refused reading {what} ({reason})",
                f"either it does not exist or the token may not read it: {RBAC_HINT}; "
                "set `argocd.project` in gitops.yaml to have missing ones reported as such",
            )
        return UserError(
            secrets.mask(f"Argo CD answered HTTP {response.status_code} reading {what}: {reason}")
        )


class _Answer(Exception):
    """A 5xx answer: worth another attempt."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


def _reason(response: requests.Response) -> str:
    """Argo CD's own words for an error (`message`, else `error`), short and masked."""
    body = _json(response)
    text = ""
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or "")
    text = text or response.reason or f"HTTP {response.status_code}"
    return secrets.mask(" ".join(text.split())[:300])


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def client(url: str, token_env: str, project: str | None = None) -> ArgoCDClient:
    """A client for gitops.yaml's `argocd:` (its url, token_env and project)."""
    return ArgoCDClient(access(url, token_env, project))
