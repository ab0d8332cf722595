"""Failed jobs are visible: a merge job whose retries ran out is on the status board (a
safe summary: which merge, where to, when, how often, a category of the reason) and in
`gitops-helper status --webhook-url` (the full reason); the next reconcile runs it again.

Every failure here is a real one: the sandbox's git server answering 503, a GitLab
nobody listens on, a token GitLab rejects.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers import git, retry
from jenkins_helpers.errors import UserError
from jenkins_helpers.gitlab import Access, GitLab
from jenkins_helpers.jenkins import Jenkins, JenkinsAccess
from jenkins_helpers.promotion import target
from tests.helpers.chain import EXAMPLE_IMAGE, HOOK_SECRET, Chain, Hook, serve_webhook
from tests.helpers.dom import parse
from tests.helpers.ports import free_port
from webhook.failures import category

TOKEN = "failed-jobs-token-3e8a"  # noqa: S105 - the sandbox's test credential
# The git server refuses every clone and fetch: a promotion cannot even start.
GIT_DOWN = {"method": "GET", "route_regex": r"\.git/info/refs$", "status": 503, "count": None}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


def status(
    sb: Sandbox, *args: str, secret: str | None = HOOK_SECRET
) -> subprocess.CompletedProcess[str]:
    """`gitops-helper status ARGS` as an operator runs it."""
    env = {**os.environ, "GITLAB_URL": sb.gitlab_url, "GITLAB_TOKEN": sb.token}
    env.pop("GITOPS_WEBHOOK_SECRET", None)
    if secret is not None:
        env["GITOPS_WEBHOOK_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", "status", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def merge_job(hook: Hook, sha: str, state: str, timeout: float = 120) -> dict[str, Any]:
    """The merge's job, once it is in `state`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [j for j in hook.jobs() if j["key"].endswith(f":{sha}") and j["state"] == state]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"the merge's job is not {state} after {timeout} s: {hook.jobs()}")


def test_a_job_that_fails_all_retries_is_on_the_board_and_in_status_and_reconcile_reruns_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = {"GITOPS_RETRY_DELAYS": "0.2,0.2", "GITOPS_RECONCILE_INTERVAL": 3600}
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as gl:
        chain = Chain(sandbox, gl.projects.get(DEPLOYMENTS))
        built = chain.build("example-app", "5.7.0", chain.app_repo("example-app"), EXAMPLE_IMAGE)
        assert built.mr_iid is not None
        with serve_webhook(sandbox, data, **settings) as hook:
            hook.wait_idle()  # the reconcile every start runs: nothing is missing yet
            sandbox.services.faults.add(GIT_DOWN)
            chain.merge(built.mr_iid)
            sha = chain.project.mergerequests.get(built.mr_iid).merge_commit_sha
            job = merge_job(hook, sha, "failed")
            assert job["attempts"] == 3, "the first run and the two retries"
            assert job["merge"] == {
                "iid": built.mr_iid,
                "title": "Promote example-app 5.7.0 to dev",
                "target_branch": "dev",
            }
            assert (job["target"], job["failure"]) == ("stage", "git transfer failed")
            assert "returned error: 503" in job["last_error"]

            board_shows_it(sandbox, hook, job)
            status_shows_it(sandbox, hook, job)
        sandbox.services.faults.clear()

        with serve_webhook(sandbox, data, **settings) as hook:  # its start reconciles
            chain.wait_mr("stage", chain.titled("Promote example-app 5.7.0 to stage"), timeout=120)
            rerun = merge_job(hook, sha, "done")
            assert rerun["id"] == job["id"], "the same job, run again"
            page = parse(requests.get(f"{hook.url}/", timeout=60).text)
            assert page.one("section", id="failed").all("li") == []
            after = status(sandbox, "--webhook-url", hook.url)
            assert after.returncode == 0, after.stderr
            assert f"Failed webhook jobs at {hook.url}: none" in after.stdout


