"""Reading a job's Jenkinsfile from git before the build starts (Jenkins' lightweight checkout).

For "Pipeline script from SCM" Jenkins asks the repository for the branch's head
commit and reads `scriptPath` there, before any agent runs; the build then checks
out that same commit (`checkout scm`). The sandbox does the same over git's HTTP
protocol, against its own GitLab as against any other server. The job's credential
must be a *Username with password* one, sent as HTTP basic auth (GitLab takes a
token as the password): the Git plugin's GitSCMFileSystem looks the id up as a
StandardUsernameCredentials, so any other kind (Secret text) is not found and git
fetches without credentials, which a private repository refuses; the build then
fails with the GitException wrapped in an IOException (CpsScmFlowDefinition.create,
workflow-cps). A small bare cache per job keeps repeated fetches cheap.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from gitops_sandbox.gitrepo import clean_env
from gitops_sandbox.jenkins_jobs import Pipeline


class CheckoutError(Exception):
    """The Jenkinsfile could not be read; the message is for the build's console."""


def auth_env(login: tuple[str, str] | None) -> dict[str, str]:
    """git configuration through the environment: an HTTP Basic header, never on a command line."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if login:
        basic = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
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
        # As the Git plugin's CliGitAPIImpl words a failed command (a GitException).
        raise CheckoutError(
            f'hudson.plugins.git.GitException: Command "git {" ".join(args)}" returned status '
            f"code {done.returncode}:\nstdout: {done.stdout.decode(errors='replace').strip()}\n"
            f"stderr: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode(errors="replace")


def read_pipeline(
    cache: Path, pipeline: Pipeline, login: tuple[str, str] | None
) -> tuple[str, str]:
    """(commit, script): the branch head and its `scriptPath`, fetched over HTTP as `login`."""
    env = auth_env(login)
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", str(cache)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
    ref = f"refs/remotes/origin/{pipeline.branch}"
    try:
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
    except CheckoutError as e:
        # GitSCMFileSystem.BuilderImpl.build: `throw new IOException(gitException)`.
        raise CheckoutError(f"java.io.IOException: {e}") from e
    commit = _git(cache, env, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    try:
        script = _git(cache, env, "show", f"{commit}:{pipeline.script_path}")
    except CheckoutError as e:
        raise CheckoutError(f"Unable to find {pipeline.script_path} from git {pipeline.url}") from e
    return commit, script
