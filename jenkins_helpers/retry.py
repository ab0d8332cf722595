"""The retry policy of our GitLab and Jenkins clients: one API call, its retries, its budget.

A call that fails on something that may pass a moment later is tried again after
each of RETRY_DELAYS, all within the call's budget (GITOPS_HTTP_BUDGET): no pause is
taken that would leave less than a tenth of the shorter of the two limits (the
request's GITOPS_HTTP_DEADLINE, the call's budget), and no request runs past the
budget (`http.DeadlineAdapter.within`). Each retry is logged; a call that ran out of
budget says so in its error. docs/SECURITY.md, "Deadlines", is the user's account.

Each client keeps what is its own: which failures are worth another attempt and how
its errors read (`gitlab.GitLab._call`, `jenkins.Jenkins._call`). python-gitlab's own
`retry_transient_errors` is not used: it retries each HTTP request (not a call) after
pauses of its own (0.1 s doubling, or as long as Retry-After says, up to ten times)
with no total limit, so it cannot keep a call within its budget.

Not this policy: the webhook's retries of a whole job (GITOPS_RETRY_DELAYS,
webhook/settings.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from jenkins_helpers import http
from jenkins_helpers.errors import UserError

T = TypeVar("T")
# Pauses before each retry of a transient failure: about 7 s in all, long enough to
# ride out a GitLab or Jenkins restart behind a load balancer, short enough for a CI
# step. The one setting of both clients (tests patch it here).
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


class Clock(Protocol):
    """What the policy reads the time from and pauses with (the `time` module)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


@dataclass(frozen=True)
class Transient:
    """A failure worth another attempt.

    `problem`: what went wrong, for the progress line ("GitLab answered HTTP 502");
    `error`: the error to raise when no attempt is left.
    """

    problem: str
    error: UserError


def least_attempt(deadlines: http.Deadlines) -> float:
    """The least time worth another attempt: a tenth of the shorter of the two limits.
    A pause that would leave less of the call's budget is not taken."""
    return min(deadlines.request, deadlines.call) / 10


def call(
    what: str,
    func: Callable[[], T],
    *,
    failures: tuple[type[Exception], ...],
    transient: Callable[[Exception], Transient],
    deadlines: http.Deadlines,
    deadline_hint: str,
    log: logging.Logger,
    retries: bool = True,
    adapter: http.DeadlineAdapter | None = None,
    clock: Clock = time,
) -> T:
    """Run `func`, one API call (`what`: "reading project P"), within its budget.

    An exception of `failures` is given to `transient`, which raises the error for a
    failure not worth another attempt, else says what went wrong. The call is then
    retried after each of RETRY_DELAYS (none if not `retries`) while the pause fits in
    the budget; then the last `Transient.error` is raised, from the last failure, and
    if the budget ended the retries its message says after how long and how many
    attempts, and its hint is `deadline_hint`. `adapter`: the transport whose requests
    are kept within the budget.
    """
    delays: Sequence[float] = RETRY_DELAYS if retries else ()
    budget = http.Budget(deadlines.call, clock.monotonic)
    with adapter.within(budget) if adapter is not None else contextlib.nullcontext():
        for attempt in range(len(delays) + 1):
            try:
                return func()
            except failures as e:
                failure = transient(e)
                if attempt == len(delays):
                    raise failure.error from e
                delay = delays[attempt]
                if budget.left() - delay < least_attempt(deadlines):
                    raise out_of_time(failure.error, budget, attempt + 1, deadline_hint) from e
                log.warning(
                    "%s while %s; retrying in %g s (%d/%d)",
                    failure.problem,
                    what,
                    delay,
                    attempt + 1,
                    len(delays),
                )
                clock.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def out_of_time(error: UserError, budget: http.Budget, attempts: int, hint: str) -> UserError:
    """`error`, of a call whose budget ran out before its retries did."""
    return type(error)(
        f"{error.message}; gave up after {http.seconds(budget.elapsed())} s and "
        f"{attempts} attempt{'s' if attempts > 1 else ''} (GITOPS_HTTP_BUDGET: "
        f"{http.seconds(budget.seconds)} s per call)",
        hint,
    )
