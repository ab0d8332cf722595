"""`gitops-helper promote` as Jenkins runs it: a real process against a seeded sandbox GitLab.

One sandbox per module; each test uses its own app or tag where the scenarios
could meet. Use cases E1, E2 and F1 (docs/PROMOTION.md, USE_CASES.md).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gitlab
import pytest
import yaml
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.apprepo import app_cue, commit_app_cue, head, make_app_repo

TOKEN = "promote-test-token-7f3a9c"  # noqa: S105 - the sandbox's test credential
EXAMPLE_IMAGE = "registry.example.com/example-app"
EXAMPLE_FIELDS = (
    "port: 8080",
    'appEnvVars: [{name: "APP_NAME", value: "example-app"}]',
    'readinessProbe: httpGet: {path: "/ready", port: "http"}',
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A seeded sandbox for the module (k8s-deployments with dev, stage, prod); stopped after."""
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def project(sandbox: Sandbox) -> Iterator[Project]:
    """python-gitlab's view of k8s-deployments, to inspect what the CLI did."""
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def promote(
    sandbox: Sandbox, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as the Jenkins step does; the token must never show in its output."""
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": sandbox.token}
    env.pop("BUILD_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "promote", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert TOKEN not in done.stdout + done.stderr
    return done


def promote_json(sandbox: Sandbox, *args: str) -> dict[str, Any]:
    done = promote(sandbox, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def example_args(repo: Path, tag: str) -> list[str]:
    return ["--app", "example-app", "--image", EXAMPLE_IMAGE, "--tag", tag, "--app-repo", str(repo)]


def snapshot(project: Project) -> tuple[dict[str, str], list[tuple[int, str, str | None]]]:
    """Branches (name -> commit) and MRs (iid, state, head): to show that nothing changed."""
    branches = {b.name: b.commit["id"] for b in project.branches.list(get_all=True)}
    mrs = sorted((m.iid, m.state, m.sha) for m in project.mergerequests.list(get_all=True))
    return branches, mrs


def app_snapshot(project: Project, app: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    """What concerns `app` only: its branches (dev and its promotion branch) and its MRs.

    Other tests of the module leave pushes that may land late (a stalled push, an
    aborted build): a test that must show nothing changed looks at its own app.
    """
    branches = [
        (b.name, b.commit["id"])
        for b in project.branches.list(get_all=True)
        if b.name == "dev" or b.name.endswith(f"/{app}")
    ]
    mrs = sorted(
        (m.iid, m.state, m.sha, m.title)
        for m in project.mergerequests.list(labels=[f"app::{app}"], get_all=True)
    )
    return sorted(branches), mrs


def open_mrs(project: Project, app: str) -> list[Any]:
    return project.mergerequests.list(
        state="opened", labels=[f"app::{app}", "env::dev"], get_all=True
    )


def dev_manifest(project: Project, path: str) -> dict[str, Any]:
    return yaml.safe_load(project.files.raw(file_path=path, ref="dev"))


# --- E1: a new version --------------------------------------------------------------------


def test_first_run_opens_an_mr_rerun_is_noop_new_tag_updates_it(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    repo = make_app_repo(
        tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE, *EXAMPLE_FIELDS)
    )
    first = promote_json(sandbox, *example_args(repo, "1.1.0"))
    assert set(first) >= {
        "status",
        "mr_iid",
        "mr_url",
        "branch",
        "project",
        "env",
        "app",
        "tag",
        "changes",
    }
    assert first["status"] == "created"
    assert (first["branch"], first["project"], first["env"], first["app"], first["tag"]) == (
        "promote/dev/example-app",
        DEPLOYMENTS,
        "dev",
        "example-app",
        "1.1.0",
    )
    assert "env.cue" in [c["path"] for c in first["changes"]]
    mr = project.mergerequests.get(first["mr_iid"])
    assert first["mr_url"] == mr.web_url
    assert (mr.title, mr.target_branch) == ("Promote example-app 1.1.0 to dev", "dev")
    assert set(mr.labels) == {"gitops", "promotion", "app::example-app", "env::dev"}
    diffs = {c["new_path"]: c["diff"] for c in mr.changes()["changes"]}
    assert '-\tdeployment: image: tag: "1.0.0"' in diffs["env.cue"]
    assert '+\tdeployment: image: tag: "1.1.0"' in diffs["env.cue"]
    assert f"+// at commit {head(repo)}" in diffs["services/apps/example-app.cue"]
    manifest = diffs["manifests/dev/example-app/deployment-example-app.yaml"].splitlines()
    assert "+        image: registry.example.com/example-app:1.1.0" in manifest
    trailer = parse_trailer(mr.description)
    assert trailer is not None and trailer.app_commit == head(repo)
    assert trailer.apps["example-app"].tag == "1.1.0" and trailer.target_env == "dev"

    again = promote_json(sandbox, *example_args(repo, "1.1.0"))
    assert (again["status"], again["mr_iid"]) == ("noop", first["mr_iid"])
    assert project.mergerequests.get(first["mr_iid"]).sha == mr.sha, "no new commit"

    newer = promote_json(sandbox, *example_args(repo, "1.1.1"))
    assert (newer["status"], newer["mr_iid"]) == ("updated", first["mr_iid"])
    assert [m.iid for m in open_mrs(project, "example-app")] == [first["mr_iid"]]
    updated = project.mergerequests.get(first["mr_iid"])
    assert updated.title == "Promote example-app 1.1.1 to dev"
    assert "`1.1.1`" in updated.description


# --- E2: app layer and tag together ---------------------------------------------------------


def test_new_app_env_var_and_tag_land_in_one_mr_and_merge(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    repo = make_app_repo(
        tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE, *EXAMPLE_FIELDS)
    )
    commit_app_cue(
        repo,
        app_cue(
            "example-app",
            EXAMPLE_IMAGE,
            "port: 8080",
            'appEnvVars: [{name: "APP_NAME", value: "example-app"}, '
            '{name: "FEATURE_FLAGS", value: "new-checkout"}]',
        ),
    )
    result = promote_json(sandbox, *example_args(repo, "1.2.0"))
    assert result["status"] in ("created", "updated")
    assert [m.iid for m in open_mrs(project, "example-app")] == [result["mr_iid"]]
    mr = project.mergerequests.get(result["mr_iid"])
    assert "FEATURE_FLAGS" in mr.description and "`1.2.0`" in mr.description
    mr.merge()

    deployment = dev_manifest(project, "manifests/dev/example-app/deployment-example-app.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{EXAMPLE_IMAGE}:1.2.0"
    assert {"name": "FEATURE_FLAGS", "value": "new-checkout"} in container["env"]
    assert deployment["spec"]["replicas"] == 1, "dev's own replicas are kept"
    assert promote_json(sandbox, *example_args(repo, "1.2.0"))["status"] == "noop"


# --- F1: a new app --------------------------------------------------------------------------


def test_new_app_gets_app_file_env_entry_and_manifests_and_supersedes(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    image = "registry.example.com/user-service"
    repo = make_app_repo(tmp_path / "user-service", app_cue("user-service", image, "port: 9090"))
    stray = _manual_mr(sandbox, project, tmp_path, "user-service")

    result = promote_json(
        sandbox,
        "--app",
        "user-service",
        "--image",
        image,
        "--tag",
        "0.1.0",
        "--digest",
        "sha256:" + "ab" * 32,
        "--app-repo",
        str(repo),
    )
    assert result["status"] == "created" and result["superseded"] == [stray]
    changed = {c["path"] for c in result["changes"]}
    assert {
        "env.cue",
        "services/apps/user-service.cue",
        "manifests/dev/user-service/deployment-user-service.yaml",
        "manifests/dev/user-service/application-dev-user-service.yaml",
    } <= changed
    diffs = {
        c["new_path"]: c["diff"]
        for c in project.mergerequests.get(result["mr_iid"]).changes()["changes"]
    }
    assert '+apps: "user-service": env: {' in diffs["env.cue"]
    assert f'digest: "sha256:{"ab" * 32}"' in diffs["env.cue"]
    closed = project.mergerequests.get(stray)
    assert closed.state == "closed"
    assert [n.body for n in closed.notes.list(get_all=True)] == [
        f"Superseded by !{result['mr_iid']}"
    ]


def _manual_mr(sandbox: Sandbox, project: Project, tmp_path: Path, app: str) -> int:
    """An open MR for `app` to dev from another branch (e.g. made by hand): to be superseded."""
    work = tmp_path / "manual"
    env = {**os.environ}
    subprocess.run(
        ["git", "clone", "--quiet", "--branch", "dev", sandbox.clone_url(DEPLOYMENTS), str(work)],
        check=True,
        env=env,
    )
    (work / "NOTES.md").write_text("by hand\n")
    for args in (
        ["add", "--all"],
        ["commit", "--quiet", "-m", "by hand"],
        ["push", "--quiet", "origin", f"HEAD:refs/heads/manual/{app}"],
    ):
        subprocess.run(["git", *args], cwd=work, check=True, env=env)
    mr = project.mergerequests.create(
        {
            "source_branch": f"manual/{app}",
            "target_branch": "dev",
            "title": f"{app} by hand",
            "labels": ["promotion", f"app::{app}", "env::dev"],
        }
    )
    return int(mr.iid)


# --- bad input changes nothing ---------------------------------------------------------------


BROKEN = app_cue("broken-app", "registry.example.com/broken-app", 'port: "eighty"')
FOREIGN = (
    app_cue("foreign-app", "registry.example.com/foreign-app")
    + 'apps: "example-app": app: port: 1\n'
)
# The repository as a CUE expression: only the rendered Deployment says what would run.
EVIL = 'package deployments\n\napps: "evil-app": app: deployment: image: repository: ' + (
    '"registry.example.com/" + "not-evil-app"\n'
)
DEEP = 'package deployments\n\napps: "deep-app": app: ' + "{a: " * 1000 + "1" + "}" * 1000 + "\n"


@pytest.mark.parametrize(
    ("app", "text", "extra", "code", "message"),
    [
        ("broken-app", BROKEN, [], 1, "deployment/app.cue:5:"),
        ("foreign-app", FOREIGN, [], 2, 'defines apps."example-app"'),
        (
            "foreign-app",
            app_cue("foreign-app", "registry.example.com/foreign-app"),
            ["--tag", "1.0.0$(touch x)"],
            2,
            "invalid image tag",
        ),
        (
            "foreign-app",
            app_cue("foreign-app", "registry.example.com/foreign-app"),
            ["--env", "qa"],
            2,
            "known environments: dev, stage, prod",
        ),
        (
            "evil-app",
            EVIL,
            [],
            1,
            "evil-app in dev would run 'registry.example.com/not-evil-app:1.0.0', not the "
            "promoted 'registry.example.com/evil-app:1.0.0'",
        ),
        ("deep-app", DEEP, [], 2, "nested more than 100 levels deep"),
        (
            "foreign-app",
            app_cue("foreign-app", "registry.example.com/foreign-app"),
            ["--digest", "md5:" + "a" * 32],
            2,
            "a digest is 'sha256:' and 64 lowercase hex digits",
        ),
        (
            "exmaple-app",
            app_cue("example-app", "registry.example.com/exmaple-app"),
            [],
            2,
            "defines the app layer of 'example-app', but the app promoted is 'exmaple-app'",
        ),
    ],
    ids=[
        "broken-app-cue",
        "foreign-app-cue",
        "bad-tag",
        "unknown-env",
        "image-by-expression",
        "nested-1000-deep",
        "md5-digest",
        "misspelt-app",
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox,
    project: Project,
    tmp_path: Path,
    app: str,
    text: str,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    repo = make_app_repo(tmp_path / app, text)
    before = snapshot(project)
    done = promote(
        sandbox,
        "--app",
        app,
        "--image",
        f"registry.example.com/{app}",
        "--tag",
        "1.0.0",
        "--app-repo",
        str(repo),
        *extra,
        cwd=tmp_path,
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(project) == before
    assert not (tmp_path / "x").exists()


def test_cue_error_points_at_the_app_repos_file(sandbox: Sandbox, tmp_path: Path) -> None:
    repo = make_app_repo(tmp_path / "broken-app", BROKEN)
    done = promote(
        sandbox,
        "--app",
        "broken-app",
        "--image",
        "registry.example.com/broken-app",
        "--tag",
        "1.0.0",
        "--app-repo",
        str(repo),
    )
    assert done.returncode == 1
    assert f"{repo}/deployment/app.cue:5:8" in done.stderr  # `port: "eighty"`, line 5 column 8
    assert "services/apps/broken-app.cue" not in done.stderr


def test_dry_run_shows_the_plan_and_changes_nothing(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    repo = make_app_repo(tmp_path / "dry-app", app_cue("dry-app", "registry.example.com/dry-app"))
    before = snapshot(project)
    done = promote(
        sandbox,
        "--app",
        "dry-app",
        "--image",
        "registry.example.com/dry-app",
        "--tag",
        "2.0.0",
        "--app-repo",
        str(repo),
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    assert "dry run: would create a merge request to promote dry-app 2.0.0 to dev" in done.stdout
    assert "added    services/apps/dry-app.cue" in done.stdout
    assert '+apps: "dry-app": app: {' in done.stdout, "the app layer diff"
    assert snapshot(project) == before


# --- two apps at once ------------------------------------------------------------------------


def test_two_apps_promoted_concurrently_both_merge(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    example = make_app_repo(
        tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE, *EXAMPLE_FIELDS)
    )
    postgres = make_app_repo(
        tmp_path / "postgres",
        app_cue("postgres", "docker.io/library/postgres", "port: 5432", 'portName: "postgres"'),
    )
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": sandbox.token}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitops_helper", "promote", *args, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (
            example_args(example, "1.3.0"),
            [
                "--app",
                "postgres",
                "--image",
                "docker.io/library/postgres",
                "--tag",
                "16.6",
                "--app-repo",
                str(postgres),
            ],
        )
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
        results.append(json.loads(out))
    for result in results:
        merged = project.mergerequests.get(result["mr_iid"])
        merged.merge()
        assert project.mergerequests.get(result["mr_iid"]).state == "merged"
    images = {
        app: dev_manifest(project, f"manifests/dev/{app}/deployment-{app}.yaml")["spec"][
            "template"
        ]["spec"]["containers"][0]["image"]
        for app in ("example-app", "postgres")
    }
    assert images == {
        "example-app": f"{EXAMPLE_IMAGE}:1.3.0",
        "postgres": "docker.io/library/postgres:16.6",
    }


# --- a failed MR update is repaired by the rerun ---------------------------------------------


def test_rerun_repairs_an_mr_whose_update_failed(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    """The branch moved to 5.0.4 but the MR still said 5.0.3: the rerun makes them agree."""
    repo = make_app_repo(
        tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE, *EXAMPLE_FIELDS)
    )
    first = promote_json(sandbox, *example_args(repo, "5.0.3"))
    rule = {"method": "PUT", "path_prefix": "/api/v4/projects/", "status": 500, "count": None}
    sandbox.add_fault(**rule)
    try:
        failed = promote(sandbox, *example_args(repo, "5.0.4"))
    finally:
        sandbox.clear_faults()
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    stale = project.mergerequests.get(first["mr_iid"])
    assert stale.title == "Promote example-app 5.0.3 to dev", "the update failed"

    repaired = promote_json(sandbox, *example_args(repo, "5.0.4"))
    assert (repaired["status"], repaired["mr_iid"]) == ("updated", first["mr_iid"])
    mr = project.mergerequests.get(first["mr_iid"])
    trailer = parse_trailer(mr.description)
    assert mr.title == "Promote example-app 5.0.4 to dev"
    assert trailer is not None and trailer.apps["example-app"].tag == "5.0.4"
    assert promote_json(sandbox, *example_args(repo, "5.0.4"))["status"] == "noop"


# --- secrets ----------------------------------------------------------------------------------


def _token_forms(token: str) -> list[str]:
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return [token, quote(token, safe=""), basic]


def test_no_form_of_the_token_leaves_the_run(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    """The app repo's origin carries the token (userinfo and query); GitLab echoes it back."""
    repo = make_app_repo(
        tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE, *EXAMPLE_FIELDS)
    )
    origin = f"https://oauth2:{TOKEN}@gitlab.example.com/apps/example-app.git?private_token={TOKEN}"
    subprocess.run(["git", "remote", "add", "origin", origin], cwd=repo, check=True)
    result = promote(sandbox, *example_args(repo, "7.0.1"), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    mr = project.mergerequests.get(data["mr_iid"])
    app_file = project.files.raw(
        file_path="services/apps/example-app.cue", ref=data["branch"]
    ).decode()
    commit = project.commits.get(data["branch"]).message
    trailer = parse_trailer(mr.description)
    assert trailer is not None
    assert trailer.app_repo == "https://gitlab.example.com/apps/example-app.git"
    for form in _token_forms(TOKEN):
        for where in (result.stdout, result.stderr, mr.description, app_file, commit):
            assert form not in where

    echo = {"message": f"401 token {TOKEN} rejected (Basic {_token_forms(TOKEN)[2]})"}
    rule = {"method": "GET", "path_prefix": "/api/v4/", "status": 400, "count": 1, "body": echo}
    sandbox.add_fault(**rule)
    failed = promote(sandbox, *example_args(repo, "7.0.2"))
    sandbox.clear_faults()
    assert failed.returncode == 1 and "HTTP 400" in failed.stderr
    for form in _token_forms(TOKEN):
        assert form not in failed.stdout + failed.stderr


# --- a stalled git server -----------------------------------------------------------------------


def test_a_stalled_push_times_out_and_leaves_no_clone(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    repo = make_app_repo(tmp_path / "stall-app", app_cue("stall-app", "r.example.com/stall-app"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stall = {"method": "POST", "path_prefix": f"/{DEPLOYMENTS}.git/git-receive-pack", "delay": 8}
    sandbox.add_fault(**{**stall, "count": 1})
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": sandbox.token}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gitops_helper",
                "promote",
                "--app",
                "stall-app",
                "--image",
                "r.example.com/stall-app",
                "--tag",
                "1.0.0",
                "--app-repo",
                str(repo),
            ],
            env={**env, "GITOPS_GIT_TIMEOUT": "2", "TMPDIR": str(tmp)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        sandbox.clear_faults()
    assert done.returncode == 1, done.stderr
    assert "error: git push of promote/dev/stall-app timed out after 2 s" in done.stderr
    assert "GITOPS_GIT_TIMEOUT" in done.stderr
    assert list(tmp.iterdir()) == [], "the temporary clone is removed"
    assert not open_mrs(project, "stall-app")


def test_an_aborted_build_exits_143_and_leaves_no_clone(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    """Jenkins aborts a build by sending SIGTERM to the step's processes: here while the
    push is stalled. The CLI unwinds, so its temporary clone goes, and opens no MR."""
    repo = make_app_repo(tmp_path / "abort-app", app_cue("abort-app", "r.example.com/abort-app"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stall = {"method": "POST", "path_prefix": f"/{DEPLOYMENTS}.git/git-receive-pack", "delay": 8}
    sandbox.add_fault(**{**stall, "count": 1})
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": sandbox.token}
    args = ["--app", "abort-app", "--image", "r.example.com/abort-app", "--tag", "1.0.0"]
    child = subprocess.Popen(
        [sys.executable, "-m", "gitops_helper", "promote", *args, "--app-repo", str(repo)],
        env={**env, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as Jenkins gives a step
    )
    try:
        deadline = time.monotonic() + 60
        while sandbox.faults():  # spent: push stalled
            assert child.poll() is None and time.monotonic() < deadline, "the push never started"
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGTERM)
        _, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
        sandbox.clear_faults()
    assert child.returncode == 143, stderr
    assert list(tmp.iterdir()) == [], "the temporary clone is removed"
    assert not open_mrs(project, "abort-app")


def test_every_missing_setting_is_named_in_one_run(tmp_path: Path) -> None:
    repo = make_app_repo(tmp_path / "example-app", app_cue("example-app", EXAMPLE_IMAGE))
    env = {k: v for k, v in os.environ.items() if k not in ("GITLAB_URL", "GITLAB_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "promote", *example_args(repo, "1.0.0")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: missing settings:\n  GITLAB_URL (or --gitlab-url)")
    assert "\n  GITLAB_TOKEN: " in done.stderr


# --- versions move forward (docs/PROMOTION.md, "Versions move forward") ---------------------


def test_a_late_build_of_an_older_version_leaves_the_pending_mr_alone(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    image = "registry.example.com/orders"
    repo = make_app_repo(tmp_path / "orders", app_cue("orders", image, "port: 8081"))
    older_commit = head(repo)
    commit_app_cue(repo, app_cue("orders", image, "port: 8082"))
    args = ["--app", "orders", "--image", image, "--app-repo", str(repo)]
    newer = promote_json(sandbox, *args, "--tag", "2.4.1")
    assert newer["status"] == "created"
    before = app_snapshot(project, "orders")

    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", older_commit], check=True)
    late = promote(sandbox, *args, "--tag", "2.4.0")

    assert late.returncode == 0, late.stderr
    assert late.stdout.startswith(
        f"superseded: 2.4.0 changes nothing; merge request !{newer['mr_iid']} proposes "
        "another orders"
    )
    assert f"superseded: 2.4.0 is older than 2.4.1; !{newer['mr_iid']} keeps" in late.stderr
    assert app_snapshot(project, "orders") == before, "nothing pushed, no MR changed"
    assert project.mergerequests.get(newer["mr_iid"]).title == "Promote orders 2.4.1 to dev"

    by_history = promote_json(sandbox, *args, "--tag", "nightly")
    assert by_history["status"] == "superseded", "an ancestor commit, tags that are no versions"
    assert app_snapshot(project, "orders") == before


def test_a_new_commit_that_changes_nothing_deployed_is_a_noop(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    image = "registry.example.com/billing"
    repo = make_app_repo(tmp_path / "billing", app_cue("billing", image, "port: 8083"))
    args = ["--app", "billing", "--image", image, "--tag", "3.0.0", "--app-repo", str(repo)]
    first = promote_json(sandbox, *args)
    project.mergerequests.get(first["mr_iid"]).merge()
    subprocess.run(
        ["git", "-C", str(repo), "commit", "--quiet", "--allow-empty", "-m", "README typo"],
        check=True,
    )
    before = app_snapshot(project, "billing")

    again = promote_json(sandbox, *args)

    assert (again["status"], again["mr_iid"], again["branch"]) == ("noop", None, None)
    assert app_snapshot(project, "billing") == before, "no chain for a header comment"
