"""The GitLab module against the sandbox: our dataclasses, error translation, retries, git auth."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_sandbox import Sandbox
from jenkins_helpers import git, gitlab, retry
from jenkins_helpers.errors import BadInput, TransientError, UserError
from jenkins_helpers.gitlab import Access, GitLab
from tests.helpers.apprepo import app_cue, make_app_repo

TOKEN = "gitlab-api-test-token-91c2"  # noqa: S105 - the sandbox's test credential
PROJECT = "apps/demo"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox with one project, `apps/demo` (branches main and feature)."""
    source = make_app_repo(tmp_path_factory.mktemp("demo") / "repo", app_cue("demo", "r/demo"))
    subprocess.run(["git", "branch", "feature"], cwd=source, check=True)
    with Sandbox.start(token=TOKEN) as sb:
        sb.create_project(PROJECT, source_dir=source)
        yield sb


@pytest.fixture
def gl(sandbox: Sandbox) -> Iterator[GitLab]:
    """Our client for the sandbox."""
    with GitLab(Access(sandbox.gitlab_url, TOKEN)) as client:
        yield client


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry without waiting, so fault tests stay quick."""
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.01, 0.01, 0.01))


def test_project_and_files(gl: GitLab, sandbox: Sandbox) -> None:
    project = gl.project(PROJECT)
    assert (project.path, project.default_branch) == (PROJECT, "main")
    assert project.http_url_to_repo == sandbox.clone_url(PROJECT, with_token=False)
    assert gl.file_text(PROJECT, "deployment/app.cue", "main") == app_cue("demo", "r/demo")
    assert gl.file_text(PROJECT, "no/such/file", "main") is None


def test_merge_request_lifecycle(gl: GitLab) -> None:
    labels = ["promotion", "app::demo", "env::dev"]
    mr, created = gl.create_merge_request(
        PROJECT, source="feature", target="main", title="T1", description="d1", labels=labels
    )
    assert created
    assert (mr.title, mr.labels, mr.state, mr.source_branch) == (
        "T1",
        tuple(sorted(labels)),  # GitLab answers label titles sorted (merge_request_basic.rb)
        "opened",
        "feature",
    )
    again, created = gl.create_merge_request(
        PROJECT, source="feature", target="main", title="T2", description="d2", labels=labels
    )
    assert not created, "409: a concurrent run opened it; this one only updated it"
    assert (again.iid, again.title, again.description) == (mr.iid, "T2", "d2"), "409: updated"
    found = gl.merge_requests(PROJECT, labels=["app::demo", "env::dev"], target_branch="main")
    assert [m.iid for m in found] == [mr.iid]
    assert gl.merge_requests(PROJECT, labels=["app::other"], target_branch="main") == []
    gl.close_merge_request(PROJECT, mr.iid, "Superseded by !99")
    assert gl.merge_request(PROJECT, mr.iid).state == "closed"


def test_transient_failures_are_retried(
    gl: GitLab, sandbox: Sandbox, faults: Sandbox, fast_retries: None
) -> None:
    sandbox.add_fault(method="GET", path_prefix="/api/v4/projects/", status=502, count=2)
    assert gl.project(PROJECT).path == PROJECT
    assert sandbox.faults() == [], "both 502s were answered (a rule is gone once spent)"


def test_lasting_failures_end_in_a_clear_error(
    gl: GitLab, sandbox: Sandbox, faults: Sandbox, fast_retries: None
) -> None:
    sandbox.add_fault(method="GET", path_prefix="/api/v4/projects/", status=503, count=None)
    with pytest.raises(UserError, match=f"GitLab failed reading project {PROJECT}: HTTP 503"):
        gl.project(PROJECT)


def test_retries_end_with_the_calls_budget(
    gl: GitLab, sandbox: Sandbox, faults: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GITOPS_HTTP_BUDGET bounds the retry loop: no pause is taken that would end past it."""
    monkeypatch.setenv("GITOPS_HTTP_BUDGET", "2")
    sandbox.add_fault(method="GET", path_prefix="/api/v4/projects/", status=503, count=None)
    with GitLab(Access(sandbox.gitlab_url, TOKEN)) as client, pytest.raises(UserError) as err:
        client.project(PROJECT)
    assert isinstance(err.value, TransientError)
    assert err.value.message.startswith(f"GitLab failed reading project {PROJECT}: HTTP 503")
    # Pauses of 0.5 and 1 s fit in 2 s; the next, 2 s, would end past it. On a loaded
    # machine the third attempt may not fit either: how long the attempts took decides.
    gave_up = re.search(
        r"; gave up after ([\d.]+) s and (\d) attempts \(GITOPS_HTTP_BUDGET: 2 s per call\)$",
        err.value.message,
    )
    assert gave_up, err.value.message
    assert float(gave_up[1]) <= 2
    assert int(gave_up[2]) in (2, 3)
    assert sandbox.fault_hits() == int(gave_up[2]), "each attempt reached GitLab"
    assert err.value.hint is not None and "GITOPS_HTTP_BUDGET" in err.value.hint


