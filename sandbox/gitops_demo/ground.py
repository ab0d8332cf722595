"""The demo's projects on a GitLab, and how each use case gets back to the starting state.

The same code for the sandbox and for a real GitLab's test group: only GitLab's
REST API (python-gitlab) and git pushes. A reset closes the open MRs, force-pushes
every seeded branch (unprotecting it for that push, as a maintainer would), deletes
the other branches, and protects the environment branches again. The demo resets
only branches it created (their history holds seeds.SEED_MARK), unless told it may.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gitlab
from gitlab.v4.objects import Project

from gitops_demo.seeds import SEED_MARK
from jenkins_helpers.errors import BadInput

RECENT = 50  # commits of main looked at for the seed mark


class Ground:
    """Projects in one group: the deployment project and the apps' repositories."""

    def __init__(
        self,
        gl: gitlab.Gitlab,
        push: Callable[[Path, str], None],
        deployments: str,
        *,
        foreign_ok: bool = False,
    ) -> None:
        self.gl = gl
        self._push = push  # push(seed repository, project path): every branch, forced
        self.deployments = deployments
        self.group = deployments.rsplit("/", 1)[0]
        self.foreign_ok = foreign_ok

    def app_path(self, app: str) -> str:
        return f"{self.group}/{app}"

    def reset(self, path: str, seed: Path, protected: Sequence[str]) -> Project:
        """`path` exactly as `seed`: created if missing, else checked as ours and reset."""
        project = self._get_or_create(path)
        self.refuse_foreign(project)
        for mr in project.mergerequests.list(state="opened", get_all=True):
            mr.state_event = "close"
            mr.save()
        for hook in project.hooks.list(get_all=True):
            if hook.url.endswith("/hooks/gitlab"):  # a webhook of an earlier use case
                hook.delete()
        for name in [p.name for p in project.protectedbranches.list(get_all=True)]:
            project.protectedbranches.delete(name)
        self._push(seed, path)
        for name in protected:
            try:
                project.protectedbranches.create({"name": name})
            except gitlab.GitlabCreateError as e:
                # A new project's default branch is protected by GitLab itself once it
                # is first pushed (Projects::ProtectDefaultBranchService): 409, kept.
                if e.response_code != 409:
                    raise
        return project

    def remove(self, path: str) -> None:
        """Delete an app repository a use case created (ours only); absent is fine."""
        self.refuse_foreign_path(path)
        try:
            self.gl.projects.delete(path)
        except gitlab.GitlabDeleteError as e:
            if e.response_code != 404:
                raise

    def refuse_foreign_path(self, path: str) -> None:
        """Before anything is done: refuse an existing project that is someone's work."""
        try:
            project = self.gl.projects.get(path)
        except gitlab.GitlabGetError as e:
            if e.response_code == 404:
                return
            raise
        self.refuse_foreign(project)

    def refuse_foreign(self, project: Project) -> None:
        """A project with branches the demo did not seed is someone's work: hands off."""
        if self.foreign_ok or not project.branches.list(per_page=1, get_all=False):
            return
        try:
            recent = project.commits.list(ref_name="main", per_page=RECENT, get_all=False)
        except gitlab.GitlabListError:
            recent = []
        if not any(c.title == SEED_MARK for c in recent):
            raise BadInput(
                f"{project.path_with_namespace} has branches the demo did not create",
                "point --project at a new project of a test group, or pass "
                "--i-know-what-i-am-doing to reset its branches anyway",
            )

    def _get_or_create(self, path: str) -> Project:
        try:
            return self.gl.projects.get(path)
        except gitlab.GitlabGetError as e:
            if e.response_code != 404:
                raise
        group, name = path.rsplit("/", 1)
        namespace: Any = self.gl.namespaces.get(group)
        created: Project = self.gl.projects.create(
            {"name": name, "path": name, "namespace_id": namespace.id, "default_branch": "main"}
        )
        return created
