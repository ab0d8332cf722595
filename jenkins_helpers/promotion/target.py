"""The deployment project on GitLab, and clones of its branches to change and propose.

Every flow (a build's promotion, environment to environment, hotfix, rollback,
onboarding...) connects once, reads `gitops.yaml` from the default branch, clones
the branch it targets into a temporary directory, changes it there, and hands the
clone to `publish`. The token reaches git only through its environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import git
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import SETTINGS_FILE, Settings, parse_settings
from jenkins_helpers.errors import UserError
from jenkins_helpers.forge import Access, Forge, Project
from jenkins_helpers.gitlab import GitLab

# A clone's directory in the temp dir: gitops-target-<pid of its process>-<random>. The
# pid tells a later process whether the clone's owner is gone (killed with SIGKILL, which
# no cleanup survives) and the clone is its to remove.
CLONE_PREFIX = "gitops-target-"


def remove_stale_clones(parent: Path | None = None) -> list[Path]:
    """Remove the clones in `parent` (default: the temp dir) whose process is gone: only
    this user's, only named by a pid, and only when no process has that pid."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    removed = []
    for path in parent.glob(f"{CLONE_PREFIX}*-*"):
        pid = path.name.removeprefix(CLONE_PREFIX).split("-", 1)[0]
        if pid.isdigit() and _ours(path) and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _ours(path: Path) -> bool:
    """A directory (not a link) of this user's."""
    try:
        return path.is_dir() and not path.is_symlink() and path.lstat().st_uid == os.getuid()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """A process with this pid exists (another user's too: kill answers EPERM then)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Target:
    """A clone of one branch of the deployment project: where a change is made."""

    gl: Forge
    project: Project
    branch: str
    tree: Path
    auth: Mapping[str, str]  # git's environment carrying the token
    files: git.Files  # the clone's files at any revision it has


@dataclass(frozen=True)
class DeploymentProject:
    """The deployment repository on GitLab, with its settings (environments, branches)."""

    gl: Forge
    project: Project
    settings: Settings

    @contextlib.contextmanager
    def checkout(self, branch: str, apps: Collection[str] | None = None) -> Iterator[Target]:
        """A fresh shallow clone of `branch`, removed afterwards.

        With `apps` (even none), a sparse one holding only what a change of these apps
        reads (layout.sparse_patterns); the planner checks out the rest when it needs
        it, and `git.narrow` moves it to other apps.
        """
        remove_stale_clones()
        with tempfile.TemporaryDirectory(prefix=f"{CLONE_PREFIX}{os.getpid()}-") as tmp:
            tree = Path(tmp) / "k8s-deployments"
            url = self.project.http_url_to_repo
            auth = git.auth_env(url, self.gl.access.token)
            sparse = layout.sparse_patterns(apps) if apps is not None else ()
            git.clone(url, tree, branch, auth, sparse)
            with git.Files(tree) as files:
                yield Target(self.gl, self.project, branch, tree, auth, files)


@contextlib.contextmanager
def connect(project: str, access: Access) -> Iterator[DeploymentProject]:
    """Connect to GitLab and read the deployment project's gitops.yaml."""
    with GitLab(access) as gl:
        found = gl.project(project)
        yield DeploymentProject(gl, found, read_settings(gl, found))


def read_settings(gl: Forge, project: Project) -> Settings:
    """gitops.yaml from the default branch: the environments and their branches."""
    text = gl.file_text(project.path, SETTINGS_FILE, project.default_branch)
    where = f"{project.path}:{project.default_branch}:{SETTINGS_FILE}"
    if text is None:
        raise UserError(
            f"{where} not found: is {project.path} a deployment repository?",
            "create one with `gitops-helper init-repo`, or pass --project",
        )
    return parse_settings(text, where)
