"""Projects, groups, protected branches and labels: the records around each bare repo.

Used by the REST views and by the Python API's seeding alike, so a project made
by `Sandbox.create_project` is indistinguishable from one made with `POST /projects`.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gitops_sandbox import gitrepo, shapes, users
from gitops_sandbox.context import Services
from gitops_sandbox.errors import ApiError, bad_request, not_found
from gitops_sandbox.state import now_iso
from gitops_sandbox.users import User

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def find(data: dict[str, Any], ident: str | int) -> dict[str, Any] | None:
    """A project by numeric id or by `path_with_namespace` (as the URL's `:id` allows)."""
    text = str(ident)
    if text.isdigit():
        return data["projects"].get(text)
    for rec in data["projects"].values():
        if rec["path_with_namespace"] == text:
            return rec
    return None


def get(data: dict[str, Any], ident: str | int) -> dict[str, Any]:
    """Like `find`, but answer GitLab's 404 when there is no such project."""
    rec = find(data, ident)
    if rec is None:
        raise not_found("Project")
    return rec


def to_json(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], viewer: User
) -> dict[str, Any]:
    """The project's REST representation, as `viewer` sees it (their `permissions`)."""
    return shapes.project(svc.base_url, rec, data["groups"][rec["namespace_path"]], viewer)


def _ensure_group(svc: Services, data: dict[str, Any], full_path: str) -> dict[str, Any]:
    group = data["groups"].get(full_path)
    if group is None:
        name = full_path.rsplit("/", 1)[-1]
        group = {
            "id": svc.state.next_id("group"),
            "name": name,
            "path": name,
            "full_path": full_path,
        }
        data["groups"][full_path] = group
    return group


def namespace_path(data: dict[str, Any], namespace: str | int | None, personal: str) -> str:
    """The group path a `namespace_id` / `namespace` parameter names (id or path).

    Without one, GitLab uses the caller's personal namespace: `personal`, their username.
    """
    if namespace in (None, ""):
        return personal
    text = str(namespace)
    if text.isdigit():
        for group in data["groups"].values():
            if group["id"] == int(text):
                return str(group["full_path"])
        raise not_found("Namespace")
    return text.strip("/")


def create(
    svc: Services,
    path_with_namespace: str,
    *,
    name: str | None = None,
    description: str | None = None,
    default_branch: str = "main",
    source_dir: Path | None = None,
    protected: Sequence[str] = (),
    initialize_with_readme: bool = False,
    creator: User = users.ADMIN,
) -> dict[str, Any]:
    """Create a project and its bare repo; seed every branch of `source_dir` if given.

    `creator` (`creator_id`; the README commit's author) is the admin when seeding.
    """
    segments = path_with_namespace.strip("/").split("/")
    if (
        len(segments) < 2
        or not all(_SEGMENT.match(s) for s in segments)
        or (segments[-1].endswith((".git", ".atom")))
    ):
        raise bad_request({"path": ["can contain only letters, digits, '_', '-' and '.'"]})
    full = "/".join(segments)
    with svc.state.transaction() as data:
        if find(data, full) is not None:
            raise bad_request(
                {"name": ["has already been taken"], "path": ["has already been taken"]}
            )
        group = _ensure_group(svc, data, "/".join(segments[:-1]))
        now = now_iso()
        rec = {
            "id": svc.state.next_id("project"),
            "name": name or segments[-1],
            "path": segments[-1],
            "path_with_namespace": full,
            "namespace_path": group["full_path"],
            "description": description,
            "default_branch": default_branch,
            "created_at": now,
            "last_activity_at": now,
            "next_mr_iid": 1,
            "empty_repo": True,
            "creator_id": creator.id,
        }
        repo = svc.repo_path(rec)
        if repo.exists():
            shutil.rmtree(repo)
        gitrepo.init_bare(repo, default_branch)
        try:
            _fill(repo, rec, source_dir, initialize_with_readme, creator)
        except BaseException:
            shutil.rmtree(repo, ignore_errors=True)
            raise
        data["projects"][str(rec["id"])] = rec
        for pattern in dict.fromkeys([rec["default_branch"], *protected]):
            protect(svc, data, rec, pattern)
        return rec


