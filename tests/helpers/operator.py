"""The operator's side of a test: `gitops-helper` run as a subprocess, as from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from gitlab.v4.objects import Project

CLI = [sys.executable, "-m", "gitops_helper"]


def gitops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`gitops-helper ARGS` with `env` as its only GitLab and Jenkins settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITLAB_", "JENKINS_"))}
    return subprocess.run(
        [*CLI, *args], env={**clean, **env}, capture_output=True, text=True, check=False
    )


def gitops_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    """`gitops-helper ARGS --json`, which must succeed, as a dict."""
    done = gitops(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def all_mrs(project: Project) -> list[tuple[int, str, str]]:
    """Every MR of the project with its state and title: to show a command changed nothing."""
    return sorted(
        (m.iid, m.state, m.title) for m in project.mergerequests.list(state="all", get_all=True)
    )


def project_state(project: Project) -> tuple[list[tuple[str, str]], list[tuple[int, str, str]]]:
    """Every branch with its head, every MR with its state and head: what a refused
    command must leave exactly as it was."""
    branches = sorted((b.name, b.commit["id"]) for b in project.branches.list(get_all=True))
    mrs = sorted((m.iid, m.state, m.sha) for m in project.mergerequests.list(get_all=True))
    return branches, mrs
