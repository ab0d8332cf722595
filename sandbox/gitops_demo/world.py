"""The demo's world: a GitLab (the sandbox, or a real one's test group), the webhook (here),
Jenkins when there is one, and a user's hands.

Each use case starts from the same state: `reset` puts the projects back to the
seeds (seeds.py, ground.py), registers a fresh webhook and deletes the Jenkins jobs
use cases create. What a scenario does goes through the doors a user's work does:
the `gitops-helper` CLI as a subprocess, python-gitlab for merges and a person's MRs,
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

from gitops_demo import activity, seeds
from gitops_demo.ground import Ground
from gitops_demo.launch import DEPLOYMENTS, sandbox_args, wait_ready
from gitops_demo.seeds import ENVS
from jenkins_helpers import git, proc
from jenkins_helpers.errors import UserError
from jenkins_helpers.jenkins import JenkinsAccess

HOOK_SECRET_BYTES = 24
# Argo CD's token for the demo's gitops.yaml (`argocd.token_env`): a name of its own, so
# the demo never reads or overwrites a user's ARGOCD_TOKEN.
ARGOCD_TOKEN_ENV = "GITOPS_DEMO_ARGOCD_TOKEN"  # noqa: S105 - a variable's name
# How often the webhook looks at a waiting promotion, and how long it waits at most: the
# sandbox's Argo CD syncs a push in a fraction of a second (argocd_sync_delay).
ARGOCD_POLL, ARGOCD_TIMEOUT = "0.5s", "2m"
WAIT = 120.0  # seconds for a webhook-made MR or a build
# The builds' `docker`: the demo has no registry, so building and pushing only echo.
FAKE_DOCKER = '#!/bin/sh\necho "docker (demo stand-in): $*"\n'


class Mismatch(Exception):
    """What a use case found differs from what must hold."""


# Jenkins jobs use cases create (onboarding); reset deletes them.
DEMO_JOBS = ("example-app", "user-service", "legacy-service")
EXTRA_APPS = DEMO_JOBS[1:]  # repositories beside example-app's, made by F1 and F3


class World:
    """The demo's GitLab, Jenkins and webhook; `reset` gives each use case the starting state."""

    def __init__(
        self,
        gitlab_url: str,
        token: str,
        work: Path,
        *,
        engine: str | None,
        project: str = DEPLOYMENTS,
        jenkins_access: JenkinsAccess | None = None,
        foreign_ok: bool = False,
        hook_host: str = "127.0.0.1",
        argocd_url: str | None = None,
    ) -> None:
        self.gitlab_url = gitlab_url.rstrip("/")
        self.argocd_url = argocd_url
        self.token = token
        self.work = work
        self.hook_host = hook_host
        self.secret = os.urandom(HOOK_SECRET_BYTES).hex()
        self.env = {
            "GITLAB_URL": self.gitlab_url,
            "GITLAB_TOKEN": token,
            "GITOPS_PROJECT": project,
            **({"GITOPS_CUE_ENGINE": engine} if engine else {}),
        }
        self._jenkins = None
        if jenkins_access is not None:
            self.env |= {
                "JENKINS_URL": jenkins_access.url,
                "JENKINS_USER": jenkins_access.user,
                "JENKINS_TOKEN": jenkins_access.token,
            }
            self._jenkins = jenkins.Jenkins(
                jenkins_access.url, username=jenkins_access.user, password=jenkins_access.token
            )
        if argocd_url is not None:
            self.env[ARGOCD_TOKEN_ENV] = token  # the sandbox's Argo CD takes its token
            os.environ[ARGOCD_TOKEN_ENV] = token  # for the webhook, served in this process
        self.gl = gitlab.Gitlab(self.gitlab_url, private_token=token)
        self.ground = Ground(self.gl, self._push_all, project, foreign_ok=foreign_ok)
        activity.doing("laying down the seeds (gitops-helper init-repo)")
        self.seeds = seeds.lay_down(work / "seeds", self._init_repo, self._argocd_yaml())
        activity.doing("")
        self._hook: _Webhook | None = None
        self.project: Project

    @property
    def jenkins(self) -> jenkins.Jenkins:
        """python-jenkins on the demo's Jenkins; a use case needing one fails without."""
        if self._jenkins is None:
            raise Mismatch(
                "this use case needs Jenkins: set JENKINS_URL, JENKINS_USER and JENKINS_TOKEN "
                "(its library configured as jenkins-gitops-helpers)"
            )
        return self._jenkins

    @property
    def deployments(self) -> str:
        return self.ground.deployments

    def app_path(self, app: str) -> str:
        """An app's repository: a sibling of the deployment project."""
        return self.ground.app_path(app)

    # --- starting state -----------------------------------------------------------------

    def _argocd_yaml(self) -> str:
        """gitops.yaml's `argocd:` for the sandbox's Argo CD: every merge into an
        environment waits for its Application before the next MR opens (docs/ARGOCD.md)."""
        if self.argocd_url is None:
            return ""
        section = {
            "url": self.argocd_url,
            "token_env": ARGOCD_TOKEN_ENV,
            "poll": ARGOCD_POLL,
            "timeout": ARGOCD_TIMEOUT,
        }
        return yaml.safe_dump({"argocd": section}, sort_keys=False)

    def gate_waits(self) -> list[str]:
        """How long each merge waited for Argo CD before its next MR (the webhook's job
        records); the use case's own, since the webhook is fresh for each. None without
        an Argo CD in gitops.yaml."""
        if self._hook is None or self.argocd_url is None:
            return []
        lines = []
        for job in sorted(self._hook.jobs(), key=lambda j: int(j["id"])):
            merge, gate = job.get("merge") or {}, (job.get("result") or {}).get("gate")
            if merge.get("target_branch") not in ENVS or not job.get("target"):
                continue  # not a promotion on from an environment: nothing gated
            outcome = "opened" if job["state"] in ("done", "blocked") else job["state"]
            held = (
                f"waited {float(gate.get('waited') or 0):.1f} s"
                if isinstance(gate, dict)
                else "not held (open at the first look, or nothing to gate)"
            )
            where = f"!{merge.get('iid')} into {merge.get('target_branch')}"
            lines.append(f"Argo CD gate: {where} {held}, {job['target']}'s MR {outcome}")
        return lines

    def _init_repo(self, target: Path, envs: Sequence[str]) -> None:
        done = self.cli_run("init-repo", str(target), "--envs", ",".join(envs))
        if done.returncode != 0:
            raise UserError(f"gitops-helper init-repo failed: {done.stderr.strip()}")

    def _push_all(self, seed: Path, path: str) -> None:
        """Every branch of `seed` to `path`, forced; branches the seed lacks deleted."""
        self.git(
            "push",
            "--quiet",
            "--force",
            "--prune",
            self.repo_url(path),
            "refs/heads/*:refs/heads/*",
            cwd=seed,
        )

    def repo_url(self, path: str) -> str:
        return f"{self.gitlab_url}/{path}.git"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """git with the token in the environment (never on the command line)."""
        env = git.auth_env(self.gitlab_url, self.token)
        return proc.run(["git", *args], cwd=cwd, env=env).stdout

    def reset(self) -> None:
        """The seeds' branches, no open MRs, a fresh webhook, no Jenkins jobs of ours."""
        activity.doing("resetting GitLab, Jenkins and the webhook to the starting state")
        if self._hook is not None:
            self._hook.stop()
            self._hook = None
        for app in EXTRA_APPS:
            self.ground.remove(self.app_path(app))
        self.ground.reset(self.app_path("example-app"), self.seeds.example_app, ["main"])
        self.project = self.ground.reset(self.deployments, self.seeds.deployments, ["main", *ENVS])
        if self._jenkins is not None:
            for job in DEMO_JOBS:
                if self._jenkins.job_exists(job):
                    self._jenkins.delete_job(job)
        self._hook = _Webhook.start(self, self.work / "webhook" / str(time.monotonic_ns()))

    def app_project(self, app: str) -> None:
        """Another first-party app's repository, next to example-app's: created and seeded."""
        source = self.seeds.app(app, self.work / "apps" / str(time.monotonic_ns()))
        self.ground.reset(self.app_path(app), source, ["main"])

    # --- the CLI ------------------------------------------------------------------------

    def cli_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`gitops-helper ARGS` as a user runs it, with the sandbox's credentials."""
        activity.doing(f"running gitops-helper {args[0]}")
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
        """The MR once GitLab has checked its mergeability: GitLab checks asynchronously
        and a client polls while it reads `preparing`, `checking` or `unchecked`."""
        mr = self.project.mergerequests.get(iid)
        deadline = time.monotonic() + WAIT
        while mr.detailed_merge_status in ("preparing", "checking", "unchecked"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
            mr = self.project.mergerequests.get(iid)
        return mr

    def changed_paths(self, iid: int) -> set[str]:
        changes: Any = self.mr(iid).changes()
        return {c["new_path"] for c in changes["changes"]}

    def merge(self, iid: int, path: str | None = None) -> None:
        """Merge through GitLab's API, as the MR's page does."""
        activity.doing(f"merging !{iid}")
        self.gl.projects.get(path or self.deployments).mergerequests.get(iid).merge()

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
        activity.doing(f"waiting for the MR {title!r} into {target} to open")
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
        activity.doing("waiting for the webhook's jobs to end")
        return self._hook.wait_idle()

    def person_mr(
        self,
        branch: str,
        title: str,
        edit: Callable[[Path], None],
        *,
        render: bool = False,
        path: str | None = None,
    ) -> int:
        """A person's MR into `branch` of `path`: clone, `edit`, render (an environment
        branch), push, open."""
        source = f"person/{branch}-{time.monotonic_ns()}"
        path = path or self.deployments
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
    def clone(self, branch: str, path: str | None = None) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="demo-clone-", dir=self.work) as tmp:
            tree = Path(tmp) / "repo"
            url = self.repo_url(path or self.deployments)
            git.clone(url, tree, branch, git.auth_env(url, self.token))
            yield tree

    # --- what each environment deploys --------------------------------------------------

    def deployed(self, env: str) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every object of `manifests/<env>/` on the env's branch: (app, kind, name) -> object."""
        return self.everywhere((env,))[env]

    def everywhere(
        self, envs: Sequence[str] = ENVS
    ) -> dict[str, dict[tuple[str, str, str], dict[str, Any]]]:
        """What each environment's branch deploys, from one fetch of a local mirror."""
        mirror = self.work / "mirror.git"
        if not mirror.exists():
            self.git("init", "--quiet", "--bare", str(mirror))
        self.git(
            "fetch",
            "--quiet",
            "--prune",
            "--force",
            self.repo_url(self.deployments),
            "+refs/heads/*:refs/heads/*",
            cwd=mirror,
        )
        found: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
        for env in envs:
            found[env] = {}
            for path, text in sorted(git.texts_at(mirror, env, f"manifests/{env}").items()):
                if path.endswith(".yaml"):
                    obj = yaml.safe_load(text)
                    app = path.split("/")[2]
                    found[env][(app, obj["kind"], obj["metadata"]["name"])] = obj
        return found

    # --- Jenkins ------------------------------------------------------------------------

    def wait_build(self, job: str) -> dict[str, Any]:
        """`job`'s last build, once nothing of it is queued or running; it must have passed."""
        activity.doing(f"waiting for Jenkins' build of {job}")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            info = self.jenkins.get_job_info(job)
            last, done = info.get("lastBuild") or {}, info.get("lastCompletedBuild") or {}
            if not info.get("inQueue") and last and last.get("number") == done.get("number"):
                return self.last_build(job)
            time.sleep(0.5)
        raise Mismatch(f"{job} still building after {WAIT:g} s")

    def last_build(self, job: str) -> dict[str, Any]:
        number = self.jenkins.get_job_info(job)["lastCompletedBuild"]["number"]
        build: dict[str, Any] = self.jenkins.get_build_info(job, number)
        if build["result"] != "SUCCESS":
            log = self.jenkins.get_build_console_output(job, number)
            raise Mismatch(f"{job} #{number} {build['result']}: {log[-2000:]}")
        return build

    def close(self) -> None:
        if self._hook is not None:
            self._hook.stop()
            self._hook = None
        self.gl.session.close()


