"""Build real app repositories (a git repo with deployment/app.cue), as an app team keeps them."""

from __future__ import annotations

import subprocess
from pathlib import Path


def app_cue(app: str, repository: str, *fields: str) -> str:
    """A deployment/app.cue defining `app`'s app layer with the image repository and `fields`."""
    body = "".join(
        f"\t{line}\n" for line in (f'deployment: image: repository: "{repository}"', *fields)
    )
    return f'package deployments\n\napps: "{app}": app: {{\n{body}}}\n'


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


def make_app_repo(path: Path, text: str) -> Path:
    """A git repository at `path` whose one commit holds `deployment/app.cue` = `text`."""
    (path / "deployment").mkdir(parents=True)
    (path / "deployment" / "app.cue").write_text(text)
    _git(path, "init", "--quiet", "--initial-branch=main")
    return commit_app_cue(path, text)


def commit_app_cue(path: Path, text: str, message: str = "Change deployment/app.cue") -> Path:
    """Write and commit a new deployment/app.cue (what an app team's merge does)."""
    (path / "deployment" / "app.cue").write_text(text)
    _git(path, "add", "--all")
    _git(path, "commit", "--quiet", "--allow-empty", "-m", message)
    return path


def head(path: Path) -> str:
    """The commit checked out in the app repository."""
    return _git(path, "rev-parse", "HEAD")
