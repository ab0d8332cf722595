"""The default content: `platform/k8s-deployments` and `apps/example-app`.

The deployment repo is made the way a user makes one, by running
`gitops-helper init-repo` as a subprocess: the sandbox stands in for GitLab and
must not import the tool's own modules. The app repo is small and fixed here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_sandbox.errors import SandboxError
from gitops_sandbox.gitrepo import clean_env

if TYPE_CHECKING:
    from gitops_sandbox.server import Sandbox

DEPLOYMENTS = "platform/k8s-deployments"
EXAMPLE_APP = "apps/example-app"
DEFAULT_ENVS = ("dev", "stage", "prod")
SEED_IDENTITY = {
    "GIT_AUTHOR_NAME": "Sandbox Seed",
    "GIT_AUTHOR_EMAIL": "seed@sandbox.invalid",
    "GIT_COMMITTER_NAME": "Sandbox Seed",
    "GIT_COMMITTER_EMAIL": "seed@sandbox.invalid",
}

# An app repository's files, for any app name (APP stands for it).
APP = "__APP__"
APP_CUE = """package deployments

// App layer of __APP__, owned by its team. gitopsPromote copies it into
// k8s-deployments as services/apps/__APP__.cue with each promotion.
// Per-environment values (image tag, replicas, resources) live in each
// environment's env.cue, not here.
apps: "__APP__": app: {
\tdeployment: image: repository: "registry.example.com/__APP__"
\tport: 8080
\tappEnvVars: [{name: "APP_NAME", value: "__APP__"}]
\treadinessProbe: httpGet: {path: "/ready", port: "http"}
\tlivenessProbe: httpGet: {path: "/healthz", port: "http"}
\tpodSecurityContext: runAsNonRoot: true
}
"""

JENKINSFILE = """@Library('jenkins-gitops-helpers') _

pipeline {
    agent any
    stages {
        stage('Build') {
            steps {
                script {
                    // The version this commit builds, from the commit: a parameter's
                    // default is applied after the build that read it, so it would
                    // promote the previous commit's version.
                    env.IMAGE_TAG = readFile('VERSION').trim()
                }
                sh 'docker build -t "registry.example.com/__APP__:$IMAGE_TAG" .'
                sh 'docker push "registry.example.com/__APP__:$IMAGE_TAG"'
            }
        }
        stage('Promote') {
            steps {
                gitopsPromote(app: '__APP__', image: 'registry.example.com/__APP__', tag: env.IMAGE_TAG)
            }
        }
    }
}
"""  # noqa: E501 - the call is kept on one line, as users write it


def gitops_helper() -> str | None:
    """The `gitops-helper` next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "gitops-helper"
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("gitops-helper")


def write_example_app(directory: Path, app: str = "example-app") -> Path:
    """Create an app's git repo (`deployment/app.cue`, `Jenkinsfile`, `VERSION`) on `main`."""
    (directory / "deployment").mkdir(parents=True, exist_ok=True)
    (directory / "deployment" / "app.cue").write_text(APP_CUE.replace(APP, app), encoding="utf-8")
    (directory / "Jenkinsfile").write_text(JENKINSFILE.replace(APP, app), encoding="utf-8")
    (directory / "VERSION").write_text("1.0.0\n", encoding="utf-8")  # what it builds
    (directory / "README.md").write_text(
        f"# {app}\n\nA first-party app; its pipeline calls `gitopsPromote`.\n",
        encoding="utf-8",
    )
    env = clean_env(SEED_IDENTITY)
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "--no-verify", "-m", f"Initial {app}"],
    ):
        subprocess.run(
            ["git", "-C", str(directory), *args], env=env, check=True, capture_output=True
        )
    return directory


def seed_default(sb: Sandbox, envs: Sequence[str] = DEFAULT_ENVS) -> dict[str, dict[str, Any]]:
    """Seed `platform/k8s-deployments` (via `gitops-helper init-repo`) and `apps/example-app`."""
    exe = gitops_helper()
    if exe is None:
        raise SandboxError(
            "gitops-helper is not installed",
            "install the project (make setup) so `gitops-helper` is on PATH",
        )
    with tempfile.TemporaryDirectory(prefix="sandbox-seed-") as tmp:
        target = Path(tmp) / "k8s-deployments"
        done = subprocess.run(
            [exe, "init-repo", str(target), "--envs", ",".join(envs)],
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            raise SandboxError(
                f"`gitops-helper init-repo` failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()}",
                "run `gitops-helper init-repo DIR` by hand to see the problem",
            )
        deployments = sb.create_project(DEPLOYMENTS, source_dir=target, protected=["main", *envs])
        app = sb.create_project(
            EXAMPLE_APP, source_dir=write_example_app(Path(tmp) / "app"), protected=["main"]
        )
    return {DEPLOYMENTS: deployments, EXAMPLE_APP: app}


def seed_app(
    sb: Sandbox, app: str, group: str = "apps", protected: Sequence[str] = ("main",)
) -> dict[str, Any]:
    """Another first-party app's repository, `<group>/<app>`, like the example app's."""
    with tempfile.TemporaryDirectory(prefix="sandbox-app-") as tmp:
        source = write_example_app(Path(tmp) / app, app)
        return sb.create_project(f"{group}/{app}", source_dir=source, protected=protected)
