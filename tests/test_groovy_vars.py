"""The shared library's steps (vars/) under real Groovy 2.4, one Groovy script per test.

Each tests/groovy/*Test.groovy drives the steps (gitopsPromote, gitopsPromoteEnv,
the operator steps gitopsSet, gitopsRollback, gitopsRevert and gitopsDecommission,
and gitopsHelperCli beneath them) through the pipeline runner's PipelineHarness (real
shell commands, Jenkins-like steps) and prints `ok - case` / `not ok - case`; a test
here passes when every case did.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import gitlab
import jenkins
import pytest

from gitops_sandbox import DEPLOYMENTS, EXAMPLE_APP, Sandbox, seed_default
from tests.gitops_sandbox.jenkins_testing import scm_job, started
from tests.helpers.groovy import (
    ROOT,
    agent_path,
    cases,
    dev_ahead_of_stage,
    fake_cli_bin,
    fake_cli_index,
    pinned_version,
    run_groovy_test,
)

# Fake, in the shape of a GitLab personal access token, so a leak would be recognisable.
TOKEN = "glpat-Jr8sVb2QmX5nKt7WyZc4"  # noqa: S105


def assert_all_passed(done: subprocess.CompletedProcess[str]) -> dict[str, bool]:
    """Every case of the run passed (and there were some); else show the whole output."""
    found = cases(done)
    report = f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert found, report
    assert done.returncode == 0, report
    assert all(found.values()), report
    return found


def test_every_step_has_a_help_page() -> None:
    """Jenkins shows vars/<step>.txt as the step's help: no step without one."""
    steps = sorted((ROOT / "vars").glob("*.groovy"))
    assert steps
    for step in steps:
        help_page = step.with_suffix(".txt")
        assert help_page.is_file(), f"{step.name} has no {help_page.name}"
        assert help_page.read_text().strip(), f"{help_page.name} is empty"


def _accepted_arguments(step: Path) -> set[str]:
    """The keys of the step's `Map defaults = [...]`, one commented line each."""
    block = re.search(r"Map defaults = \[(.*?)\n    \]", step.read_text(), re.DOTALL)
    assert block, f"no `Map defaults = [...]` in {step.name}"
    return set(re.findall(r"^\s+(\w+)\s*:", block.group(1), re.MULTILINE))


def _documented_arguments(page: str) -> set[str]:
    section = page[page.index("<b>Arguments</b>") : page.index("<b>Return value</b>")]
    return set(re.findall(r"<dt><code>(\w+)</code> \(", section))


@pytest.mark.parametrize("step", sorted((ROOT / "vars").glob("*.groovy")), ids=lambda p: p.stem)
def test_every_step_accepts_what_its_help_documents(step: Path) -> None:
    """Each argument of vars/<step>.groovy has an entry with its type in <step>.txt, and no more."""
    documented = _documented_arguments(step.with_suffix(".txt").read_text())
    assert _accepted_arguments(step) == documented


def test_harness_behaves_like_jenkins(tmp_path: Path) -> None:
    """The harness's sh, withEnv, withCredentials and loading, which the other tests rely on."""
    assert_all_passed(run_groovy_test("HarnessTest.groovy", tmp_path, agent_path=agent_path()))


@pytest.mark.parametrize(
    ("script", "case"),
    [
        ("GitopsPromoteArgumentsTest.groovy", "a missing tag is named"),
        ("GitopsPromoteEnvArgumentsTest.groovy", "a missing target is named, with an example"),
        (
            "GitopsOperatorStepsArgumentsTest.groovy",
            "gitopsSet: \\u000a inside an element of set is refused before anything is echoed",
        ),
    ],
)
def test_arguments_are_checked_before_anything_runs(tmp_path: Path, script: str, case: str) -> None:
    """Missing, unknown and mistyped arguments fail with a message naming them."""
    found = assert_all_passed(run_groovy_test(script, tmp_path, agent_path=agent_path()))
    assert case in found


@pytest.mark.parametrize(
    ("script", "case"),
    [
        (
            "GitopsPromoteCliTest.groovy",
            "the token never appears in the build log, errors, description or result",
        ),
        (
            "GitopsPromoteEnvCliTest.groovy",
            "a blocked unit fails the build naming it and why, after every unit is reported",
        ),
        (
            "GitopsOperatorStepsCliTest.groovy",
            "gitopsSet: each element of set is one --set, verbatim and in order (sh)",
        ),
    ],
)
def test_values_reach_the_cli_only_through_the_environment(
    tmp_path: Path, script: str, case: str
) -> None:
    """With the fake CLI: flags from GITOPS_* variables, the result, the log, the token."""
    path = agent_path(fake_cli_bin(tmp_path / "bin"))
    found = assert_all_passed(run_groovy_test(script, tmp_path, agent_path=path))
    assert case in found