def _fill(
    repo: Path, rec: dict[str, Any], source_dir: Path | None, readme: bool, creator: User
) -> None:
    if source_dir is not None:
        gitrepo.fetch_all(repo, Path(source_dir))
        names = gitrepo.branches(repo)
        if names and rec["default_branch"] not in names:
            rec["default_branch"] = sorted(names)[0]
        if names:
            gitrepo.set_head(repo, rec["default_branch"])
            rec["empty_repo"] = False
    elif readme:
        tree = gitrepo.write_tree(repo, {"README.md": f"# {rec['name']}\n".encode()})
        sha = gitrepo.commit_tree(repo, tree, [], "Initial commit", creator.git_identity())
        gitrepo.update_ref(repo, rec["default_branch"], sha)
        rec["empty_repo"] = False


def delete(svc: Services, ident: str | int) -> None:
    """Delete a project with its repo, merge requests, notes, hooks and protections."""
    with svc.state.transaction() as data:
        rec = get(data, ident)
        pid = rec["id"]
        for table in ("merge_requests", "notes", "hooks", "labels", "protected_branches"):
            data[table] = {k: v for k, v in data[table].items() if v["project_id"] != pid}
        del data["projects"][str(pid)]
        shutil.rmtree(svc.repo_path(rec), ignore_errors=True)


def note_content(svc: Services, rec: dict[str, Any]) -> None:
    """After a push into an empty project: it has content, and a default branch to show."""
    if not rec.get("empty_repo"):
        return
    heads = gitrepo.branches(svc.repo_path(rec))
    if heads:
        rec["empty_repo"] = False
        if rec["default_branch"] not in heads:
            rec["default_branch"] = sorted(heads)[0]
        gitrepo.set_head(svc.repo_path(rec), rec["default_branch"])


def touch(rec: dict[str, Any]) -> None:
    """Record activity on the project (GitLab's `last_activity_at`)."""
    rec["last_activity_at"] = now_iso()


# ---- protected branches -------------------------------------------------------------


def protections(data: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """The project's protected-branch records, oldest first."""
    recs = [r for r in data["protected_branches"].values() if r["project_id"] == project_id]
    return sorted(recs, key=lambda r: r["id"])


def is_protected(data: dict[str, Any], project_id: int, branch: str) -> bool:
    """Whether a branch name matches one of the project's protected names or wildcards."""
    return any(fnmatch.fnmatchcase(branch, r["name"]) for r in protections(data, project_id))


def protect(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], pattern: str
) -> dict[str, Any]:
    """Protect a branch name or wildcard; 409 if it already is, as GitLab answers."""
    if any(r["name"] == pattern for r in protections(data, rec["id"])):
        raise ApiError(409, {"message": f"Protected branch '{pattern}' already exists"})
    prot = {"id": svc.state.next_id("protected_branch"), "project_id": rec["id"], "name": pattern}
    data["protected_branches"][str(prot["id"])] = prot
    _sync_hook(svc, data, rec)
    return prot


def unprotect(svc: Services, data: dict[str, Any], rec: dict[str, Any], name: str) -> None:
    """Remove a protection; 404 when there is none of that name."""
    for key, prot in list(data["protected_branches"].items()):
        if prot["project_id"] == rec["id"] and prot["name"] == name:
            del data["protected_branches"][key]
            _sync_hook(svc, data, rec)
            return
    raise not_found()


def _sync_hook(svc: Services, data: dict[str, Any], rec: dict[str, Any]) -> None:
    patterns = [p["name"] for p in protections(data, rec["id"])]
    gitrepo.write_protected(svc.repo_path(rec), patterns)


# ---- labels -------------------------------------------------------------------------


def labels_for(
    svc: Services, data: dict[str, Any], project_id: int, titles: Iterable[str]
) -> list[dict[str, Any]]:
    """Label records for `titles`, creating missing ones (as GitLab does on MR create)."""
    existing = {r["title"]: r for r in data["labels"].values() if r["project_id"] == project_id}
    result = []
    for title in titles:
        rec = existing.get(title)
        if rec is None:
            label_id = svc.state.next_id("label")
            rec = {
                "id": label_id,
                "project_id": project_id,
                "title": title,
                "color": shapes.LABEL_COLORS[label_id % len(shapes.LABEL_COLORS)],
                "created_at": now_iso(),
            }
            data["labels"][str(label_id)] = rec
            existing[title] = rec
        result.append(rec)
    return result
