"""Run the Groovy tests of vars/ (tests/groovy/) and build what they need.

Groovy is Debian's `groovy` 2.4 (the line Jenkins runs), installed by `make test`.
The tests run on the pipeline runner the sandbox's Jenkins uses
(sandbox/gitops_sandbox/jenkins_runner/: PipelineHarness and its stubs of Jenkins'
classes), found and started through `gitops_sandbox.groovy_cli`. The steps' end-to-end
tests (here and through the sandbox's Jenkins, tests/test_jenkins.py) run the real
CLI against a seeded sandbox; `dev_ahead_of_stage` gives them something to promote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import gitlab

from gitops_sandbox import DEPLOYMENTS, EXAMPLE_APP, Sandbox, groovy_cli

ROOT = Path(__file__).resolve().parents[2]
GROOVY_TESTS = ROOT / "tests" / "groovy"
FAKE_CLI = Path(__file__).resolve().parent / "fake_gitops_helper.py"
REQUIREMENTS = ROOT / "resources" / "jenkins-gitops-helpers" / "requirements.txt"
PACKAGE = "jenkins-gitops-helpers"
# Variables of the developer's shell that would change what the steps under test do.
_NOT_INHERITED = ("GITLAB_", "GITOPS_", "PIP_", "VIRTUAL_ENV", "GROOVY_TEST_", "PYTHONPATH")


def agent_path(*first: Path) -> str:
    """A PATH for the pipeline's agent: `first`, then ours without any `gitops-helper`."""
    dirs = [str(d) for d in first]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and not (Path(entry) / "gitops-helper").exists() and entry not in dirs:
            dirs.append(entry)
    return os.pathsep.join(dirs)


def run_groovy_test(
    script: str, work: Path, *, agent_path: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run tests/groovy/<script> with the harness on the classpath; never raises on failure."""
    exe = groovy_cli.groovy()
    if exe is None:
        raise AssertionError("no groovy on PATH: run `make test`, which installs Debian's groovy")
    child = groovy_cli.environment(
        {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    )
    child.update(
        GROOVY_TEST_LIBRARY=str(ROOT),
        GROOVY_TEST_WORK=str(work),
        GROOVY_TEST_AGENT_PATH=agent_path,
        **(env or {}),
    )
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [exe, "-cp", groovy_cli.classpath(GROOVY_TESTS), str(GROOVY_TESTS / script)],
        cwd=work,
        env=child,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def cases(done: subprocess.CompletedProcess[str]) -> dict[str, bool]:
    """The `ok - name` / `not ok - name` lines of a run, by name."""
    found = {}
    for line in done.stdout.splitlines():
        match = re.match(r"^(ok|not ok) - (.+)$", line)
        if match:
            found[match.group(2)] = match.group(1) == "ok"
    return found


def fake_cli_bin(directory: Path) -> Path:
    """A directory holding `gitops-helper`: the fake CLI run by this Python."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "gitops-helper"
    exe.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_CLI))} "$@"\n'
    )
    exe.chmod(0o755)
    return directory


def pinned_version() -> str:
    """The version of jenkins-gitops-helpers that the library's requirements.txt pins."""
    match = re.search(rf"^{PACKAGE}==(\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    if match is None:
        raise AssertionError(f"{REQUIREMENTS} pins no version of {PACKAGE}")
    return match.group(1)


def fake_cli_index(directory: Path, versions: list[str]) -> Path:
    """A PEP 503 package index on disk offering the fake CLI as jenkins-gitops-helpers `versions`.

    Its URL (`directory.as_uri()`) works as PIP_INDEX_URL, as an air-gapped mirror does.
    """
    project = directory / PACKAGE
    project.mkdir(parents=True, exist_ok=True)
    wheels = [_fake_cli_wheel(project, version) for version in versions]
    links = "\n".join(f'<a href="{w.name}">{w.name}</a><br>' for w in wheels)
    (project / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n")
    (directory / "index.html").write_text(
        f'<!DOCTYPE html>\n<html><body><a href="{PACKAGE}/">{PACKAGE}</a></body></html>\n'
    )
    return directory


def _fake_cli_wheel(directory: Path, version: str) -> Path:
    """A pure-Python wheel whose console script `gitops-helper` is the fake CLI."""
    dist = f"jenkins_gitops_helpers-{version}.dist-info"
    files = {
        "gitops_helper_fake.py": FAKE_CLI.read_bytes(),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n"
            "Summary: fake gitops-helper for the Groovy tests\n"
        ).encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: testing.groovy\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{dist}/entry_points.txt": b"[console_scripts]\ngitops-helper = gitops_helper_fake:main\n",
    }
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = directory / f"jenkins_gitops_helpers-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def dev_ahead_of_stage(sb: Sandbox, work: Path, tag: str = "1.0.1") -> int:
    """Promote example-app `tag` into dev and merge it, as a team's pipeline and review would.

    Runs the real `gitops-helper promote` on a clone of the sandbox's apps/example-app
    and merges its MR through the API, so dev then holds what stage lacks. Returns
    the merged MR's iid.
    """
    checkout = work / "example-app"
    subprocess.run(
        ["git", "clone", "--quiet", sb.clone_url(EXAMPLE_APP), str(checkout)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "promote", "--json", "--app", "example-app",
         "--image", "registry.example.com/example-app", "--tag", tag, "--app-repo", str(checkout)],
        env={**os.environ, "GITLAB_URL": sb.gitlab_url, "GITLAB_TOKEN": sb.token},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    iid = int(json.loads(done.stdout)["mr_iid"])
    with gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl:
        gl.projects.get(DEPLOYMENTS).mergerequests.get(iid).merge()
    return iid
