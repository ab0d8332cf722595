"""`gitops-helper demo`: the 28 use cases, each from the same starting state, in the sandbox.

The sandbox runs as a child process with the webhook wired in (here); every use case
is driven as a user and Jenkins would and checked on what the environment branches
deploy. See docs/USE_CASES.md.

The use cases are the demo's package, `gitops_demo`, shipped with the sandbox
(sandbox/pyproject.toml): imported in `run`, once `require_sandbox` found it installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_helper.commands.sandbox import require_sandbox
from jenkins_helpers import cue, gitlab, inputs, jenkins
from jenkins_helpers.errors import BadInput

if TYPE_CHECKING:
    from gitops_demo.catalog import UseCase
    from gitops_demo.runner import CaseResult, Progress
    from gitops_demo.world import World

TOKEN_BYTES = 16
# Lanes by default: one per core, up to two. Two already keep our 2-core machines
# busy; a lane waits on merges and webhook hops about a third of its time.
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class RealGitLab:
    """Where to run instead of the sandbox: a project of a real GitLab's test group."""

    url: str
    project: str
    foreign_ok: bool  # --i-know-what-i-am-doing
    webhook_host: str  # the address GitLab reaches this machine at


def run(
    ids: tuple[str, ...],
    *,
    as_json: bool,
    keep: Path | None,
    engine: str | None,
    real: RealGitLab | None,
    jobs: int = DEFAULT_JOBS,
    argocd_gate: bool = True,
    echo: Callable[[str], None],
) -> int:
    """Run the selected use cases; 0 when every one passed, 1 otherwise.

    `jobs` lanes run side by side, each a sandbox of its own; `--keep` and a real
    GitLab (one project, one state) run on one.
    """
    require_sandbox("demo")
    from gitops_demo import catalog, runner

    cases = catalog.select(ids)
    if keep is not None and real is not None:
        raise BadInput("--keep is for the sandbox", "a real GitLab keeps its state anyway")
    if jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {jobs}")
    if real is not None:
        _check_real(real)
    if keep is not None:  # last: it makes the directory
        keep = inputs.directory_to_use(keep, "--keep", empty=True)
    if engine:
        os.environ["GITOPS_CUE_ENGINE"] = engine  # the webhook runs in this process
    lanes = 1 if keep is not None or real is not None else min(jobs, len(cases))
    if not as_json:
        echo(f"CUE engine: {cue.get_engine().description}; {lanes} lane(s)")
    live = sys.stdout.isatty() and not as_json and lanes == 1
    token = os.urandom(TOKEN_BYTES).hex()
    beats = None if as_json else echo  # what a lane starting or a use case waits for
    with (
        runner.heartbeat(beats, live=live),
        _worlds(real, token, engine, keep, lanes, argocd_gate) as worlds,
    ):
        progress = _progress(echo, live, quiet=as_json, starts=True)
        results, last = runner.run_cases(worlds, cases, progress)
        state = runner.final_state(last)
    data = runner.as_data(results, state)
    if as_json:
        echo(json.dumps(data, indent=2))
    else:
        echo("")
        for line in runner.table(results):
            echo(line)
        echo("")
        for line in runner.state_table(state):
            echo(line)
        echo(f"\n{data['passed']} passed, {data['failed']} failed")
        if keep is not None and real is None:
            echo(f"\nThe sandbox's state is in {keep}; browse it (MRs, status board) with:")
            echo(f"  SANDBOX_TOKEN={token} gitops-helper sandbox up --dir {keep} --token {token}")
    return 0 if data["failed"] == 0 else 1


def _check_real(real: RealGitLab) -> None:
    """The real GitLab's settings, before anything starts (the token: when connecting)."""
    inputs.server_url(real.url, "--gitlab-url")
    inputs.project_path(real.project)
    inputs.host_name(real.webhook_host, "--webhook-host")


@contextlib.contextmanager
def _worlds(
    real: RealGitLab | None,
    token: str,
    engine: str | None,
    keep: Path | None,
    lanes: int,
    argocd_gate: bool,
) -> Iterator[list[World]]:
    """`lanes` fresh sandboxes (`token` their credential; gated on their Argo CD unless
    told not to), started side by side, or the user's GitLab."""
    from gitops_demo import world

    if real is not None:
        access = gitlab.access_from_environment(real.url)
        with gitlab.GitLab(access) as gl:
            gl.user_id()  # unreachable, or the token refused: said as every command says it
        with world.connected(
            access.url,
            access.token,
            inputs.project_path(real.project),
            engine=engine,
            jenkins_access=jenkins.access_if_configured(),
            foreign_ok=real.foreign_ok,
            hook_host=real.webhook_host,
        ) as w:
            yield [w]
        return
    starting = [world.started(token, engine, keep, argocd_gate) for _ in range(lanes)]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(lanes) as pool:
        futures = [pool.submit(cm.__enter__) for cm in starting]
        worlds, failed = [], []
        for cm, future in zip(starting, futures, strict=True):
            try:
                worlds.append(future.result())
                stack.push(cm.__exit__)  # stopped in reverse order, also after a failure
            except Exception as e:
                failed.append(e)
        if failed:
            raise failed[0]
        yield worlds


def _progress(echo: Callable[[str], None], live: bool, *, quiet: bool, starts: bool) -> Progress:
    """A line per use case: rewritten in place on a terminal, else one when it starts
    (with `starts`: one lane) and one when it ends."""

    def show(case: UseCase, result: CaseResult | None) -> None:
        if quiet:
            return
        if result is None:
            if not starts:
                return
            text = f"{case.id:<3} ....  {case.title}"
            if live:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                echo(text)
            return
        text = f"{case.id:<3} {result.outcome}  {result.seconds:>6.1f} s  {case.title}"
        if live:
            sys.stdout.write("\r\033[K")
        echo(text)

    return show
