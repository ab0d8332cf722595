"""A checkout of the deployment repository (k8s-deployments) and its environments."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import git
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.cuesrc.literals import CueTextError
from jenkins_helpers.deployrepo.layout import ENV_FILE
from jenkins_helpers.deployrepo.settings import Environment, Settings, load_settings
from jenkins_helpers.errors import UserError


@dataclass(frozen=True)
class DeploymentRepo:
    root: Path
    settings: Settings

    @classmethod
    def open(cls, root: Path) -> DeploymentRepo:
        root = root.resolve()
        return cls(root, load_settings(root))

    def checked_out_env(self) -> str | None:
        """The environment whose env.cue is in this checkout, or None (e.g. on main)."""
        return env_name_of(self.root)


def env_name_of(tree: Path) -> str | None:
    """`environment.name` of the env.cue in `tree`, read without evaluating CUE."""
    path = tree / ENV_FILE
    if not path.is_file():
        return None
    try:
        name = editor.get_value(path.read_text(), ("environment", "name"))
    except CueTextError as e:
        raise e.in_file(ENV_FILE) from e
    if not isinstance(name, str):
        raise UserError(f"{path}: `environment: name:` must be a string literal")
    return name


@contextlib.contextmanager
def environment_tree(repo: DeploymentRepo, env: Environment) -> Iterator[tuple[Path, bool]]:
    """A work tree holding `env`'s env.cue, and whether it is the user's own checkout.

    The user's checkout is used when its env.cue is `env`'s. Otherwise `env`'s
    branch is read from a temporary work tree, so nothing checked out changes.
    """
    here = repo.checked_out_env()
    if here == env.name:
        yield repo.root, True
        return
    if not git.has_branch(repo.root, env.branch):
        raise UserError(
            f"{repo.root} holds env.cue of {here or 'no environment'}, "
            f"and has no branch {env.branch!r}",
            hint=f"check out the {env.name} environment's branch: git switch {env.branch}",
        )
    with git.worktree(repo.root, env.branch) as tree:
        require_env(tree, env)
        yield tree, False


def require_env(tree: Path, env: Environment) -> None:
    """Refuse a tree whose env.cue is not `env`'s: gitops.yaml names the wrong branch."""
    found = env_name_of(tree)
    if found != env.name:
        raise UserError(
            f"branch {env.branch!r} holds env.cue of {found or 'no environment'!r}, "
            f"not of {env.name!r}",
            "check the branches in gitops.yaml",
        )
