"""Reading a job's Jenkinsfile from git before the build starts (Jenkins' lightweight checkout).

For "Pipeline script from SCM" Jenkins asks the repository for the branch's head
commit and reads `scriptPath` there, before any agent runs; the build then checks
out that same commit (`checkout scm`). The sandbox does the same over git's HTTP
protocol, against its own GitLab as against any other server, with the job's
credential sent as the HTTP password (GitLab takes a token as password with any
user name). A small bare cache per job keeps repeated fetches cheap.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from gitops_sandbox.gitrepo import clean_env
from gitops_sandbox.jenkins_jobs import Pipeline


class CheckoutError(Exception):
    """The Jenkinsfile could not be read; the message is for the build's console."""


def auth_env(secret: str | None) -> dict[str, str]:
    """git configuration through the environment: an HTTP Basic header, never on a command line."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if secret:
        basic = base64.b64encode(f"oauth2:{secret}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return env


def _git(cache: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={cache}", *args],
        capture_output=True,
        env=clean_env(env),
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise CheckoutError(
            f'Command "git {" ".join(args)}" returned status code {done.returncode}:\n'
            f"stderr: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode(errors="replace")


def read_pipeline(cache: Path, pipeline: Pipeline, secret: str | None) -> tuple[str, str]:
    """(commit, script): the branch head and its `scriptPath`, fetched over HTTP."""
    env = auth_env(secret)
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", str(cache)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
    ref = f"refs/remotes/origin/{pipeline.branch}"
    _git(
        cache,
        env,
        "fetch",
        "--quiet",
        "--force",
        "--",
        str(pipeline.url),
        f"+refs/heads/{pipeline.branch}:{ref}",
    )
    commit = _git(cache, env, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    try:
        script = _git(cache, env, "show", f"{commit}:{pipeline.script_path}")
    except CheckoutError as e:
        raise CheckoutError(f"Unable to find {pipeline.script_path} from git {pipeline.url}") from e
    return commit, script
