"""The demo's world: the sandbox (a child process), the webhook (here), and a user's hands.

Each use case starts from the same state: `reset` deletes the projects, recreates
them from repositories laid down once (`gitops-helper init-repo` and the example
app's), registers the webhook again on a fresh job store and deletes every Jenkins
job. What a scenario does goes through the same doors a user's work does: the
`gitops-helper` CLI as a subprocess, python-gitlab for merges and a person's MRs,
python-jenkins for builds, and git for reading what each environment deploys.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitlab
import jenkins
import requests
import yaml
from flask import Flask
from gitlab.v4.objects import Project, ProjectMergeRequest
from werkzeug.serving import BaseWSGIServer, make_server

from jenkins_helpers import git, proc
from jenkins_helpers.commands.sandbox import DEPLOYMENTS, sandbox_args, wait_ready

EXAMPLE_APP = "apps/example-app"
ENVS = ("dev", "stage", "prod")
HOOK_SECRET_BYTES = 24
WAIT = 120.0  # seconds for a webhook-made MR or a build
# The builds' `docker`: the demo has no registry, so building and pushing only echo.
FAKE_DOCKER = '#!/bin/sh\necho "docker (demo stand-in): $*"\n'


class Mismatch(Exception):
    """What a use case found differs from what must hold."""


@dataclass(frozen=True)
class Urls:
    gitlab: str
    jenkins: str
    state_dir: Path


class World:
    """One sandbox for the whole demo; `reset` gives each use case the starting state."""

    def __init__(self, urls: Urls, token: str, work: Path, engine: str | None) -> None:
        self.urls = urls
        self.token = token
        self.work = work
        self.secret = os.urandom(HOOK_SECRET_BYTES).hex()
        self.env = {
            "GITLAB_URL": urls.gitlab,
            "GITLAB_TOKEN": token,
            "JENKINS_URL": urls.jenkins,
            "JENKINS_USER": "admin",
            "JENKINS_TOKEN": token,
            **({"GITOPS_CUE_ENGINE": engine} if engine else {}),
        }
        self.gl = gitlab.Gitlab(urls.gitlab, private_token=token)
        self.jenkins = jenkins.Jenkins(urls.jenkins, username="admin", password=token)
        self._seeds = self._lay_down_seeds()
        self._hook: _Webhook | None = None
        self.project: Project

    # --- starting state -----------------------------------------------------------------

    def _lay_down_seeds(self) -> dict[str, Path]:
        """Mirror what the sandbox seeded on its first start: every use case starts from it."""
        seeds = {}
        for path in (DEPLOYMENTS, EXAMPLE_APP):
            seeds[path] = self.work / "seeds" / f"{path.replace('/', '-')}.git"
            self.git("clone", "--quiet", "--mirror", self.repo_url(path), str(seeds[path]))
        return seeds

    def repo_url(self, path: str) -> str:
        return f"{self.urls.gitlab}/{path}.git"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """git with the sandbox's token in the environment (never on the command line)."""
        env = git.auth_env(self.urls.gitlab, self.token)
        return proc.run(["git", *args], cwd=cwd, env=env).stdout

    def reset(self) -> None:
        """Fresh projects from the seeds, a fresh webhook, no Jenkins jobs."""
        if self._hook is not None:
            self._hook.stop()
            self._hook = None
        for path in (DEPLOYMENTS, EXAMPLE_APP, *self._extra_projects()):
            self._delete_project(path)
        for job in self.jenkins.get_jobs():
            self.jenkins.delete_job(job["name"])
        for path, source in self._seeds.items():
            protected = ["main", *ENVS] if path == DEPLOYMENTS else ["main"]
            self.seed_project(path, source, protected)
        self.project = self.gl.projects.get(DEPLOYMENTS)
        self._hook = _Webhook.start(self, self.work / "webhook" / str(time.monotonic_ns()))

    def _extra_projects(self) -> list[str]:
        return [
            p.path_with_namespace
            for p in self.gl.projects.list(get_all=True)
            if p.path_with_namespace not in (DEPLOYMENTS, EXAMPLE_APP)
        ]

    def _delete_project(self, path: str) -> None:
        try:
            self.gl.projects.delete(path)
        except gitlab.GitlabDeleteError as e:
            if e.response_code != 404:
                raise

    def seed_project(self, path: str, source: Path, protected: Sequence[str]) -> None:
        """Create a project from a local repository (the sandbox's admin API)."""
        answer = requests.post(
            f"{self.urls.gitlab}/-/sandbox/projects",
            json={"path": path, "source_dir": str(source), "protected": list(protected)},
            headers={"PRIVATE-TOKEN": self.token},
            timeout=60,
        )
        answer.raise_for_status()

    def app_project(self, app: str) -> None:
        """Another first-party app's repository, `apps/<app>`: the example app, renamed."""
        with tempfile.TemporaryDirectory(prefix=f"demo-{app}-", dir=self.work) as tmp:
            tree = Path(tmp) / app
            self.git("clone", "--quiet", str(self._seeds[EXAMPLE_APP]), str(tree))
            for name in ("deployment/app.cue", "Jenkinsfile", "README.md"):
                text = (tree / name).read_text()
                (tree / name).write_text(text.replace("example-app", app))
            git.commit_all(tree, f"Initial {app}")
            self.seed_project(f"apps/{app}", tree, ["main"])

    # --- the CLI ------------------------------------------------------------------------

    def cli_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`gitops-helper ARGS` as a user runs it, with the sandbox's credentials."""
        exe = Path(sys.executable).parent / "gitops-helper"
        command = [str(exe) if exe.exists() else "gitops-helper", *args]
        env = {**os.environ, **self.env}
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    def cli(self, *args: str) -> dict[str, Any]:
        """`gitops-helper ARGS --json`, which must succeed."""
        done = self.cli_run(*args, "--json")
        if done.returncode != 0:
            raise Mismatch(
                f"`gitops-helper {' '.join(args)}` exit {done.returncode}: {done.stderr.strip()}"
            )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def refused(self, *args: str, says: str) -> str:
        """The CLI refuses ARGS (exit 2, naming `says`) and no MR opens, changes or closes."""
        before = self.all_mrs()
        done = self.cli_run(*args)
        if done.returncode != 2 or says not in done.stderr:
            raise Mismatch(f"`{' '.join(args)}`: exit {done.returncode}, {done.stderr.strip()!r}")
        if self.all_mrs() != before:
            raise Mismatch(f"`{' '.join(args)}` was refused but changed MRs")
        return f"refused `{' '.join(args[:3])} ...`: exit 2, {says!r}"

    # --- merge requests -----------------------------------------------------------------

    def mr(self, iid: int) -> ProjectMergeRequest:
        return self.project.mergerequests.get(iid)

    def changed_paths(self, iid: int) -> set[str]:
        changes: Any = self.mr(iid).changes()
        return {c["new_path"] for c in changes["changes"]}

    def merge(self, iid: int, path: str = DEPLOYMENTS) -> None:
        """Merge through GitLab's API, as the MR's page does."""
        self.gl.projects.get(path).mergerequests.get(iid).merge()

    def open_mrs(self, target: str) -> list[ProjectMergeRequest]:
        found: list[ProjectMergeRequest] = self.project.mergerequests.list(
            state="opened", target_branch=target, get_all=True
        )
        return found

    def all_mrs(self) -> list[tuple[int, str, str, str]]:
        return sorted(
            (m.iid, m.state, m.title, m.sha)
            for m in self.project.mergerequests.list(state="all", get_all=True)
        )

    def wait_mr(self, target: str, title: str) -> ProjectMergeRequest:
        """The open MR titled `title` into `target`, once the webhook opened it."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for mr in self.open_mrs(target):
                if mr.title == title:
                    return mr
            time.sleep(0.2)
        titles = [m.title for m in self.open_mrs(target)]
        raise Mismatch(f"no MR {title!r} into {target} within {WAIT:g} s; open: {titles}")

    def chain(self, first_iid: int, title: str, envs: Sequence[str] = ENVS[1:]) -> list[int]:
        """Merge `first_iid`, then each MR the webhook opens (`title` with {env})."""
        merged = [first_iid]
        self.merge(first_iid)
        for env in envs:
            mr = self.wait_mr(env, title.format(env=env))
            self.merge(mr.iid)
            merged.append(mr.iid)
        self.idle()
        return merged

    def merged_quietly(self, iid: int) -> None:
        """Merge an MR after which nothing may open anywhere."""
        before = {env: sorted(m.iid for m in self.open_mrs(env) if m.iid != iid) for env in ENVS}
        self.merge(iid)
        self.idle()
        after = {env: sorted(m.iid for m in self.open_mrs(env)) for env in ENVS}
        if after != before:
            raise Mismatch(f"merging !{iid} opened MRs: {before} -> {after}")

    def idle(self) -> list[dict[str, Any]]:
        """Until the webhook has no job queued or running."""
        if self._hook is None:
            raise Mismatch("the webhook is not running (reset first)")
        return self._hook.wait_idle()

    def person_mr(
        self,
        branch: str,
        title: str,
        edit: Callable[[Path], None],
        *,
        render: bool = False,
        path: str = DEPLOYMENTS,
    ) -> int:
        """A person's MR into `branch` of `path`: clone, `edit`, render (an environment
        branch), push, open."""
        source = f"person/{branch}-{time.monotonic_ns()}"
        with self.clone(branch, path) as tree:
            edit(tree)
            if render:
                done = self.cli_run("render", "--repo", str(tree))
                if done.returncode != 0:
                    raise Mismatch(f"render failed: {done.stderr.strip()}")
            git.commit_all(tree, title)
            git.switch(tree, source, create_from="HEAD")
            self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{source}", cwd=tree)
        mr = self.gl.projects.get(path).mergerequests.create(
            {"source_branch": source, "target_branch": branch, "title": title}
        )
        return int(mr.iid)

    @contextmanager
    def clone(self, branch: str, path: str = DEPLOYMENTS) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="demo-clone-", dir=self.work) as tmp:
            tree = Path(tmp) / "repo"
            url = self.repo_url(path)
            git.clone(url, tree, branch, git.auth_env(url, self.token))
            yield tree

    # --- what each environment deploys --------------------------------------------------

    def deployed(self, env: str) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every object of `manifests/<env>/` on the env's branch: (app, kind, name) -> object."""
        with self.clone(env) as tree:
            objects = {}
            for path in sorted((tree / "manifests" / env).glob("*/*.yaml")):
                obj = yaml.safe_load(path.read_text())
                objects[(path.parent.name, obj["kind"], obj["metadata"]["name"])] = obj
            return objects

    def everywhere(self) -> dict[str, dict[tuple[str, str, str], dict[str, Any]]]:
        return {env: self.deployed(env) for env in ENVS}

    # --- Jenkins ------------------------------------------------------------------------

    def wait_builds(self) -> None:
        answer = requests.post(
            f"{self.urls.gitlab}/-/sandbox/jenkins/builds/wait",
            headers={"PRIVATE-TOKEN": self.token},
            timeout=WAIT,
        )
        if answer.status_code != 200:
            raise Mismatch(f"Jenkins builds still running after {WAIT:g} s")

    def last_build(self, job: str) -> dict[str, Any]:
        info = self.jenkins.get_job_info(job)
        number = info["lastBuild"]["number"]
        build: dict[str, Any] = self.jenkins.get_build_info(job, number)
        if build["result"] != "SUCCESS":
            log = self.jenkins.get_build_console_output(job, number)
            raise Mismatch(f"{job} #{number} {build['result']}: {log[-2000:]}")
        return build

    def close(self) -> None:
        if self._hook is not None:
            self._hook.stop()
        self.gl.session.close()