BUSY = ("queued", "running", "waiting")  # webhook job states not yet ended


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
                "GITLAB_URL": world.gitlab_url,
                "GITLAB_TOKEN": world.token,
                "GITOPS_PROJECT": world.deployments,
                "GITOPS_DATA_DIR": str(data_dir),
                "GITOPS_WORKERS": 2,
                "GITOPS_RECONCILE_INTERVAL": 0,
                **{k: v for k, v in world.env.items() if k.startswith("JENKINS_")},
            }
        )
        for name in ("werkzeug", "webhook", "jenkins_helpers"):  # the demo's lines tell it
            logging.getLogger(name).setLevel(logging.WARNING)
        server = make_server(world.hook_host, 0, app, threaded=True)
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
        return f"http://{self.server.host}:{self.server.server_port}"

    def jobs(self) -> list[dict[str, Any]]:
        answer = requests.get(
            f"{self.url}/jobs", headers={"X-Gitlab-Token": self.secret}, timeout=10
        )
        jobs: list[dict[str, Any]] = answer.json()["jobs"]
        return jobs

    def wait_idle(self) -> list[dict[str, Any]]:
        """Until no job is queued, running or waiting for Argo CD (its gate)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if all(j["state"] not in BUSY for j in self.jobs()):
                time.sleep(0.3)  # a delivery may be in flight: look once more
                jobs = self.jobs()
                if all(j["state"] not in BUSY for j in jobs):
                    return jobs
            time.sleep(0.2)
        raise Mismatch(f"webhook jobs still busy after {WAIT:g} s")

    def stop(self) -> None:
        import webhook

        self.server.shutdown()
        webhook.shutdown(self.app)


@contextmanager
def started(
    token: str, engine: str | None, keep: Path | None, argocd_gate: bool = True
) -> Iterator[World]:
    """The sandbox as a child process (its Jenkins runs this library's steps) and a World
    whose gitops.yaml names the sandbox's Argo CD (`argocd_gate`) or no Argo CD."""
    with _work_dir() as work:
        state = keep if keep is not None else work / "sandbox"
        agent = work / "agent"
        agent.mkdir()
        (agent / "docker").write_text(FAKE_DOCKER)
        (agent / "docker").chmod(0o755)
        path = os.pathsep.join([str(agent), str(Path(sys.executable).parent), os.environ["PATH"]])
        ready = work / "ready.json"
        args = [*sandbox_args(state, 0, ready), "--agent-path", path]
        env = {"SANDBOX_TOKEN": token, **({"GITOPS_CUE_ENGINE": engine} if engine else {})}
        activity.doing("starting a sandbox (GitLab and Jenkins stand-ins)")
        child = proc.spawn(args, env=env, output=work / "sandbox.log")
        try:
            urls = wait_ready(child, ready)
            jenkins_access = JenkinsAccess(urls["jenkins_url"], "admin", token)
            # Its own fresh sandbox: what the sandbox seeded is the demo's to reset.
            world = World(
                urls["gitlab_url"],
                token,
                work,
                engine=engine,
                jenkins_access=jenkins_access,
                foreign_ok=True,
                argocd_url=urls["argocd_url"] if argocd_gate else None,
            )
            try:
                yield world
            finally:
                world.close()
        finally:
            proc.stop(child)


@contextmanager
def connected(
    gitlab_url: str,
    token: str,
    project: str,
    *,
    engine: str | None,
    jenkins_access: JenkinsAccess | None,
    foreign_ok: bool,
    hook_host: str,
) -> Iterator[World]:
    """A World on a GitLab of the user's: `project` in a test group, reset by the demo."""
    with _work_dir() as work:
        world = World(
            gitlab_url,
            token,
            work,
            engine=engine,
            project=project,
            jenkins_access=jenkins_access,
            foreign_ok=foreign_ok,
            hook_host=hook_host,
        )
        try:
            world.ground.refuse_foreign_path(project)
            yield world
        finally:
            world.close()


@contextmanager
def _work_dir() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="gitops-demo-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