def test_shell_injection_stays_inert(tmp_path: Path) -> None:
    """`1.0.0$(touch marker)` and friends in every argument of every step: no marker,
    the CLI gets the text."""
    path = agent_path(fake_cli_bin(tmp_path / "bin"))
    found = assert_all_passed(run_groovy_test("InjectionTest.groovy", tmp_path, agent_path=path))
    assert "gitopsPromote tag: 1.0.0$(touch marker)" in found
    assert "gitopsPromoteEnv from: dev$(touch marker)" in found
    assert "gitopsSet set: replicas=$(touch marker)" in found
    assert "gitopsRollback to: 1.0.0$(touch marker)" in found
    assert not list(tmp_path.rglob("marker"))


def test_installs_the_pinned_cli_from_the_configured_index(tmp_path: Path) -> None:
    """No gitops-helper on the PATH: a venv in WORKSPACE@tmp, from PIP_INDEX_URL, reused."""
    pinned = pinned_version()
    index = fake_cli_index(tmp_path / "index", [pinned, "0.0.1"])
    done = run_groovy_test(
        "GitopsPromoteInstallTest.groovy",
        tmp_path / "work",
        agent_path=agent_path(),
        env={
            "GROOVY_TEST_INDEX": index.as_uri(),
            "GROOVY_TEST_PINNED": pinned,
            "GROOVY_TEST_OLDER": "0.0.1",
        },
    )
    assert_all_passed(done)


def _real_cli() -> Path:
    """The project's own `gitops-helper` (the venv running these tests)."""
    exe = Path(sys.executable).parent / "gitops-helper"
    assert exe.exists(), f"no {exe}: install the project (make setup)"
    return exe


def _run_end_to_end(script: str, sb: Sandbox, work: Path, out: Path) -> None:
    """Run an end-to-end Groovy test with the real CLI against `sb`; every case must pass."""
    done = run_groovy_test(
        script,
        work,
        agent_path=agent_path(_real_cli().parent),
        env={
            "GROOVY_TEST_GITLAB_URL": sb.gitlab_url,
            "GROOVY_TEST_TOKEN": TOKEN,
            "GROOVY_TEST_OUT": str(out),
        },
    )
    assert_all_passed(done)


def test_end_to_end_against_the_sandbox(tmp_path: Path) -> None:
    """The step runs the real CLI against the sandbox; afterwards the MR exists in GitLab."""
    work = tmp_path / "work"
    out = tmp_path / "out"
    out.mkdir()
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        checkout = work / "example-app"  # the harness's workspace for this test
        subprocess.run(
            ["git", "clone", "--quiet", sb.clone_url(EXAMPLE_APP), str(checkout)],
            check=True,
            capture_output=True,
        )
        # As a Jenkins checkout leaves it: no credentials in the remote URL.
        subprocess.run(
            ["git", "-C", str(checkout), "remote", "set-url", "origin",
             sb.clone_url(EXAMPLE_APP, with_token=False)],
            check=True,
        )  # fmt: skip
        _run_end_to_end("GitopsPromoteEndToEndTest.groovy", sb, work, out)

        result = json.loads((out / "result.json").read_text())
        with gitlab.Gitlab(sb.gitlab_url, private_token=TOKEN) as gl:
            project = gl.projects.get(DEPLOYMENTS)
            mr = project.mergerequests.get(result["mr_iid"])
            assert mr.state == "opened"
            assert mr.source_branch == result["branch"]
            assert mr.target_branch == result["env"]
            assert mr.web_url == result["mr_url"]
            opened = project.mergerequests.list(state="opened", get_all=True)
            assert [m.iid for m in opened] == [mr.iid], "the rejected injection opened an MR"
    build_log = (out / "build-log.txt").read_text()
    assert "gitopsPromote: example-app 1.0.1 -> " in build_log
    assert TOKEN not in build_log
    assert not list(tmp_path.rglob("marker"))


def test_promote_env_end_to_end_against_the_sandbox(tmp_path: Path) -> None:
    """gitopsPromoteEnv runs the real CLI; afterwards the stage MR exists in GitLab."""
    out = tmp_path / "out"
    out.mkdir()
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        dev_ahead_of_stage(sb, tmp_path)
        _run_end_to_end("GitopsPromoteEnvEndToEndTest.groovy", sb, tmp_path / "work", out)

        (unit,) = json.loads((out / "result.json").read_text())["units"]
        with gitlab.Gitlab(sb.gitlab_url, private_token=TOKEN) as gl:
            project = gl.projects.get(DEPLOYMENTS)
            mr = project.mergerequests.get(unit["mr_iid"])
            assert mr.state == "opened"
            assert (mr.source_branch, mr.target_branch) == (unit["branch"], "stage")
            assert mr.web_url == unit["mr_url"]
            opened = project.mergerequests.list(state="opened", get_all=True)
            assert [m.iid for m in opened] == [mr.iid], "a dry run or a rejected call opened an MR"
    build_log = (out / "build-log.txt").read_text()
    assert f"gitopsPromoteEnv: dev -> stage: example-app 1.0.1: !{mr.iid} created" in build_log
    assert TOKEN not in build_log
    assert not list(tmp_path.rglob("marker"))


