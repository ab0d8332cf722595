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

from gitops_sandbox import commits, gitdiff, gitrepo, merge_requests, projects, shapes, users
from gitops_sandbox.api_util import (
    authenticate_api,
    check_values,
    current_user,
    json_response,
    paginate,
    paginate_keyset,
    params,
    search,
    to_bool,
)
from gitops_sandbox.context import Services, services
from gitops_sandbox.errors import ApiError, bad_request, missing, not_found
from gitops_sandbox.gitwrite import Action

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
    """Entities::Branch for each branch, as the caller sees it: `can_push` is theirs
    (Gitlab::UserAccess#can_push_to_branch?), `developers_can_push` / `_merge` say
    whether a protection covering it lets Developers (ProtectedBranch.developers_can?)."""
    if not heads:
        return []
    viewer = current_user()
    default_sha = gitrepo.branches(repo).get(rec["default_branch"])
    merged = gitrepo.merged_into(repo, default_sha) if default_sha else set()
    commits = {c.sha: c for c in gitrepo.log(repo, sorted(set(heads.values())), no_walk=True)}
    found = []
    with svc.state.read() as data:
        for name, sha in sorted(heads.items()):
            covering = projects.matching(data, rec["id"], name)
            body = shapes.branch(
                svc.base_url,
                rec,
                name,
                commits[sha],
                protected=bool(covering),
                merged=name in merged and name != rec["default_branch"],
            )
            developer = users.DEVELOPER_ACCESS
            body["developers_can_push"] = any(projects.push_level(p) == developer for p in covering)
            body["developers_can_merge"] = any(
                projects.merge_level(p) == developer for p in covering
            )
            body["can_push"] = projects.may_push(data, rec, name, viewer)
            found.append(body)
    return found


# `sort` of the branch list (doc/api/openapi/openapi_v2.yaml: name_asc, updated_asc,
# updated_desc; Grape answers anything else with 400).
BRANCH_SORTS = ("name_asc", "updated_asc", "updated_desc")


@bp.get("/branches")
def list_branches(pid: str) -> Response:
    """Branches sorted by `sort` (default by name; filter: `search`).

    `pagination=keyset` is GitLab's only behind the `branch_list_keyset_pagination`
    feature flag, off by default, so it pages by offset as GitLab does.
    """
    svc = services()
    p = params()
    sort = str(p.get("sort") or "name_asc")
    check_values(("sort", sort, BRANCH_SORTS))
    rec, repo = _project(svc, pid)
    heads = gitrepo.branches(repo)
    names = search(heads, p.get("search"), lambda name: (name,))
    listed = _branches_json(svc, rec, repo, {n: heads[n] for n in names})
    if sort != "name_asc":
        listed.sort(key=lambda b: str(b["commit"]["committed_date"]), reverse=sort.endswith("desc"))
    return paginate(listed, lambda b: b)


@bp.get("/branches/<enc:branch>")
def get_branch(pid: str, branch: str) -> Response:
    """One branch."""
    svc = services()
    rec, repo = _project(svc, pid)
    sha = gitrepo.branches(repo).get(branch)
    if sha is None:
        raise not_found("Branch")
    return json_response(_branches_json(svc, rec, repo, {branch: sha})[0])


# What Gitlab::Checks::BranchCheck answers when the API creates a branch a protection
# covers (lib/gitlab/checks/branch_check.rb, ERROR_MESSAGES), in the Branches API's 400.
CREATE_PROTECTED = "You are not allowed to create protected branches on this project."
UNSAFE_BASIS = (
    "You can only use an existing protected branch ref as the basis of a new protected branch."
)


