"""Git over smart HTTP with GitPython: clone, push, protected branches refuse pushes."""

from __future__ import annotations

import gzip
from pathlib import Path

import git
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import commit_files


def _clone(sandbox: Sandbox, project: Project, dest: Path) -> git.Repo:
    return git.Repo.clone_from(sandbox.clone_url(project.path_with_namespace), dest)


def test_clone_push_feature_branch(sandbox: Sandbox, project: Project, tmp_path: Path) -> None:
    with _clone(sandbox, project, tmp_path / "c") as repo:
        assert sorted(r.remote_head for r in repo.remote().refs) == [
            "HEAD",
            "dev",
            "main",
            "prod",
            "stage",
        ]
        repo.git.checkout("-b", "feature/a", "origin/dev")
        sha = commit_files(Path(repo.working_tree_dir or ""), {"a.txt": "a\n"}, "add a")
        repo.git.push("origin", "feature/a")
    assert project.branches.get("feature/a").commit["id"] == sha


def test_direct_push_to_protected_branch_is_refused(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    dev_before = project.branches.get("dev").commit["id"]
    with _clone(sandbox, project, tmp_path / "c") as repo:
        repo.git.checkout("dev")
        commit_files(Path(repo.working_tree_dir or ""), {"envs/dev/env.cue": "x\n"}, "direct")
        with pytest.raises(git.GitCommandError) as err:
            repo.git.push("origin", "dev")
        assert "You are not allowed to push code to protected branches" in err.value.stderr
        assert "pre-receive hook declined" in err.value.stderr
        with pytest.raises(git.GitCommandError):
            repo.git.push("origin", "--delete", "stage")
        with pytest.raises(git.GitCommandError):
            repo.git.push("--force", "origin", "dev:main")
    assert project.branches.get("dev").commit["id"] == dev_before
    project.protectedbranches.create({"name": "release/*", "push_access_level": 0})  # No one
    with _clone(sandbox, project, tmp_path / "d") as repo:
        with pytest.raises(git.GitCommandError):
            repo.git.push("origin", "HEAD:refs/heads/release/1.0")
        repo.git.push("origin", "HEAD:refs/heads/hotfix/1.0")


def test_push_to_mr_source_moves_its_sha(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    project.branches.create({"branch": "feat", "ref": "dev"})
    mr = project.mergerequests.create(
        {"source_branch": "feat", "target_branch": "dev", "title": "feat"}
    )
    with _clone(sandbox, project, tmp_path / "c") as repo:
        repo.git.checkout("feat")
        sha = commit_files(Path(repo.working_tree_dir or ""), {"f.txt": "f\n"}, "more")
        repo.git.push("origin", "feat")
    assert project.mergerequests.get(mr.iid).sha == sha


def test_bad_token_cannot_clone(sandbox: Sandbox, project: Project, tmp_path: Path) -> None:
    url = sandbox.clone_url(project.path_with_namespace).replace(sandbox.token, "wrong")
    with pytest.raises(git.GitCommandError) as err:
        git.Repo.clone_from(url, tmp_path / "c")
    assert "Authentication failed" in err.value.stderr or "401" in err.value.stderr


def test_clone_with_many_refs_and_gzipped_request(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    # Many wants make git gzip its upload-pack request (bodies above 1 KiB).
    for i in range(40):
        project.branches.create({"branch": f"many/branch-number-{i:03d}", "ref": "dev"})
    with _clone(sandbox, project, tmp_path / "c") as repo:
        assert len(repo.remote().refs) == 45
    # The same, by hand: a gzipped protocol request the CGI must see inflated.
    body = b"0000"  # an empty (flush-only) v0 upload-pack request: answered, not refused
    response = requests.post(
        f"{sandbox.url}/{project.path_with_namespace}.git/git-upload-pack",
        data=gzip.compress(body),
        timeout=10,
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
            "PRIVATE-TOKEN": sandbox.token,
        },
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
