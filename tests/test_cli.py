"""The command line as a user runs it: a real process, real exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jenkins_helpers import git
from tests.helpers.deployrepo import copy_repo, replace_once


def gitops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jenkins_helpers", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_init_repo_render_validate_on_a_new_directory(tmp_path: Path) -> None:
    repo = tmp_path / "k8s-deployments"
    created = gitops("init-repo", str(repo), "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["environments"] == ["dev", "stage", "prod"]

    rendered = gitops("render", "--repo", str(repo), "--env", "prod")
    assert rendered.returncode == 0, rendered.stderr
    assert "prod" in rendered.stdout and "up to date" in rendered.stdout

    validated = gitops("validate", "--repo", str(repo), "--json")
    assert validated.returncode == 0, validated.stderr
    report = json.loads(validated.stdout)
    assert [r["env"] for r in report] == ["dev", "stage", "prod"]
    assert all(r["manifests"] == 7 for r in report)
    assert git.current_branch(repo) == "main", "nothing checked out changes"


def test_init_repo_custom_environments(tmp_path: Path) -> None:
    repo = tmp_path / "deploy"
    assert gitops("init-repo", str(repo), "--envs", "qa,live").returncode == 0
    assert sorted(h for h in ("qa", "live", "main") if git.has_branch(repo, h)) == [
        "live",
        "main",
        "qa",
    ]
    assert gitops("render", "--repo", str(repo), "--env", "live").returncode == 0


def test_init_repo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = gitops("init-repo", str(tmp_path))
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_render_on_a_checkout_writes_and_check_fails_on_stale(
    template: Path, tmp_path: Path
) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, "dev")
    replace_once(repo / "env.cue", "replicas: 1\n\tresources", "replicas: 2\n\tresources")

    stale = gitops("render", "--check", cwd=repo)
    assert stale.returncode == 1
    assert "manifests/dev/example-app/deployment-example-app.yaml" in stale.stdout

    written = gitops("render", cwd=repo)
    assert written.returncode == 0, written.stderr
    assert "wrote   manifests/dev/example-app/deployment-example-app.yaml" in written.stdout
    assert gitops("render", "--check", cwd=repo).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "--env", "qa"], "unknown environment 'qa'"),
        (["validate", "--env", "staging"], "unknown environment 'staging'"),
        (["init-repo", "{dir}/new", "--envs", "Dev,prod"], "not a DNS-1123 label"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    template: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    args = [a.replace("{dir}", str(tmp_path)) for a in args]
    result = gitops(*args) if args[0] == "init-repo" else gitops(*args, "--repo", str(repo))
    assert result.returncode == 2
    assert message in result.stderr
    assert "hint:" in result.stderr
    assert not (tmp_path / "new").exists()


def test_validate_fails_on_a_policy_error(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, "dev")
    replace_once(
        repo / "env.cue", 'deployment: image: tag: "1.0.0"', 'deployment: image: tag: "latest"'
    )
    assert gitops("render", cwd=repo).returncode == 0
    result = gitops("validate", cwd=repo)
    assert result.returncode == 1
    assert "latest" in result.stdout


def test_outside_a_deployment_repo(tmp_path: Path) -> None:
    result = gitops("render", "--repo", str(tmp_path))
    assert result.returncode == 1
    assert "not a deployment repository" in result.stderr