def _check_creation(
    svc: Services, rec: dict[str, Any], repo: Path, name: str, sha: str, actor: users.User
) -> None:
    """BranchCheck#protected_branch_creation_checks for a new branch through the API (web):
    whoever may push to it creates it; else whoever may merge into it, from a commit that
    is on a protected branch already; else 400."""
    with svc.state.read() as data:
        if not projects.is_protected(data, rec["id"], name):
            return
        if projects.may_push(data, rec, name, actor):
            return
        if not projects.may_merge_into(data, rec, name, actor):
            raise bad_request(CREATE_PROTECTED)
        holders = gitrepo.refs_containing(repo, sha, "refs/heads/")
        if not any(projects.is_protected(data, rec["id"], b) for b in holders):
            raise bad_request(UNSAFE_BASIS)


def _create_default_branch(svc: Services, rec: dict[str, Any], actor: users.User) -> None:
    """Branches::CreateService#create_default_branch: in an empty repository the caller
    first commits an empty README.md ("Add README.md") to the default branch.

    The commit goes through the push checks like any other: in an empty repository only
    admins and Maintainers may make it (BranchCheck's empty-project message). GitLab lets
    that refusal escape the service (an error 500); the sandbox answers 400 with it.
    """
    readme = Action(action="create", file_path="README.md", content=b"")
    commits.create(
        svc,
        rec,
        branch=rec["default_branch"],
        message="Add README.md",
        actions=[readme],
        refused=bad_request(projects.empty_push_message(svc, rec).strip()),
        actor=actor,
    )


@bp.post("/branches")
def create_branch(pid: str) -> Response:
    """Create `branch` from `ref` (Branches::CreateService; 400 with GitLab's messages)."""
    svc = services()
    actor = current_user()
    p = params()
    absent = [k for k in ("branch", "ref") if not p.get(k)]
    if absent:
        raise missing(*absent)
    name, ref = str(p["branch"]), str(p["ref"])
    rec, repo = _project(svc, pid)
    if not gitrepo.branches(repo):
        _create_default_branch(svc, rec, actor)
        rec, repo = _project(svc, pid)
    if not gitrepo.valid_branch_name(name):
        raise bad_request("Branch name is invalid")
    if name in gitrepo.branches(repo):
        raise bad_request("Branch already exists")
    sha = gitrepo.resolve(repo, ref)
    if sha is None:
        raise bad_request(f"Failed to create branch '{name}': invalid reference name '{ref}'")
    _check_creation(svc, rec, repo, name, sha, actor)
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
    metadata = _file_metadata(file_path, content, str(ref), blob, sha, last, mode)
    body = {**metadata, "content": base64.b64encode(content).decode()}
    return json_response(body, headers=_metadata_headers(metadata))


def _file_metadata(
    file_path: str, content: bytes, ref: str, blob: str, sha: str, last: str, mode: str
) -> dict[str, Any]:
    """A file's fields in the files API, but its content (lib/api/files.rb, `blob_data`)."""
    return {
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
    }


def _metadata_headers(metadata: dict[str, Any]) -> dict[str, str]:
    """The file's metadata as X-Gitlab-* headers, as GitLab sends them."""
    return {
        f"X-Gitlab-{k.replace('_', '-').title()}": json.dumps(v).strip('"')
        for k, v in metadata.items()
    }


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


@bp.get("/files/<enc:file_path>/blame")
def blame(pid: str, file_path: str) -> Response:
    """A file's blame at `ref`: ranges of consecutive lines with the commit that last
    changed them (Entities::BlameRange, BlameRangeCommit), `range[start]` / `range[end]`
    to blame some lines only; the file's metadata as X-Gitlab-* headers (lib/api/files.rb;
    doc/api/repository_files.md#get-file-blame-from-repository)."""
    svc = services()
    p = params()
    ref = p.get("ref")
    if not ref:
        raise missing("ref")
    start, end = _blame_range(p)
    _rec, content, blob, mode, sha, last = _file(pid, file_path, str(ref))
    repo = _project(svc, pid)[1]
    ranges = gitrepo.blame(repo, sha, file_path)
    commits_by_sha = {
        c.sha: c for c in gitrepo.log(repo, sorted({r[0] for r in ranges}), no_walk=True)
    }
    body = []
    line_no = 0
    for commit_sha, lines in ranges:
        kept = []
        for line in lines:
            line_no += 1
            if start is None or start <= line_no <= (end or line_no):
                kept.append(line)
        if kept:
            c = commits_by_sha[commit_sha]
            body.append(
                {
                    "commit": {
                        "id": c.sha,
                        "parent_ids": c.parents,
                        "message": c.message,
                        "authored_date": c.authored_date,
                        "author_name": c.author_name,
                        "author_email": c.author_email,
                        "committed_date": c.committed_date,
                        "committer_name": c.committer_name,
                        "committer_email": c.committer_email,
                    },
                    "lines": kept,
                }
            )
    headers = _metadata_headers(_file_metadata(file_path, content, str(ref), blob, sha, last, mode))
    return json_response(body, headers=headers)


