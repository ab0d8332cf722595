"""GitLab's environments and deployments as records: create, find, link, represent.

The rules, from GitLab's source and docs (doc/api/deployments.md, doc/api/environments.md):

- `POST /deployments` finds the environment by name or creates it
  (`find_or_create_by_name`, lib/api/deployments.rb); a new environment's tier is
  guessed from its name unless given (Environment#guess_tier, app/models/environment.rb);
- an environment's `last_deployment` is its newest *successful* deployment
  (`has_one :last_deployment, -> { success.ordered }`);
- a deployment's merge requests cannot be set by a client: when a deployment turns
  `success`, GitLab links the MRs whose merge commit lies between the environment's
  previous successful deployment and this one, or, for its first, every MR merged
  into the deployed ref; environments in a folder (`review/...`) get none
  (app/services/deployments/link_merge_requests_service.rb, run by
  Deployments::LinkMergeRequestWorker on `after_transition any => :success`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from gitops_sandbox import gitrepo, shapes, users
from gitops_sandbox.context import Services
from gitops_sandbox.errors import ApiError, not_found
from gitops_sandbox.state import now_iso

TIERS = ("production", "staging", "testing", "development", "other")
# Deployment.statuses; POST and PUT accept only the four a client reports (lib/api/deployments.rb).
STATUSES = ("created", "running", "success", "failed", "canceled", "skipped", "blocked")
CLIENT_STATUSES = ("running", "success", "failed", "canceled")
FINISHED = ("success", "failed", "canceled")
# Environment#guess_tier, first match wins.
_GUESSES = (
    ("development", re.compile(r"(dev|review|trunk)", re.I)),
    ("testing", re.compile(r"(test|tst|int|ac(ce|)pt|qa|qc|control|quality)", re.I)),
    ("staging", re.compile(r"(st(a|)g|mod(e|)l|pre|demo|non)", re.I)),
    ("production", re.compile(r"(pr(o|)d|live)", re.I)),
)
# Gitlab::Regex.environment_name_regex and its message.
_NAME = re.compile(r"\A[a-zA-Z0-9_/${}. -]+\Z")
NAME_MESSAGE = (
    "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, "
    "but it cannot start or end with '/'"
)


def _tables(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The environments and deployments tables (absent in a state saved before them)."""
    return data.setdefault("environments", {}), data.setdefault("deployments", {})


def guess_tier(name: str) -> str:
    """The tier GitLab gives an environment created without one."""
    return next((tier for tier, pattern in _GUESSES if pattern.search(name)), "other")


def slug(name: str) -> str:
    """Gitlab::Slug::Environment: the name lowercased, `-` for anything else, at most 24
    characters; a changed or long name gets a suffix derived from it."""
    text = re.sub(r"[^a-z0-9]", "-", name.lower())
    if not text[:1].isalpha():
        text = "env-" + text
    if text == name and len(text) <= 24:
        return text
    suffix = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{text[:16].rstrip('-')}-{suffix}"