@dataclass
class _Webhook:
    """The webhook on a loopback port of this process, registered on the deployment project."""

    app: Flask
    server: BaseWSGIServer
    secret: str

    @classmethod
    def start(cls, world: World, data_dir: Path) -> _Webhook:
        import webhook

        app = webhook.create_app(
            {
                "GITOPS_WEBHOOK_SECRET": world.secret,
                "GITLAB_URL": world.urls.gitlab,
                "GITLAB_TOKEN": world.token,
                "GITOPS_PROJECT": DEPLOYMENTS,
                "GITOPS_DATA_DIR": str(data_dir),
                "GITOPS_WORKERS": 2,
                "GITOPS_RECONCILE_INTERVAL": 0,
                **{k: v for k, v in world.env.items() if k.startswith("JENKINS_")},
            }
        )
        for name in ("werkzeug", "webhook", "jenkins_helpers"):  # the demo's lines tell it
            logging.getLogger(name).setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        hook = cls(app, server, world.secret)
        world.project.hooks.create(
            {
                "url": f"{hook.url}/hooks/gitlab",
                "token": world.secret,
                "merge_requests_events": True,
                "push_events": False,
            }
        )
        return hook

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def jobs(self) -> list[dict[str, Any]]:
        answer = requests.get(
            f"{self.url}/jobs", headers={"X-Gitlab-Token": self.secret}, timeout=10
        )
        jobs: list[dict[str, Any]] = answer.json()["jobs"]
        return jobs

    def wait_idle(self) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if all(j["state"] not in ("queued", "running") for j in self.jobs()):
                time.sleep(0.3)  # a delivery may be in flight: look once more
                jobs = self.jobs()
                if all(j["state"] not in ("queued", "running") for j in jobs):
                    return jobs
            time.sleep(0.2)
        raise Mismatch(f"webhook jobs still busy after {WAIT:g} s")

    def stop(self) -> None:
        import webhook

        self.server.shutdown()
        webhook.shutdown(self.app)


@contextmanager
def started(token: str, engine: str | None, keep: Path | None) -> Iterator[World]:
    """The sandbox as a child process (its Jenkins runs this library's steps) and a World."""
    work = Path(tempfile.mkdtemp(prefix="gitops-demo-"))
    state = keep if keep is not None else work / "sandbox"
    agent = work / "agent"
    agent.mkdir()
    (agent / "docker").write_text(FAKE_DOCKER)
    (agent / "docker").chmod(0o755)
    path = os.pathsep.join([str(agent), str(Path(sys.executable).parent), os.environ["PATH"]])
    ready = work / "ready.json"
    args = [*sandbox_args(state, 0, ready), "--agent-path", path]
    env = {"SANDBOX_TOKEN": token, **({"GITOPS_CUE_ENGINE": engine} if engine else {})}
    child = proc.spawn(args, env=env, output=work / "sandbox.log")
    world = None
    try:
        urls = wait_ready(child, ready)
        world = World(
            Urls(urls["gitlab_url"], urls["jenkins_url"], Path(urls["state_dir"])),
            token,
            work,
            engine,
        )
        yield world
    finally:
        if world is not None:
            world.close()
        proc.stop(child)
        shutil.rmtree(work, ignore_errors=True)
