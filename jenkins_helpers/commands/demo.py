"""`gitops-helper demo`: the 28 use cases, each from the same starting state, in the sandbox.

The sandbox runs as a child process with the webhook wired in (here); every use case
is driven as a user and Jenkins would and checked on what the environment branches
deploy. See docs/USE_CASES.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import gitlab, inputs, jenkins
from jenkins_helpers.demo import catalog, runner, world
from jenkins_helpers.demo.catalog import UseCase
from jenkins_helpers.demo.runner import CaseResult
from jenkins_helpers.errors import BadInput

TOKEN_BYTES = 16


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
    echo: Callable[[str], None],
) -> int:
    """Run the selected use cases; 0 when every one passed, 1 otherwise."""
    cases = catalog.select(ids)
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise BadInput(f"--keep {keep} is not empty", "name a new or empty directory")
    if keep is not None and real is not None:
        raise BadInput("--keep is for the sandbox", "a real GitLab keeps its state anyway")
    live = sys.stdout.isatty() and not as_json
    token = os.urandom(TOKEN_BYTES).hex()
    with _world(real, token, engine, keep) as w:
        results = runner.run_cases(w, cases, _progress(echo, live, quiet=as_json))
        state = runner.final_state(w)
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


def _world(
    real: RealGitLab | None, token: str, engine: str | None, keep: Path | None
) -> AbstractContextManager[world.World]:
    """The sandbox (a fresh one, `token` its credential), or the user's GitLab."""
    if real is None:
        return world.started(token, engine, keep)
    access = gitlab.access_from_environment(real.url)
    return world.connected(
        access.url,
        access.token,
        inputs.project_path(real.project),
        engine=engine,
        jenkins_access=jenkins.access_if_configured(),
        foreign_ok=real.foreign_ok,
        hook_host=real.webhook_host,
    )


def _progress(
    echo: Callable[[str], None], live: bool, *, quiet: bool
) -> Callable[[UseCase, CaseResult | None], None]:
    """A line per use case: rewritten in place on a terminal, else one when it starts and ends."""

    def show(case: UseCase, result: CaseResult | None) -> None:
        if quiet:
            return
        if result is None:
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