def test_set_end_to_end_against_the_sandbox(tmp_path: Path) -> None:
    """gitopsSet runs the real CLI: a [no-promote] hotfix MR to prod, with its values."""
    out = tmp_path / "out"
    out.mkdir()
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        _run_end_to_end("GitopsSetEndToEndTest.groovy", sb, tmp_path / "work", out)

        result = json.loads((out / "result.json").read_text())
        with gitlab.Gitlab(sb.gitlab_url, private_token=TOKEN) as gl:
            project = gl.projects.get(DEPLOYMENTS)
            mr = project.mergerequests.get(result["mr_iid"])
            assert mr.state == "opened"
            assert (mr.source_branch, mr.target_branch) == (result["branch"], "prod")
            assert mr.web_url == result["mr_url"]
            assert "no-promote" in mr.labels
            opened = project.mergerequests.list(state="opened", get_all=True)
            assert [m.iid for m in opened] == [mr.iid], "a dry run or a rejected call opened an MR"
    build_log = (out / "build-log.txt").read_text()
    assert f"[no-promote]: !{mr.iid} created {mr.web_url}" in build_log
    assert TOKEN not in build_log
    assert not list(tmp_path.rglob("marker"))


FAKE_DOCKER = '#!/bin/sh\necho "fake docker $*"\n'


def release(sb: Sandbox, version: str) -> None:
    """What an app team's release merge does: VERSION (what the Jenkinsfile builds) on main."""
    with gitlab.Gitlab(sb.gitlab_url, private_token=TOKEN) as gl:
        app = gl.projects.get(EXAMPLE_APP)
        branch = f"release-{version}"
        app.branches.create({"branch": branch, "ref": "main"})
        app.files.update(
            "VERSION",
            {"branch": branch, "content": f"{version}\n", "commit_message": f"Release {version}"},
        )
        mr = app.mergerequests.create(
            {"source_branch": branch, "target_branch": "main", "title": f"Release {version}"}
        )
        mr.merge()


def test_a_jenkins_job_runs_the_example_apps_jenkinsfile_against_the_sandbox(
    tmp_path: Path,
) -> None:
    """python-jenkins creates a job for apps/example-app's Jenkinsfile; the build promotes.

    The sandbox's Jenkins runs the Jenkinsfile (declarative, @Library, gitopsPromote)
    on the runner these tests use, with this repository as the library and the real
    CLI on the agent's PATH; docker is a stand-in that prints what it would do.
    """
    exe = _real_cli()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    with Sandbox.start(
        token=TOKEN,
        libraries={"jenkins-gitops-helpers": ROOT},
        agent_path=agent_path(bin_dir, exe.parent),
    ) as sb:
        seed_default(sb)
        server = jenkins.Jenkins(sb.jenkins_url, username="admin", password=TOKEN, timeout=30)
        url = sb.clone_url(EXAMPLE_APP, with_token=False)
        server.create_job("example-app", scm_job(url))
        first = started(server, server.build_job("example-app"))
        assert sb.wait_for_builds(300)
        console = server.get_build_console_output("example-app", first)
        assert server.get_build_info("example-app", first)["result"] == "SUCCESS", console
        assert "fake docker push registry.example.com/example-app:1.0.0" in console

        # The next release: its commit says 1.0.1, and the next build promotes that.
        release(sb, "1.0.1")
        second = started(server, server.build_job("example-app"))
        assert sb.wait_for_builds(300)
        info = server.get_build_info("example-app", second)
        console = server.get_build_console_output("example-app", second)
        assert info["result"] == "SUCCESS", console
        server._session.close()
        with gitlab.Gitlab(sb.gitlab_url, private_token=TOKEN) as gl:
            mrs = gl.projects.get(DEPLOYMENTS).mergerequests.list(state="opened", get_all=True)
    (mr,) = [m for m in mrs if "1.0.1" in m.title]
    assert f"gitopsPromote: example-app 1.0.1 -> {mr.target_branch}: !{mr.iid}" in console
    assert mr.web_url in console
    assert info["description"].startswith(f"example-app 1.0.1 -> {mr.target_branch}: !{mr.iid}")
    assert TOKEN not in console