def test_a_429_is_transient_at_once(gl: GitLab, sandbox: Sandbox, faults: Sandbox) -> None:
    """python-gitlab would wait out a 429 itself, up to ten times, as long as Retry-After
    says, past every deadline: our client leaves that to the caller."""
    sandbox.add_fault(method="GET", path_prefix="/api/v4/projects/", status=429, count=None)
    with pytest.raises(TransientError) as err:
        gl.project(PROJECT)
    assert err.value.message == (
        f"GitLab failed reading project {PROJECT}: HTTP 429 429 Too Many Requests"
    )
    assert (
        err.value.hint == "GitLab limits the requests of this token or address: rerun in a minute"
    )
    assert sandbox.fault_hits() == 1


def test_bad_token_and_unknown_project(sandbox: Sandbox) -> None:
    with GitLab(Access(sandbox.gitlab_url, "wrong-token")) as bad, pytest.raises(UserError) as err:
        bad.project(PROJECT)
    assert err.value.message.startswith("GitLab rejected the token (GITLAB_TOKEN)")
    with GitLab(Access(sandbox.gitlab_url, TOKEN)) as gl, pytest.raises(UserError) as err:
        gl.project("apps/nope")
    assert err.value.message == f"GitLab project apps/nope not found at {sandbox.gitlab_url}"


def test_unreachable_server_says_why_and_shows_progress(
    fast_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    with GitLab(Access("http://127.0.0.1:1", TOKEN)) as gl, pytest.raises(UserError) as err:
        gl.project(PROJECT)
    assert err.value.message == (
        "cannot reach GitLab at http://127.0.0.1:1 (connection refused) "
        f"while reading project {PROJECT}"
    )
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries[0] == (
        f"GitLab at http://127.0.0.1:1 not reachable (connection refused) while reading project "
        f"{PROJECT}; retrying in 0.01 s (1/3)"
    )
    assert len(retries) == 3


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITLAB_URL", raising=False)
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    with pytest.raises(BadInput) as err:
        gitlab.access_from_environment()
    assert err.value.message.startswith("missing settings:\n  GITLAB_URL (or --gitlab-url)")
    assert "\n  GITLAB_TOKEN: " in err.value.message, "both named in one run"
    monkeypatch.setenv("GITLAB_TOKEN", f" {TOKEN}\n")
    with pytest.raises(BadInput, match="must not contain credentials"):
        gitlab.access_from_environment("https://user:pw@gitlab.example.com")
    access = gitlab.access_from_environment("https://gitlab.example.com/")
    assert (access.url, access.token) == ("https://gitlab.example.com", TOKEN)
    assert TOKEN not in repr(access)


# --- git over HTTPS with the token in the environment ------------------------------------------


def test_clone_authenticates_through_the_environment_only(sandbox: Sandbox, tmp_path: Path) -> None:
    url = sandbox.clone_url(PROJECT, with_token=False)
    env = git.auth_env(url, TOKEN)
    assert not any(TOKEN in value for value in env.values())
    git.clone(url, tmp_path / "clone", "main", env)
    assert (tmp_path / "clone" / "deployment" / "app.cue").is_file()
    assert TOKEN not in (tmp_path / "clone" / ".git" / "config").read_text()
    assert git.remote_branch_sha(tmp_path / "clone", "feature", env) is not None
    assert git.remote_branch_sha(tmp_path / "clone", "nope", env) is None
    with pytest.raises(UserError, match=r"git clone of .* failed") as err:
        git.clone(url, tmp_path / "denied", "main", git.auth_env(url, "wrong-token"))
    assert "wrong-token" not in err.value.message


def test_auth_env_is_scoped_to_the_server_and_appends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    env = git.auth_env("https://gitlab.example.com:8443/platform/k8s-deployments.git", "t0ken")
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert env["GIT_CONFIG_KEY_1"] == "http.https://gitlab.example.com:8443/.extraHeader"
    assert env["GIT_CONFIG_VALUE_1"] == "Authorization: Basic b2F1dGgyOnQwa2Vu"  # oauth2:t0ken
