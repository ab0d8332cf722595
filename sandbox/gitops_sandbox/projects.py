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
    """The project's REST representation, as `viewer` sees it (their `permissions`).

    A project in a user's personal namespace carries `owner` (UserBasic) and a
    namespace of kind `user` named after them; a group's project has no `owner`
    (lib/api/entities/project.rb: `expose :owner ... unless: ->(project, _) {
    project.group }`; doc/api/projects.md#get-a-single-project).
    """
    group = data["groups"][rec["namespace_path"]]
    body = shapes.project(svc.base_url, rec, group, viewer)
    owner = namespace_owner(rec["namespace_path"])
    if owner is not None:
        body["namespace"] = user_namespace(svc, group, owner)
        body["name_with_namespace"] = f"{owner.name} / {rec['name']}"
        body["owner"] = shapes.user(svc.base_url, owner)
    return body


def namespace_owner(full_path: str) -> User | None:
    """The user whose personal namespace `full_path` is (their username), or None."""
    return next((u for u in (users.ADMIN, users.DEVELOPER) if u.username == full_path), None)


def user_namespace(svc: Services, group: dict[str, Any], owner: User) -> dict[str, Any]:
    """A personal namespace as the API shows it: kind `user`, the user's name and web page
    (Entities::NamespaceBasic; a user namespace's name is its user's name, its path the
    username)."""
    return {
        **shapes.namespace(svc.base_url, group),
        "name": owner.name,
        "kind": "user",
        "web_url": f"{svc.base_url}/{owner.username}",
    }


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
        # Seeding protects the default branch and the names given with "No one may
        # push" (docs/SANDBOX.md). A project that starts empty or with a README gets
        # GitLab's default-branch protection when that branch first exists.
        seeded = source_dir is not None and not rec["empty_repo"]
        names = [rec["default_branch"], *protected] if seeded else protected
        for pattern in dict.fromkeys(names):
            if seeded or pattern != rec["default_branch"]:
                protect(svc, data, rec, pattern, push_access_level=NO_ONE)
        if not rec["empty_repo"]:
            protect_default_branch(svc, data, rec)
        _sync_hook(svc, data, rec)
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
    """After a push into an empty project: it has content, a default branch to show, and
    that branch protected as GitLab protects it (`protect_default_branch`)."""
    if not rec.get("empty_repo"):
        return
    heads = gitrepo.branches(svc.repo_path(rec))
    if heads:
        rec["empty_repo"] = False
        if rec["default_branch"] not in heads:
            rec["default_branch"] = sorted(heads)[0]
        gitrepo.set_head(svc.repo_path(rec), rec["default_branch"])
        with svc.state.transaction() as data:
            protect_default_branch(svc, data, rec)
            _sync_hook(svc, data, rec)


def touch(rec: dict[str, Any]) -> None:
    """Record activity on the project (GitLab's `last_activity_at`)."""
    rec["last_activity_at"] = now_iso()


# ---- protected branches -------------------------------------------------------------

# Access levels of a protection (ProtectedRefAccess; doc/api/protected_branches.md,
# "Valid access levels").
NO_ONE = 0
ADMIN_ACCESS = 60
ACCESS_LEVELS = {
    NO_ONE: "No one",
    users.DEVELOPER_ACCESS: "Developers + Maintainers",
    users.MAINTAINER_ACCESS: "Maintainers",
    ADMIN_ACCESS: "Administrators",
}