def board_shows_it(sandbox: Sandbox, hook: Hook, job: dict[str, Any]) -> None:
    """The board: which merge, where to, when, how often, the category; nothing else."""
    html = requests.get(f"{hook.url}/", timeout=60).text
    (item,) = parse(html).one("section", id="failed").all("li")
    assert item.attrs["data-job"] == str(job["id"])
    assert item.text == (
        f"!{job['merge']['iid']} into dev \N{RIGHTWARDS ARROW} stage: "
        f"Promote example-app 5.7.0 to dev; failed at {job['updated_at']} after 3 attempts: "
        "git transfer failed"
    )
    for secret in (sandbox.token, HOOK_SECRET, "503", job["last_error"].splitlines()[0]):
        assert secret not in html
    assert sandbox.gitlab_url not in re.sub(r'href="[^"]*"', "", html)
    (listed,) = requests.get(f"{hook.url}/status.json", timeout=60).json()["failed_jobs"]
    assert listed == {
        "job": job["id"],
        "merge_iid": job["merge"]["iid"],
        "title": "Promote example-app 5.7.0 to dev",
        "merged_into": "dev",
        "target": "stage",
        "failed_at": job["updated_at"],
        "attempts": 3,
        "reason": "git transfer failed",
    }


def status_shows_it(sandbox: Sandbox, hook: Hook, job: dict[str, Any]) -> None:
    """`status --webhook-url`: the board, then the failed job with its full reason; a
    webhook it cannot read is a warning; a missing secret is bad input."""
    shown = status(sandbox, "--webhook-url", hook.url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = lines.index(
        f"  job {job['id']}: !{job['merge']['iid']} into dev -> stage: "
        "Promote example-app 5.7.0 to dev"
    )
    assert (
        lines[at + 1]
        == f"    failed at {job['updated_at']} after 3 attempts (git transfer failed):"
    )
    assert lines[at + 2 : at + 2 + len(job["last_error"].splitlines())] == [
        f"      {line}" for line in job["last_error"].splitlines()
    ]
    assert lines[0].startswith(f"{DEPLOYMENTS} at ") and "APP" in lines[2]
    assert HOOK_SECRET not in shown.stdout + shown.stderr

    as_json = json.loads(status(sandbox, "--json", "--webhook-url", hook.url).stdout)
    assert [(j["id"], j["error"]) for j in as_json["failed_jobs"]] == [
        (job["id"], job["last_error"])
    ]
    assert as_json["webhook_problem"] is None and as_json["rows"]

    nobody = f"http://127.0.0.1:{free_port()}"
    down = status(sandbox, "--webhook-url", nobody)
    assert down.returncode == 0, down.stderr
    assert down.stderr.startswith(f"warning: cannot reach the webhook at {nobody} (")
    assert "Failed webhook jobs: not read (see the warning)" in down.stdout
    assert "APP" in down.stdout, "the board still prints"

    wrong = status(sandbox, "--webhook-url", hook.url, secret="not-the-secret")  # noqa: S106
    assert wrong.returncode == 0
    assert f"the webhook at {hook.url} refused GITOPS_WEBHOOK_SECRET (HTTP 401)" in wrong.stderr
    assert "not-the-secret" not in wrong.stdout + wrong.stderr

    unset = status(sandbox, "--webhook-url", hook.url, secret=None)
    assert unset.returncode == 2 and unset.stdout == ""
    assert unset.stderr.startswith("error: GITOPS_WEBHOOK_SECRET is not set")


def _error_of(action: Any) -> str:
    try:
        action()
    except UserError as e:
        return e.message
    raise AssertionError("no error")


def test_each_failure_reads_as_its_category(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the board says for real errors of the tool's own parts."""
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.01,))
    nobody = f"http://127.0.0.1:{free_port()}"

    def gitlab_down() -> None:
        with GitLab(Access(nobody, TOKEN), retries=False) as gl:
            gl.project(DEPLOYMENTS)

    def bad_token() -> None:
        with GitLab(Access(sandbox.gitlab_url, "not-the-token"), retries=False) as gl:
            gl.project(DEPLOYMENTS)

    def not_a_deployment_repo() -> None:
        with target.connect("apps/example-app", Access(sandbox.gitlab_url, TOKEN)):
            pass

    def jenkins_down() -> None:
        with Jenkins(JenkinsAccess(nobody, "admin", TOKEN)) as server:
            server.job_exists("gitops-promote-env")

    def git_down() -> None:
        git.clone(f"{nobody}/platform/k8s-deployments.git", tmp_path / "clone", "dev", {})

    cases = {
        gitlab_down: "GitLab unavailable",
        bad_token: "GitLab refused the token",
        not_a_deployment_repo: "deployment project unreadable",
        jenkins_down: "Jenkins unreachable",
        git_down: "git transfer failed",
    }
    found = {action.__name__: category(_error_of(action)) for action in cases}
    assert found == {action.__name__: name for action, name in cases.items()}
    assert category("unexpected KeyError: 'x'") == "internal error"
    assert category(None) == category("something new") == "promotion error"
