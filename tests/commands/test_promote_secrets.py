"""No form of the GitLab token leaves a promotion, whatever form the app repo's origin has.

A real `gitops-helper promote` process against a seeded sandbox GitLab, as Jenkins runs
it; what it wrote to GitLab is read back through python-gitlab. The origin carries
GITLAB_TOKEN itself in every URL form git accepts (issue 19: the scp-like
`oauth2:TOKEN@host:path` went into the app file's header, the commit message, the MR
description, its trailer and --json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.apprepo import app_cue, make_app_repo
from tests.helpers.secretscan import recoverable

TOKEN = "glpat-Promote_Secrets-7f3a.9c"  # noqa: S105 - the sandbox's test credential
APP = "example-app"
IMAGE = "registry.example.com/example-app"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def project(sandbox: Sandbox) -> Iterator[Project]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def promote(
    sandbox: Sandbox, repo: Path, tag: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": sandbox.token}
    env.pop("BUILD_URL", None)
    args = ["--app", APP, "--image", IMAGE, "--tag", tag, "--app-repo", str(repo), "--json"]
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", "promote", *args, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def written(project: Project, answer: dict[str, Any]) -> dict[str, str]:
    """Everything the run wrote to GitLab, read back: MR, commit, app file."""
    mr = project.mergerequests.get(answer["mr_iid"])
    commit = project.commits.get(answer["branch"])
    app_file = project.files.raw(file_path=f"services/apps/{APP}.cue", ref=answer["branch"])
    return {
        "MR title": mr.title,
        "MR description": mr.description,
        "commit message": commit.message,
        "app file": app_file.decode(),
    }


def assert_no_token(places: dict[str, str]) -> None:
    for where, text in places.items():
        assert not recoverable(TOKEN, text), f"the token can be read back from the {where}"


# (origin of the app repository, what the trailer records as app_repo)
ORIGINS = [
    (
        f"oauth2:{TOKEN}@gitlab.example.com:apps/example-app.git",
        "gitlab.example.com:apps/example-app.git",
    ),
    (f"{TOKEN}@gitlab.example.com:apps/example-app.git", "gitlab.example.com:apps/example-app.git"),
    (
        f"[oauth2:{TOKEN}@gitlab.example.com:2222]:apps/example-app.git",
        "[gitlab.example.com:2222]:apps/example-app.git",
    ),
    (
        f"ssh://oauth2:{TOKEN}@gitlab.example.com/apps/example-app.git",
        "ssh://gitlab.example.com/apps/example-app.git",
    ),
    (
        f"https://oauth2:{TOKEN}@gitlab.example.com/apps/example-app.git",
        "https://gitlab.example.com/apps/example-app.git",
    ),
    (
        f"file://oauth2:{TOKEN}@nas.example.com/srv/git/example-app.git",
        "file://nas.example.com/srv/git/example-app.git",
    ),
]


@pytest.mark.parametrize(
    ("origin", "recorded"), ORIGINS, ids=["scp", "scp-user", "scp-port", "ssh", "https", "file"]
)
def test_the_origin_is_recorded_without_its_credentials(
    sandbox: Sandbox, project: Project, tmp_path: Path, origin: str, recorded: str
) -> None:
    repo = make_app_repo(tmp_path / APP, app_cue(APP, IMAGE, "port: 8080"))
    subprocess.run(["git", "remote", "add", "origin", origin], cwd=repo, check=True)
    tag = f"9.{ORIGINS.index((origin, recorded))}.0"
    done = promote(sandbox, repo, tag)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    places = written(project, answer)
    assert_no_token({"stdout (--json)": done.stdout, "stderr": done.stderr, **places})
    trailer = parse_trailer(places["MR description"])
    assert trailer is not None and trailer.app_repo == recorded
    assert f"deployment/app.cue of {recorded}" in places["app file"]
    assert f"deployment/app.cue of {recorded}" in places["MR description"]


def test_a_token_in_what_the_mr_says_is_masked_and_a_rerun_changes_nothing(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    """The build URL goes into the MR, its trailer and the commit as it is given: one that
    carries the token (over-encoded) is masked where it is written, the same way in the
    commit and the MR, so a rerun finds them in agreement (noop)."""
    repo = make_app_repo(tmp_path / APP, app_cue(APP, IMAGE, "port: 8080"))
    encoded = TOKEN.replace("-", "%2D").replace("_", "%5f")
    build_url = f"https://jenkins.example.com/job/{encoded}/12/"
    first = promote(sandbox, repo, "9.9.0", "--build-url", build_url)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    places = written(project, answer)
    assert_no_token({"stdout (--json)": first.stdout, "stderr": first.stderr, **places})
    assert "build https://jenkins.example.com/job/*****/12" in places["MR description"]
    again = promote(sandbox, repo, "9.9.0", "--build-url", build_url)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "noop"
