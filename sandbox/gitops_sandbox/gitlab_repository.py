"""GitLab REST API v4, repository part: branches, files, tree, commits, compare.

Everything is read from (or, for branches, written to) the project's bare repo.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response

from gitops_sandbox import gitdiff, gitrepo, merge_requests, projects, shapes, users
from gitops_sandbox.api_util import (
    authenticate_api,
    current_user,
    json_response,
    paginate,
    params,
    search,
    to_bool,
)
from gitops_sandbox.context import Services, services
from gitops_sandbox.errors import ApiError, bad_request, missing, not_found

bp = Blueprint("gitlab_repository", __name__, url_prefix="/api/v4/projects/<enc:pid>/repository")


@bp.before_request
def _authenticate() -> Response | None:
    """The token, or an anonymous caller who sees no project (`authenticate_api`)."""
    return authenticate_api()


def _project(svc: Services, pid: str) -> tuple[dict[str, Any], Path]:
    with svc.state.read() as data:
        rec = projects.get(data, pid)
        return rec, svc.repo_path(rec)


def _commit(repo: Path, ref: str, what: str = "Commit") -> str:
    sha = gitrepo.resolve(repo, ref)
    if sha is None:
        raise not_found(what)
    return sha


# ---- branches -----------------------------------------------------------------------


def _branches_json(
    svc: Services, rec: dict[str, Any], repo: Path, heads: dict[str, str]
) -> list[dict[str, Any]]:
    if not heads:
        return []
    default_sha = gitrepo.branches(repo).get(rec["default_branch"])
    merged = gitrepo.merged_into(repo, default_sha) if default_sha else set()
    commits = {c.sha: c for c in gitrepo.log(repo, sorted(set(heads.values())), no_walk=True)}
    with svc.state.read() as data:
        return [
            shapes.branch(
                svc.base_url,
                rec,
                name,
                commits[sha],
                protected=projects.is_protected(data, rec["id"], name),
                merged=name in merged and name != rec["default_branch"],
            )
            for name, sha in sorted(heads.items())
        ]


@bp.get("/branches")
def list_branches(pid: str) -> Response:
    """Branches sorted by name (filter: `search`)."""
    svc = services()
    rec, repo = _project(svc, pid)
    heads = gitrepo.branches(repo)
    names = search(heads, params().get("search"), lambda name: (name,))
    return paginate(_branches_json(svc, rec, repo, {n: heads[n] for n in names}), lambda b: b)


@bp.get("/branches/<enc:branch>")
def get_branch(pid: str, branch: str) -> Response:
    """One branch."""
    svc = services()
    rec, repo = _project(svc, pid)
    sha = gitrepo.branches(repo).get(branch)
    if sha is None:
        raise not_found("Branch")
    return json_response(_branches_json(svc, rec, repo, {branch: sha})[0])


# GitLab's Gitlab::Checks::BranchCheck refuses, for a user who may not merge into
# it, the creation of a branch a protection covers; the Branches API answers 400.
CREATE_PROTECTED = "You are not allowed to create protected branches on this project."


def _check_creation(svc: Services, rec: dict[str, Any], name: str, actor: users.User) -> None:
    """400 when `actor` may not create `name` (a protected name, and not a Maintainer)."""
    with svc.state.read() as data:
        protected = projects.is_protected(data, rec["id"], name)
    if not users.can_merge_into(actor, rec, protected=protected):
        raise bad_request(CREATE_PROTECTED)


@bp.post("/branches")
def create_branch(pid: str) -> Response:
    """Create `branch` from `ref` (400 with GitLab's messages when it cannot)."""
    svc = services()
    actor = current_user()
    p = params()
    absent = [k for k in ("branch", "ref") if not p.get(k)]
    if absent:
        raise missing(*absent)
    name, ref = str(p["branch"]), str(p["ref"])
    rec, repo = _project(svc, pid)
    if not gitrepo.valid_branch_name(name):
        raise bad_request("Branch name is invalid")
    if name in gitrepo.branches(repo):
        raise bad_request("Branch already exists")
    sha = gitrepo.resolve(repo, ref)
    if sha is None:
        raise bad_request(f"Invalid reference name: {ref}")
    _check_creation(svc, rec, name, actor)
    gitrepo.update_ref(repo, name, sha, gitrepo.ZERO_SHA)
    merge_requests.on_push(svc, rec, {name: (gitrepo.ZERO_SHA, sha)}, actor)
    return json_response(_branches_json(svc, rec, repo, {name: sha})[0], 201)


@bp.delete("/branches/<enc:branch>")
def delete_branch(pid: str, branch: str) -> Response:
    """Delete a branch; the default branch and protected ones cannot be (405)."""
    svc = services()
    rec, repo = _project(svc, pid)
    sha = gitrepo.branches(repo).get(branch)
    if sha is None:
        raise not_found("Branch")
    if branch == rec["default_branch"]:
        raise ApiError(405, {"message": "Cannot remove HEAD branch"})
    with svc.state.read() as data:
        if projects.is_protected(data, rec["id"], branch):
            raise ApiError(405, {"message": "Protected branch cant be removed"})
    gitrepo.delete_branch(repo, branch)
    merge_requests.on_push(svc, rec, {branch: (sha, gitrepo.ZERO_SHA)}, current_user())
    return Response(status=204)


# ---- files and tree -----------------------------------------------------------------


def _file(
    pid: str, file_path: str, ref: str | None
) -> tuple[dict[str, Any], bytes, str, str, str, str]:
    svc = services()
    rec, repo = _project(svc, pid)
    ref = ref or rec["default_branch"]
    sha = gitrepo.resolve(repo, ref)
    found = gitrepo.read_file(repo, sha, file_path) if sha else None
    if sha is None or found is None:
        raise not_found("File")
    content, blob, mode = found
    last = gitrepo.log(repo, [sha], path=file_path, max_count=1)
    return rec, content, blob, mode, sha, last[0].sha if last else sha


@bp.get("/files/<enc:file_path>")
def get_file(pid: str, file_path: str) -> Response:
    """A file's content (base64) and metadata at `ref`; also as X-Gitlab-* headers."""
    ref = params().get("ref")
    if not ref:
        raise missing("ref")
    _rec, content, blob, mode, sha, last = _file(pid, file_path, str(ref))
    body = {
        "file_name": file_path.rsplit("/", 1)[-1],
        "file_path": file_path,
        "size": len(content),
        "encoding": "base64",
        "content_sha256": hashlib.sha256(content).hexdigest(),
        "ref": ref,
        "blob_id": blob,
        "commit_id": sha,
        "last_commit_id": last,
        "execute_filemode": mode == "100755",
        "content": base64.b64encode(content).decode(),
    }
    headers = {
        f"X-Gitlab-{k.replace('_', '-').title()}": json.dumps(v).strip('"')
        for k, v in body.items()
        if k != "content"
    }
    return json_response(body, headers=headers)


@bp.get("/files/<enc:file_path>/raw")
def get_raw_file(pid: str, file_path: str) -> Response:
    """A file's raw bytes at `ref` (default: the default branch)."""
    ref = params().get("ref")
    _rec, content, blob, _mode, sha, last = _file(pid, file_path, ref)
    return Response(
        content,
        mimetype="text/plain",
        headers={
            "X-Gitlab-Blob-Id": blob,
            "X-Gitlab-Commit-Id": sha,
            "X-Gitlab-Last-Commit-Id": last,
            "X-Gitlab-File-Path": file_path,
            "X-Gitlab-Size": str(len(content)),
        },
    )


@bp.get("/tree")
def tree(pid: str) -> Response:
    """Files and directories under `path` at `ref` (`recursive=true` for all levels)."""
    svc = services()
    p = params()
    rec, repo = _project(svc, pid)
    sha = _commit(repo, str(p.get("ref") or rec["default_branch"]), "Tree")
    entries = gitrepo.ls_tree(
        repo, sha, str(p.get("path") or ""), str(p.get("recursive")).lower() == "true"
    )
    return paginate(entries, lambda e: e)


# ---- commits and compare ------------------------------------------------------------


@bp.get("/commits")
def list_commits(pid: str) -> Response:
    """History of `ref_name` (default branch by default), newest first; `path` filters."""
    svc = services()
    p = params()
    rec, repo = _project(svc, pid)
    ref = str(p.get("ref_name") or rec["default_branch"])
    sha = gitrepo.resolve(repo, ref)
    if sha is None:
        return paginate([], lambda c: c)
    history = gitrepo.log(
        repo, [sha], path=p.get("path"), first_parent=str(p.get("first_parent")).lower() == "true"
    )
    return paginate(history, lambda c: shapes.commit(svc.base_url, rec["path_with_namespace"], c))


@bp.get("/commits/<enc:ref>")
def get_commit(pid: str, ref: str) -> Response:
    """One commit by sha, branch or tag, with `stats` unless `stats=false`."""
    svc = services()
    rec, repo = _project(svc, pid)
    commit = gitrepo.log(repo, [_commit(repo, ref)], max_count=1)[0]
    with_stats = to_bool(params().get("stats"), default=True)
    return json_response(commit_detail(svc, rec, repo, commit, with_stats=with_stats))


def commit_detail(
    svc: Services, rec: dict[str, Any], repo: Path, commit: gitrepo.Commit, *, with_stats: bool
) -> dict[str, Any]:
    """GitLab's CommitDetail: the commit, `stats` (against the first parent), status."""
    body = shapes.commit(svc.base_url, rec["path_with_namespace"], commit)
    if with_stats:
        parent = commit.parents[0] if commit.parents else gitrepo.EMPTY_TREE
        body["stats"] = gitdiff.stats(repo, parent, commit.sha)
    body.update(status=None, project_id=rec["id"], last_pipeline=None)
    return body


@bp.get("/commits/<enc:ref>/diff")
def commit_diff(pid: str, ref: str) -> Response:
    """A commit's changes against its first parent."""
    svc = services()
    _rec, repo = _project(svc, pid)
    commit = gitrepo.log(repo, [_commit(repo, ref)], max_count=1)[0]
    parent = commit.parents[0] if commit.parents else gitrepo.EMPTY_TREE
    return paginate(gitdiff.diff(repo, parent, commit.sha), lambda d: d)


@bp.get("/compare")
def compare(pid: str) -> Response:
    """Commits and diffs between `from` and `to` (from their merge base unless `straight`)."""
    svc = services()
    p = params()
    absent = [k for k in ("from", "to") if not p.get(k)]
    if absent:
        raise missing(*absent)
    rec, repo = _project(svc, pid)
    src, dst = _commit(repo, str(p["from"]), "Ref"), _commit(repo, str(p["to"]), "Ref")
    straight = str(p.get("straight")).lower() == "true"
    base = src if straight else (gitrepo.merge_base(repo, src, dst) or src)
    commits = gitrepo.log(repo, [dst, f"^{base}"], reverse=True)
    path = rec["path_with_namespace"]
    return json_response(
        {
            "commit": shapes.commit(svc.base_url, path, commits[-1]) if commits else None,
            "commits": [shapes.commit(svc.base_url, path, c) for c in commits],
            "diffs": gitdiff.diff(repo, base, dst),
            "compare_timeout": False,
            "compare_same_ref": src == dst,
            "web_url": f"{svc.base_url}/{path}/-/compare/{p['from']}...{p['to']}",
        }
    )