def protections(data: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """The project's protected-branch records, oldest first."""
    recs = [r for r in data["protected_branches"].values() if r["project_id"] == project_id]
    return sorted(recs, key=lambda r: r["id"])


def matching(data: dict[str, Any], project_id: int, branch: str) -> list[dict[str, Any]]:
    """The protections whose name or wildcard covers `branch`."""
    return [r for r in protections(data, project_id) if fnmatch.fnmatchcase(branch, r["name"])]


def is_protected(data: dict[str, Any], project_id: int, branch: str) -> bool:
    """Whether a branch name matches one of the project's protected names or wildcards."""
    return bool(matching(data, project_id, branch))


def push_level(prot: dict[str, Any]) -> int:
    """Who may push to a protected branch (records older than the setting: "No one")."""
    return int(prot.get("push_access_level", NO_ONE))


def merge_level(prot: dict[str, Any]) -> int:
    """Who may merge into a protected branch (records older than the setting: Maintainers)."""
    return int(prot.get("merge_access_level", users.MAINTAINER_ACCESS))


def _allowed(user: User, rec: dict[str, Any], level: int) -> bool:
    """ProtectedRefAccess#check_access: "No one" lets nobody in, else the role decides."""
    if level == NO_ONE:
        return False
    if level == ADMIN_ACCESS:
        return user.is_admin
    return users.access_level(user, rec) >= level


def may_push(data: dict[str, Any], rec: dict[str, Any], branch: str, user: User) -> bool:
    """Gitlab::UserAccess#can_push_to_branch? for the sandbox's users.

    An empty repository counts as protected whatever the branch (ProtectedBranch.protected?:
    `empty_repo? && default_branch_protected?`), and only admins and Maintainers may create
    its first branch (ProtectedBranch.protected_ref_accessible_to?; GitLab's default
    "Fully protected" does not let Developers push the initial commit). Otherwise an
    unprotected branch takes pushes from Developers, a protected one from whoever one
    of the protections covering it lets push (app/models/protected_branch.rb,
    lib/gitlab/user_access.rb).
    """
    if rec.get("empty_repo"):
        return user.is_admin or users.access_level(user, rec) >= users.MAINTAINER_ACCESS
    found = matching(data, rec["id"], branch)
    return not found or any(_allowed(user, rec, push_level(p)) for p in found)


def may_merge_into(data: dict[str, Any], rec: dict[str, Any], branch: str, user: User) -> bool:
    """Gitlab::UserAccess#can_merge_to_branch?: into an unprotected branch whoever may push
    code (a Developer), into a protected one whoever one of its protections lets merge."""
    found = matching(data, rec["id"], branch)
    if not found:
        return users.access_level(user, rec) >= users.DEVELOPER_ACCESS
    return any(_allowed(user, rec, merge_level(p)) for p in found)


def may_update_branch(data: dict[str, Any], rec: dict[str, Any], branch: str, user: User) -> bool:
    """Gitlab::UserAccess#can_update_branch? (may push or may merge): who may merge a merge
    request into `branch` (MergeRequest#can_be_merged_by?)."""
    return may_push(data, rec, branch, user) or may_merge_into(data, rec, branch, user)


def protect(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    pattern: str,
    *,
    push_access_level: int = users.MAINTAINER_ACCESS,
    merge_access_level: int = users.MAINTAINER_ACCESS,
    allow_force_push: bool = False,
) -> dict[str, Any]:
    """Protect a branch name or wildcard; 409 if it already is, as GitLab answers.

    The defaults are the Protected branches API's: Maintainers push and merge, no force
    push (doc/api/protected_branches.md#protect-repository-branches).
    """
    if any(r["name"] == pattern for r in protections(data, rec["id"])):
        raise ApiError(409, {"message": f"Protected branch '{pattern}' already exists"})
    prot = {
        "id": svc.state.next_id("protected_branch"),
        "project_id": rec["id"],
        "name": pattern,
        "push_access_level": push_access_level,
        "merge_access_level": merge_access_level,
        "allow_force_push": allow_force_push,
    }
    data["protected_branches"][str(prot["id"])] = prot
    _sync_hook(svc, data, rec)
    return prot


def protect_default_branch(svc: Services, data: dict[str, Any], rec: dict[str, Any]) -> None:
    """Projects::ProtectDefaultBranchService, once the default branch exists: unless a
    protection covers it already, protect it at the instance's default level, GitLab's
    default "Fully protected" (Maintainers push and merge, nobody force pushes;
    doc/user/project/repository/branches/default.md#protect-initial-default-branches)."""
    if not is_protected(data, rec["id"], rec["default_branch"]):
        protect(svc, data, rec, rec["default_branch"], push_access_level=users.MAINTAINER_ACCESS)


def update_protection(
    svc: Services, data: dict[str, Any], rec: dict[str, Any], prot: dict[str, Any], force: bool
) -> None:
    """`PATCH protected_branches/:name`: GitLab CE updates `allow_force_push`."""
    prot["allow_force_push"] = force
    _sync_hook(svc, data, rec)


def unprotect(svc: Services, data: dict[str, Any], rec: dict[str, Any], name: str) -> None:
    """Remove a protection; 404 when there is none of that name."""
    for key, prot in list(data["protected_branches"].items()):
        if prot["project_id"] == rec["id"] and prot["name"] == name:
            del data["protected_branches"][key]
            _sync_hook(svc, data, rec)
            return
    raise not_found()


def protection_json(prot: dict[str, Any]) -> dict[str, Any]:
    """A protected branch as the Protected branches API shows it (Entities::ProtectedBranch)."""
    level = push_level(prot)

    def access(access_level: int) -> dict[str, Any]:
        return {
            "id": prot["id"],
            "access_level": access_level,
            "access_level_description": ACCESS_LEVELS[access_level],
            "user_id": None,
            "group_id": None,
        }

    return {
        "id": prot["id"],
        "name": prot["name"],
        "push_access_levels": [{**access(level), "deploy_key_id": None}],
        "merge_access_levels": [access(merge_level(prot))],
        "unprotect_access_levels": [],
        "allow_force_push": bool(prot.get("allow_force_push", False)),
        "code_owner_approval_required": False,
    }


def empty_push_message(svc: Services, rec: dict[str, Any]) -> str:
    """BranchCheck's refusal of a push into an empty repository (empty_project_push_message)."""
    return (
        f"\nA default branch (e.g. main) does not yet exist for {rec['path_with_namespace']}\n"
        "Ask a project Owner or Maintainer to create a default branch:\n\n"
        f"  {svc.base_url}/{rec['path_with_namespace']}/-/project_members\n"
    )


def _users_list(who: Iterable[User]) -> str:
    return "," + "".join(f"{u.username}," for u in who)


def _sync_hook(svc: Services, data: dict[str, Any], rec: dict[str, Any]) -> None:
    """Write the pre-receive hook's rules (gitrepo._PRE_RECEIVE) for the two users."""
    everyone = (users.ADMIN, users.DEVELOPER)
    maintainers = [u for u in everyone if users.access_level(u, rec) >= users.MAINTAINER_ACCESS]
    rules = [["default", rec["default_branch"]], ["maintainers", _users_list(maintainers)]]
    if rec.get("empty_repo"):
        creators = [u for u in everyone if may_push(data, rec, rec["default_branch"], u)]
        rules.append(["empty", _users_list(creators)])
        rules += [["say", line] for line in empty_push_message(svc, rec).split("\n")]
    for prot in protections(data, rec["id"]):
        pushers = [u for u in everyone if _allowed(u, rec, push_level(prot))]
        mergers = [u for u in everyone if _allowed(u, rec, merge_level(prot))]
        force = "1" if prot.get("allow_force_push") else "0"
        rules.append(["protect", prot["name"], _users_list(pushers), _users_list(mergers), force])
    gitrepo.write_push_rules(svc.repo_path(rec), rules)


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