def of_project(data: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """A project's environments, by id."""
    envs, _ = _tables(data)
    return sorted((e for e in envs.values() if e["project_id"] == project_id), key=_id)


def find_environment(data: dict[str, Any], project_id: int, ident: int | str) -> dict[str, Any]:
    """An environment of the project by id, or GitLab's 404."""
    envs, _ = _tables(data)
    env = envs.get(str(ident))
    if env is None or env["project_id"] != project_id:
        raise not_found()
    return env


def by_name(data: dict[str, Any], project_id: int, name: str) -> dict[str, Any] | None:
    """The project's environment called `name`, if there is one."""
    return next((e for e in of_project(data, project_id) if e["name"] == name), None)


def create_environment(
    svc: Services,
    data: dict[str, Any],
    project_id: int,
    name: str,
    *,
    tier: str | None = None,
    external_url: str | None = None,
) -> dict[str, Any]:
    """A new environment (names are unique in a project: 400 `has already been taken`)."""
    errors = []
    if not _NAME.match(name) or name.startswith("/") or name.endswith("/") or len(name) > 255:
        errors.append(NAME_MESSAGE)
    if by_name(data, project_id, name) is not None:
        errors.append("has already been taken")
    if errors:
        raise ApiError(400, {"message": {"name": errors}})
    envs, _ = _tables(data)
    now = now_iso()
    env = {
        "id": svc.state.next_id("environment"),
        "project_id": project_id,
        "name": name,
        "slug": slug(name),
        "external_url": external_url or None,
        "tier": tier or guess_tier(name),
        "state": "available",
        "created_at": now,
        "updated_at": now,
    }
    envs[str(env["id"])] = env
    return env


def deployments_of(data: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """A project's deployments, by id."""
    _, deps = _tables(data)
    return sorted((d for d in deps.values() if d["project_id"] == project_id), key=_id)


def find_deployment(data: dict[str, Any], project_id: int, ident: int) -> dict[str, Any]:
    """A deployment of the project by id, or GitLab's 404."""
    _, deps = _tables(data)
    dep = deps.get(str(ident))
    if dep is None or dep["project_id"] != project_id:
        raise not_found()
    return dep


def last_deployment(data: dict[str, Any], env: dict[str, Any]) -> dict[str, Any] | None:
    """The environment's newest successful deployment (by when it finished)."""
    done = [
        d
        for d in deployments_of(data, env["project_id"])
        if d["environment_id"] == env["id"] and d["status"] == "success"
    ]
    return max(done, key=lambda d: (d["finished_at"] or "", d["id"]), default=None)


def create_deployment(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    env: dict[str, Any],
    fields: dict[str, Any],
    actor: users.User,
) -> dict[str, Any]:
    """A deployment of `env` (`ref`, `sha`, `tag`), then its status as update_status sets
    it (Deployments::CreateService)."""
    _, deps = _tables(data)
    now = now_iso()
    iid = 1 + max((d["iid"] for d in deployments_of(data, rec["id"])), default=0)
    dep = {
        "id": svc.state.next_id("deployment"),
        "iid": iid,
        "project_id": rec["id"],
        "environment_id": env["id"],
        "ref": fields["ref"],
        "sha": fields["sha"],
        "tag": fields["tag"],
        "status": "created",
        "user_id": actor.id,
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
        "merge_request_ids": [],
    }
    deps[str(dep["id"])] = dep
    change_status(svc, data, rec, dep, fields["status"])
    return dep


def change_status(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], dep: dict[str, Any], status: str
) -> None:
    """Deployment's state machine: `run` only from created; `succeed`, `drop`, `cancel`
    from any other status (app/models/deployment.rb). A refused transition is a 400."""
    current = dep["status"]
    allowed = current == "created" if status == "running" else current != status
    if not allowed:
        raise ApiError(400, {"message": f"400 Bad request - cannot change {current} to {status}"})
    dep["status"] = status
    dep["updated_at"] = now_iso()
    if status in FINISHED:
        dep["finished_at"] = dep["updated_at"]
    env = find_environment(data, rec["id"], dep["environment_id"])
    env["updated_at"] = dep["updated_at"]
    if status == "success":
        _link_merge_requests(svc.repo_path(rec), data, dep, env)


def _link_merge_requests(
    repo: Path, data: dict[str, Any], dep: dict[str, Any], env: dict[str, Any]
) -> None:
    """Deployments::LinkMergeRequestsService: the MRs this deployment shipped."""
    if "/" in env["name"]:  # an environment_type (review apps): nothing linked
        return
    previous = [
        d
        for d in deployments_of(data, dep["project_id"])
        if d["environment_id"] == env["id"] and d["status"] == "success" and d["id"] != dep["id"]
    ]
    mrs = [
        m
        for m in data["merge_requests"].values()
        if m["project_id"] == dep["project_id"] and m["state"] == "merged"
    ]
    if previous:
        shipped = _commits_between(repo, previous[-1]["sha"], dep["sha"])
        found = [m["id"] for m in mrs if m.get("merge_commit_sha") in shipped]
    else:
        found = [m["id"] for m in mrs if m["target_branch"] == dep["ref"]]
    dep["merge_request_ids"] = sorted(set(dep["merge_request_ids"]) | set(found))


def _commits_between(repo: Path, start: str, end: str) -> set[str]:
    """Repository#commits_between: what `end` has and `start` lacks (none if unknown)."""
    done = gitrepo.git(repo, "rev-list", f"{start}..{end}", ok_codes=(0, 128))
    return set(done.stdout.decode().split()) if done.returncode == 0 else set()


# ---- representations ---------------------------------------------------------------


def environment_basic(env: dict[str, Any]) -> dict[str, Any]:
    """Entities::EnvironmentBasic."""
    return {k: env[k] for k in ("id", "name", "slug", "external_url", "created_at", "updated_at")}


def deployment_json(
    svc: Services, data: dict[str, Any], dep: dict[str, Any], *, with_environment: bool = True
) -> dict[str, Any]:
    """Entities::Deployment; `deployable` is null for a deployment made through the API."""
    body: dict[str, Any] = {
        k: dep[k] for k in ("id", "iid", "ref", "sha", "created_at", "updated_at")
    }
    body["user"] = shapes.user(svc.base_url, users.by_id(dep["user_id"]))
    if with_environment:
        env = find_environment(data, dep["project_id"], dep["environment_id"])
        body["environment"] = environment_basic(env)
    body["deployable"] = None
    body["status"] = dep["status"]
    return body


def environment_json(
    svc: Services,
    data: dict[str, Any],
    env: dict[str, Any],
    project: dict[str, Any] | None,
    *,
    with_last: bool = False,
) -> dict[str, Any]:
    """Entities::Environment: the list shows the project, a single GET instead shows
    `last_deployment` (without its environment), lib/api/environments.rb."""
    body = {**environment_basic(env), "tier": env["tier"], "state": env["state"]}
    body["auto_stop_at"] = None
    if project is not None:
        body["project"] = project
    if with_last:
        last = last_deployment(data, env)
        body["last_deployment"] = (
            None if last is None else deployment_json(svc, data, last, with_environment=False)
        )
    return body


def _id(rec: dict[str, Any]) -> int:
    return int(rec["id"])