def _blame_range(p: dict[str, Any]) -> tuple[int | None, int | None]:
    """`range[start]` and `range[end]` (both, positive, start <= end), or none."""
    raw = p.get("range")
    given = raw if isinstance(raw, dict) else {}
    given = {**given, **{k[6:-1]: v for k, v in p.items() if k.startswith("range[")}}
    if not given:
        return None, None
    try:
        start, end = int(given["start"]), int(given["end"])
    except (KeyError, TypeError, ValueError) as e:
        raise ApiError(400, {"error": "range[start], range[end] are missing or invalid"}) from e
    if start < 1 or end < 1:
        raise ApiError(400, {"error": "range[start], range[end] does not have a valid value"})
    if start > end:
        raise bad_request("range[start] must be less than or equal to range[end]")
    return start, end


@bp.get("/blobs/<sha>")
def get_blob(pid: str, sha: str) -> Response:
    """A blob by id: `size`, `encoding` (base64), `content`, `sha` (doc/api/repositories.md)."""
    content = _blob(pid, sha)
    return json_response(
        {
            "size": len(content),
            "encoding": "base64",
            "content": base64.b64encode(content).decode(),
            "sha": gitrepo.out(_project(services(), pid)[1], "rev-parse", sha).strip(),
        }
    )


@bp.get("/blobs/<sha>/raw")
def get_raw_blob(pid: str, sha: str) -> Response:
    """A blob's raw bytes (python-gitlab's `repository_raw_blob`); 404 `Blob Not Found`."""
    return Response(_blob(pid, sha), mimetype="text/plain")


def _blob(pid: str, sha: str) -> bytes:
    content = gitrepo.read_blob(_project(services(), pid)[1], sha)
    if content is None:
        raise not_found("Blob")
    return content


TREE_PAGINATION = ("legacy", "keyset", "none")


@bp.get("/tree")
def tree(pid: str) -> Response:
    """Files and directories under `path` at `ref` (`recursive=true` for all levels).

    `pagination`: `legacy` (offset, the default), `keyset` (by `page_token`, the id of
    the last entry of the page before, with a `Link` to the next page) or `none` (all
    at once, only with `recursive`); lib/api/repositories.rb, GitalyKeysetPager.
    """
    svc = services()
    p = params()
    mode = str(p.get("pagination") or "legacy")
    check_values(("pagination", mode, TREE_PAGINATION))
    recursive = str(p.get("recursive")).lower() == "true"
    if mode == "none" and not recursive:
        raise ApiError(400, {"error": 'pagination cannot be "none" unless "recursive" is true'})
    rec, repo = _project(svc, pid)
    sha = _commit(repo, str(p.get("ref") or rec["default_branch"]), "Tree")
    entries = gitrepo.ls_tree(repo, sha, str(p.get("path") or ""), recursive)
    if mode == "none":
        return json_response(entries)
    if mode == "keyset":
        token = p.get("page_token")
        if token:
            ids = [e["id"] for e in entries]
            entries = entries[ids.index(token) + 1 :] if token in ids else []
        return paginate_keyset(entries, lambda e: e, lambda e: {"page_token": e["id"]})
    return paginate(entries, lambda e: e)


# ---- commits and compare ------------------------------------------------------------


