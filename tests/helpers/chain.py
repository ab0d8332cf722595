"""The promotion chain as a test drives it: a seeded sandbox, the webhook wired in, and a
user merging MRs through python-gitlab and reading what each environment deploys."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests
import yaml
from flask import Flask
from gitlab.v4.objects import Project, ProjectMergeRequest
from werkzeug.serving import BaseWSGIServer, make_server

import webhook
from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.operations.from_build import BuildPromotion, promote_build
from tests.helpers.apprepo import app_cue, make_app_repo

HOOK_SECRET = "chain-hook-secret-42"  # noqa: S105 - made up
EXAMPLE_IMAGE = "registry.example.com/example-app"
# The app layer example-app's repository keeps (its deployment/app.cue).
EXAMPLE_FIELDS = (
    "port: 8080",
    'appEnvVars: [{name: "APP_NAME", value: "example-app"}]',
    'readinessProbe: httpGet: {path: "/ready", port: "http"}',
    'livenessProbe: httpGet: {path: "/healthz", port: "http"}',
    "podSecurityContext: runAsNonRoot: true",
)


@dataclass
class Hook:
    """The webhook served on a loopback port, in this process."""

    app: Flask
    server: BaseWSGIServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def jobs(self) -> list[dict[str, Any]]:
        answer = requests.get(
            f"{self.url}/jobs", headers={"X-Gitlab-Token": HOOK_SECRET}, timeout=10
        )
        jobs: list[dict[str, Any]] = answer.json()["jobs"]
        return jobs

    def wait_idle(self, timeout: float = 120) -> list[dict[str, Any]]:
        """Until no job is queued or running (and the sandbox delivered every event)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                time.sleep(0.3)  # a delivery may be in flight: look once more
                if all(j["state"] not in ("queued", "running") for j in self.jobs()):
                    return self.jobs()
            time.sleep(0.2)
        raise AssertionError(f"jobs still busy after {timeout} s: {self.jobs()}")


@contextlib.contextmanager
def serve_webhook(
    sb: Sandbox, data_dir: Path, project: str = DEPLOYMENTS, **config: Any
) -> Iterator[Hook]:
    """The webhook for `project`, registered as its hook; stopped afterwards."""
    app = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": HOOK_SECRET,
            "GITLAB_URL": sb.gitlab_url,
            "GITLAB_TOKEN": sb.token,
            "GITOPS_PROJECT": project,
            "GITOPS_DATA_DIR": str(data_dir),
            "GITOPS_WORKERS": 2,
            "GITOPS_RECONCILE_INTERVAL": 0,
            **config,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook = Hook(app, server)
    with gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl:
        gl.projects.get(project).hooks.create(
            {
                "url": f"{hook.url}/hooks/gitlab",
                "token": HOOK_SECRET,
                "merge_requests_events": True,
                "push_events": False,
            }
        )
    try:
        yield hook
    finally:
        server.shutdown()
        webhook.shutdown(app)


class Chain:
    """What a user and Jenkins do: promote builds, merge MRs, read the environments."""

    def __init__(self, sb: Sandbox, project: Project) -> None:
        self.sb = sb
        self.project = project
        self._env = {"GITLAB_URL": sb.gitlab_url, "GITLAB_TOKEN": sb.token}
        self._scratch = Path(tempfile.mkdtemp(prefix="chain-app-repos-"))
        weakref.finalize(self, shutil.rmtree, self._scratch, ignore_errors=True)  # with the chain

    def app_repo(self, app: str, *fields: str, image: str | None = None) -> Path:
        """An app repository with `deployment/app.cue` (example-app's fields by default)."""
        root = Path(tempfile.mkdtemp(prefix=f"{app}-", dir=self._scratch))
        image = image or f"registry.example.com/{app}"
        return make_app_repo(root / app, app_cue(app, image, *(fields or EXAMPLE_FIELDS)))

    def build(
        self,
        app: str,
        tag: str,
        repo: Path,
        image: str | None = None,
        *,
        group: str | None = None,
        with_apps: tuple[str, ...] = (),
    ) -> BuildPromotion:
        """What gitopsPromote does after a build: promote to the first environment (with
        `group`, a release group with the apps of `with_apps`, `APP=TAG` each)."""
        with _environment(self._env):
            return promote_build(
                app=app,
                image=image or f"registry.example.com/{app}",
                tag=tag,
                digest=None,
                app_repo=repo,
                env=None,
                project=self.project.path_with_namespace,
                gitlab_url=None,
                group=group,
                with_apps=with_apps,
            )

    def merge(self, iid: int) -> None:
        mr = self.project.mergerequests.get(iid)
        mr.merge()

    def wait_mr(
        self,
        target: str,
        match: Callable[[ProjectMergeRequest], bool] = lambda mr: True,
        timeout: float = 120,
    ) -> ProjectMergeRequest:
        """The open MR into `target` that `match`es, once the webhook opened it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for mr in self.open_mrs(target):
                if match(mr):
                    return mr
            time.sleep(0.25)
        titles = [m.title for m in self.open_mrs(target)]
        raise AssertionError(f"no matching MR into {target} within {timeout} s; open: {titles}")

    def open_mrs(self, target: str) -> list[ProjectMergeRequest]:
        found: list[ProjectMergeRequest] = self.project.mergerequests.list(
            state="opened", target_branch=target, get_all=True
        )
        return found

    def titled(self, title: str) -> Callable[[ProjectMergeRequest], bool]:
        return lambda mr: bool(mr.title == title)

    def manifest(self, env: str, app: str, kind: str, name: str) -> dict[str, Any]:
        """An object as the environment's branch deploys it (what ArgoCD syncs)."""
        path = f"manifests/{env}/{app}/{kind.lower()}-{name}.yaml"
        loaded: dict[str, Any] = yaml.safe_load(self.project.files.raw(file_path=path, ref=env))
        return loaded

    def container(self, env: str, app: str) -> dict[str, Any]:
        deployment = self.manifest(env, app, "Deployment", app)
        container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
        return container

    def replicas(self, env: str, app: str) -> int:
        return int(self.manifest(env, app, "Deployment", app)["spec"]["replicas"])


@contextlib.contextmanager
def seeded(token: str) -> Iterator[tuple[Sandbox, Project, Chain]]:
    """A seeded sandbox, python-gitlab's view of k8s-deployments and a Chain on it, with
    GITLAB_URL and GITLAB_TOKEN set for the library's operations."""
    with (
        Sandbox.start(token=token) as sb,
        gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl,
        pytest.MonkeyPatch.context() as env,
    ):
        seed_default(sb)
        env.setenv("GITLAB_URL", sb.gitlab_url)
        env.setenv("GITLAB_TOKEN", sb.token)
        project = gl.projects.get(DEPLOYMENTS)
        yield sb, project, Chain(sb, project)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
