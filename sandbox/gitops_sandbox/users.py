"""The sandbox's two users, and what each may do on a project.

GitLab decides every permission from the caller's role on the project
(https://docs.gitlab.com/user/permissions/). The sandbox has two callers:

- the administrator (`root`, the `token`): an instance admin, who may do
  everything; the API reports it as Owner (access level 50) of every project;
- the developer (`developer`, the `developer_token`): an ordinary user with the
  Developer role (30) on every project, and Owner of a project in their own
  personal namespace (GitLab makes a personal project's creator its Owner).

What the roles change in the sandbox, with GitLab's default role permissions:

- protected branches: each protection says which role may push and which may
  merge (GitLab's defaults: Maintainers; seeded ones: "No one" may push); the
  role decides (`projects.may_push`, `projects.may_merge_into`;
  https://docs.gitlab.com/user/project/repository/branches/protected/);
- project administration (webhooks, protecting and unprotecting branches) needs
  Maintainer, deleting a project Owner; below that GitLab answers
  `403 Forbidden` (lib/api/project_hooks.rb, lib/api/protected_branches.rb,
  lib/api/projects.rb: `authorize!` -> `forbidden!`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_sandbox.context import ADMIN_USER, DEVELOPER_USER
from gitops_sandbox.errors import forbidden

# Access levels as the API reports them (https://docs.gitlab.com/api/members/#roles).
DEVELOPER_ACCESS = 30
MAINTAINER_ACCESS = 40
OWNER_ACCESS = 50


@dataclass(frozen=True)
class User:
    """One sandbox user: GitLab's identity fields and whether they administer the instance."""

    id: int
    username: str
    name: str
    email: str
    is_admin: bool

    def identity(self) -> dict[str, Any]:
        """`id`, `username`, `name`, `email`: what API shapes and hook payloads show."""
        return {"id": self.id, "username": self.username, "name": self.name, "email": self.email}

    def git_identity(self) -> dict[str, str]:
        """Author and committer of a commit GitLab writes for this user (merges, files API)."""
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


ADMIN = User(**ADMIN_USER, is_admin=True)
DEVELOPER = User(**DEVELOPER_USER, is_admin=False)
_BY_ID = {user.id: user for user in (ADMIN, DEVELOPER)}


def by_id(user_id: Any) -> User:
    """The user with that id.

    Records written before the sandbox had a second user name nobody (no
    `author_id`, `merge_user_id`, ...): the admin did everything then.
    """
    return _BY_ID.get(user_id, ADMIN) if isinstance(user_id, int) else ADMIN


def access_level(user: User, project: dict[str, Any]) -> int:
    """The user's role on a project, as `permissions.project_access.access_level` shows it."""
    if user.is_admin or project["namespace_path"] == user.username:
        return OWNER_ACCESS
    return DEVELOPER_ACCESS


def require_access(user: User, project: dict[str, Any], level: int) -> None:
    """GitLab's `authorize!`: `403 Forbidden` below the role an endpoint needs."""
    if access_level(user, project) < level:
        raise forbidden()


def may_create_in(user: User, namespace_path: str) -> bool:
    """Whether the user may create a project in a namespace.

    The developer belongs to no group, only to projects, so GitLab lets them
    create projects in their personal namespace only.
    """
    return user.is_admin or namespace_path == user.username
