"""The command line as a user runs it: a real process, real exit codes and messages."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_helper import cli
from gitops_helper.commands import render
from jenkins_helpers import git
from tests.helpers.deployrepo import copy_repo, replace_once

# slow: the CLI as processes, rendering whole repositories. A test whose result depends on
# how CUE evaluates is marked `cue` and runs on each engine; the others on the run's engine.
pytestmark = pytest.mark.slow


def gitops(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
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
    assert [f for r in report for f in r["findings"]] == [], "a fresh scaffold has no warnings"
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
        (["init-repo", "{dir}/new", "--envs", "main,prod"], "branches must all differ: main, main"),
        (["init-repo", "{dir}/afile/new"], "cannot create the repository at"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    template: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    (tmp_path / "afile").write_text("a file, not a directory\n")
    args = [a.replace("{dir}", str(tmp_path)) for a in args]
    result = gitops(*args) if args[0] == "init-repo" else gitops(*args, "--repo", str(repo))
    assert result.returncode == 2
    assert message in result.stderr
    assert "hint:" in result.stderr and "unexpected" not in result.stderr
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


@pytest.mark.cue
def test_a_cue_syntax_error_names_the_file_and_line(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, "dev")
    replace_once(repo / "env.cue", 'tag: "1.0.0"', 'tag: "1.0.0')
    result = gitops("render", "--repo", str(repo))
    assert result.returncode == 1
    assert result.stderr.startswith("error: env.cue:16:26: string not terminated\n")


@pytest.mark.cue
def test_cue_runs_on_the_tools_engine_and_hints_point_at_it(template: Path, tmp_path: Path) -> None:
    """Hints say `gitops-helper cue ...`: it works where no cue binary is installed."""
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, "dev")
    ok = gitops("cue", "vet", "-c", "./services/apps", cwd=repo)
    assert (ok.returncode, ok.stderr) == (0, "")
    replace_once(repo / "env.cue", "replicas: 1\n\tresources", 'replicas: "one"\n\tresources')
    failed = gitops("cue", "vet", "-c", "./services/apps", cwd=repo)
    assert failed.returncode == 1 and 'conflicting values "one" and int' in failed.stderr
    render = gitops("render", "--repo", str(repo))
    assert render.returncode == 1
    rerun = "gitops-helper cue export --out json -e objects ./services/apps"
    assert f"hint: to reproduce, run `{rerun}` in {repo}" in render.stderr


@pytest.mark.cue
def test_an_evaluation_error_names_the_users_path_and_suggests_the_field(
    template: Path, tmp_path: Path
) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, "dev")
    replace_once(repo / "env.cue", "replicas: 1\n\tresources", "replica: 1\n\tresources")
    result = gitops("render", "--repo", str(repo))
    assert result.returncode == 1
    # CUE v0.4 and current CUE word it differently; both name the user's own path.
    assert re.search(
        r'apps\."example-app"\.env(: field replica|\.replica: field) not allowed', result.stderr
    )
    assert "layers." not in result.stderr
    assert "\nreplica: did you mean replicas?\n" in result.stderr


@pytest.mark.parametrize("command", ["render", "validate"])
def test_outside_a_deployment_repo_is_bad_input(tmp_path: Path, command: str) -> None:
    result = gitops(command, "--repo", str(tmp_path))
    assert result.returncode == 2
    assert "not a deployment repository" in result.stderr and "hint:" in result.stderr


def test_an_unexpected_error_leaves_a_private_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never through a planted symlink, never with the token in it."""
    token = "crash-test-token-3b9f"  # noqa: S105 - made up
    monkeypatch.setenv("GITLAB_TOKEN", token)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "gitops-helper-crash.log").symlink_to(victim)

    def broken(*args: object) -> None:
        raise RuntimeError(f"boom with {token}")

    monkeypatch.setattr(render, "run", broken)
    result = CliRunner().invoke(cli.main, ["render", "--repo", str(tmp_path)])
    assert result.exit_code == 1
    assert victim.read_text() == "keep me\n"
    match = re.search(r"traceback in (\S+)\)", result.output)
    assert match, result.output
    log = Path(match.group(1))
    assert log.parent == tmp_path and stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "RuntimeError" in log.read_text()
    assert token not in log.read_text() + result.output


def test_a_reader_that_goes_away_stops_the_command_quietly(template: Path, tmp_path: Path) -> None:
    """`gitops-helper ... | head -1`: exit 141 as SIGPIPE would, no 'unexpected', no crash log."""
    repo = copy_repo(template, tmp_path / "repo")
    read, write = os.pipe()
    os.close(read)
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "gitops_helper", "validate", "--repo", str(repo), "--json"],
            stdout=write,
            stderr=subprocess.PIPE,
            env={**os.environ, "TMPDIR": scratch},
            text=True,
            check=False,
        )
        os.close(write)
        assert (done.returncode, done.stderr) == (141, "")
        assert os.listdir(scratch) == [], "no crash log"


@pytest.mark.parametrize("token", ["tökén-1234", "token-€-5678", "tok\u2028en-9abc"])
def test_a_token_that_is_not_ascii_is_bad_input(token: str) -> None:
    env = {"GITLAB_URL": "http://127.0.0.1:9", "GITLAB_TOKEN": token}
    done = gitops("status", env=env)
    assert done.returncode == 2, done.stderr
    assert "GITLAB_TOKEN" in done.stderr and "unexpected" not in done.stderr
    assert token.strip() not in done.stderr


def test_the_sandbox_address_unreachable_says_to_start_the_sandbox() -> None:
    env = {"GITLAB_URL": "http://127.0.0.1:8929", "GITLAB_TOKEN": "cli-test-token-4e2a"}
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8929)) == 0:
            pytest.skip("something listens on port 8929 on this machine")
    done = gitops("status", env=env)
    assert done.returncode == 1 and "start it with `gitops-helper sandbox up" in done.stderr