COMMIT_ORDERS = ("default", "topo")


@bp.get("/commits")
def list_commits(pid: str) -> Response:
    """History of `ref_name` (default branch by default), newest first, or of every ref
    with `all=true`; filters `path`, `since`, `until`, `author`, `first_parent`; `order`
    (`default`, `topo`); `with_stats` adds each commit's `stats` (lib/api/commits.rb)."""
    svc = services()
    p = params()
    order = str(p.get("order") or "default")
    check_values(("order", order, COMMIT_ORDERS))
    rec, repo = _project(svc, pid)
    every_ref = to_bool(p.get("all"))
    revs: list[str] = []
    if not every_ref:
        sha = gitrepo.resolve(repo, str(p.get("ref_name") or rec["default_branch"]))
        if sha is None:
            return paginate([], lambda c: c)
        revs = [sha]
    history = gitrepo.log(
        repo,
        revs,
        path=p.get("path"),
        first_parent=to_bool(p.get("first_parent")),
        every_ref=every_ref,
        topo=order == "topo",
        since=p.get("since"),
        until=p.get("until"),
        author=p.get("author"),
    )
    with_stats = to_bool(p.get("with_stats"))
    return paginate(history, lambda c: _listed_commit(svc, rec, repo, c, with_stats))


def _listed_commit(
    svc: Services, rec: dict[str, Any], repo: Path, c: gitrepo.Commit, with_stats: bool
) -> dict[str, Any]:
    body = shapes.commit(svc.base_url, rec["path_with_namespace"], c)
    if with_stats:  # Entities::CommitWithStats
        body["stats"] = gitdiff.stats(
            repo, c.parents[0] if c.parents else gitrepo.EMPTY_TREE, c.sha
        )
    return body


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


REF_TYPES = ("branch", "tag", "all")


@bp.get("/commits/<enc:ref>/refs")
def commit_refs(pid: str, ref: str) -> Response:
    """The branches and tags that contain a commit, `type` `branch`, `tag` or `all`
    (lib/api/commits.rb; doc/api/commits.md#get-references-a-commit-is-pushed-to)."""
    svc = services()
    kind = str(params().get("type") or "all")
    check_values(("type", kind, REF_TYPES))
    _rec, repo = _project(svc, pid)
    sha = _commit(repo, ref)
    found = []
    if kind != "tag":
        found += [
            {"type": "branch", "name": n} for n in gitrepo.refs_containing(repo, sha, "refs/heads/")
        ]
    if kind != "branch":
        found += [
            {"type": "tag", "name": n} for n in gitrepo.refs_containing(repo, sha, "refs/tags/")
        ]
    return paginate(found, lambda r: r)


@bp.get("/merge_base")
def merge_base(pid: str) -> Response:
    """The common ancestor of two or more `refs` (`refs[]=a&refs[]=b` or `refs=a,b`):
    400 `Provide at least 2 refs`, 400 `Could not find ref(s): ...`, 404 `Merge Base Not
    Found` (lib/api/repositories.rb; doc/api/repositories.md#merge-base)."""
    svc = services()
    raw = params().get("refs")
    if raw in (None, "", []):
        raise missing("refs")
    refs = [r for item in (raw if isinstance(raw, list) else [raw]) for r in str(item).split(",")]
    if len(refs) < 2:
        raise bad_request("Provide at least 2 refs")
    rec, repo = _project(svc, pid)
    shas = {r: gitrepo.resolve(repo, r) for r in refs}
    unknown = [r for r, sha in shas.items() if sha is None]
    if unknown:
        noun = "ref" if len(unknown) == 1 else "refs"
        raise bad_request(f"Could not find {noun}: {', '.join(unknown)}")
    base = gitrepo.merge_base_of(repo, [str(shas[r]) for r in refs])
    if base is None:
        raise not_found("Merge Base")
    commit = gitrepo.log(repo, [base], max_count=1)[0]
    return json_response(shapes.commit(svc.base_url, rec["path_with_namespace"], commit))


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
