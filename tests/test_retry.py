"""The retry policy of the GitLab and Jenkins clients, on a fake clock: no server, no sleep."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from jenkins_helpers import http, retry
from jenkins_helpers.errors import TransientError, UserError


class Flaky(Exception):
    """A failure the fake client calls transient."""


class Broken(Exception):
    """A failure the fake client does not retry."""


@dataclass
class FakeClock:
    """Time that passes only when an attempt or a pause says so."""

    now: float = 100.0
    pauses: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float, /) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@dataclass
class FakeCall:
    """An API call whose attempts take `took` seconds each (the last value repeats) and
    fail, except from attempt `succeeds` on (1-based), if given."""

    clock: FakeClock
    took: Sequence[float] = (0.0,)
    succeeds: int | None = None
    error: type[Exception] = Flaky
    attempts: int = 0

    def __call__(self) -> str:
        self.attempts += 1
        self.clock.now += self.took[min(self.attempts, len(self.took)) - 1]
        if self.succeeds is not None and self.attempts >= self.succeeds:
            return "answer"
        raise self.error(f"attempt {self.attempts}")


def transient(e: Exception) -> retry.Transient:
    if isinstance(e, Broken):
        raise UserError(f"broken: {e}") from e
    return retry.Transient("Forge at http://forge not reachable (timed out)", _error(e))


def _error(e: Exception) -> TransientError:
    return TransientError(f"cannot reach Forge ({e}) while reading project P", "check the network")


def run(
    call: FakeCall, request: float, budget: float, *, retries: bool = True
) -> tuple[str | UserError, int, list[float]]:
    """What the policy made of `call`: its answer or error, its attempts, its pauses."""
    try:
        answer: str | UserError = retry.call(
            "reading project P",
            call,
            failures=(Flaky, Broken),
            transient=transient,
            deadlines=http.Deadlines(request, budget),
            deadline_hint="the deadline hint",
            log=logging.getLogger("tests.retry"),
            retries=retries,
            clock=call.clock,
        )
    except UserError as e:
        answer = e
    return answer, call.attempts, call.clock.pauses


CASES = [
    # (request, budget, each attempt takes, attempts, pauses taken, gave up after)
    pytest.param(30, 60, [0], 5, [0.5, 1, 2, 4], None, id="defaults-instant-failures-all-retries"),
    pytest.param(30, 60, [5], 5, [0.5, 1, 2, 4], None, id="defaults-slow-failures-fit"),
    # 30 + 0.5 + 29.5 (the request is cut at the budget's end): no time left.
    pytest.param(30, 60, [30, 29.5], 2, [0.5], "60", id="defaults-no-answer-within-30-s"),
    # The drip of docs/SECURITY.md with a 1 s deadline and a 2 s budget: 1 + 0.5 + 0.5.
    pytest.param(1, 2, [1, 0.5], 2, [0.5], "2", id="deadline-1-budget-2"),
    # Each pause leaves at least a tenth of the shorter limit (0.3 s): 0.5 left after
    # three attempts, too little for the 4 s pause.
    pytest.param(3, 4, [0], 4, [0.5, 1, 2], "3.5", id="budget-ends-before-the-delays"),
    # A pause leaving exactly a tenth of the shorter limit (5 s: 0.5 s) is taken:
    # 8 - 0.5 - 1 - 2 - 4 = 0.5.
    pytest.param(5, 8, [0], 5, [0.5, 1, 2, 4], None, id="a-tenth-left-exactly-is-enough"),
    # Less than a tenth (0.52 s of 5.2 s): the 4 s pause is not taken.
    pytest.param(5.2, 8, [0], 4, [0.5, 1, 2], "3.5", id="less-than-a-tenth-left-is-not"),
    # The shorter limit is the budget (3 s, a tenth: 0.3 s): with a tenth of the
    # longer (3 s) no pause would be taken at all.
    pytest.param(30, 3, [0], 3, [0.5, 1], "1.5", id="the-shorter-limit-is-the-budget"),
    # The shorter limit is the request (1 s, a tenth: 0.1 s): with a tenth of the
    # longer (0.8 s) the last pause, leaving 0.5 s, would not be taken.
    pytest.param(1, 8, [0], 5, [0.5, 1, 2, 4], None, id="the-shorter-limit-is-the-request"),
    # The first attempt ate the budget: no retry, and the error says so.
    pytest.param(30, 10, [10], 1, [], "10", id="first-attempt-used-the-budget"),
]


@pytest.mark.parametrize(("request_s", "budget", "took", "attempts", "pauses", "gave_up"), CASES)
def test_attempts_and_pauses_within_the_budget(
    request_s: float,
    budget: float,
    took: list[float],
    attempts: int,
    pauses: list[float],
    gave_up: str | None,
) -> None:
    answer, made, paused = run(FakeCall(FakeClock(), took), request_s, budget)
    assert (made, paused) == (attempts, pauses)
    assert isinstance(answer, TransientError)
    message = f"cannot reach Forge (attempt {attempts}) while reading project P"
    if gave_up is None:
        assert (answer.message, answer.hint) == (message, "check the network")
    else:
        suffix = (
            f"; gave up after {gave_up} s and {attempts} attempt{'s' if attempts > 1 else ''} "
            f"(GITOPS_HTTP_BUDGET: {budget:g} s per call)"
        )
        assert (answer.message, answer.hint) == (message + suffix, "the deadline hint")


def test_a_call_that_succeeds_on_a_retry_returns_its_answer() -> None:
    clock = FakeClock()
    assert run(FakeCall(clock, succeeds=3), 30, 60) == ("answer", 3, [0.5, 1])


def test_a_failure_not_worth_another_attempt_is_raised_at_once() -> None:
    answer, attempts, pauses = run(FakeCall(FakeClock(), error=Broken), 30, 60)
    assert isinstance(answer, UserError) and answer.message == "broken: attempt 1"
    assert (attempts, pauses) == (1, [])


def test_without_retries_one_attempt_and_no_budget_in_the_message() -> None:
    answer, attempts, pauses = run(FakeCall(FakeClock(), [60]), 30, 60, retries=False)
    assert isinstance(answer, TransientError)
    assert answer.message == "cannot reach Forge (attempt 1) while reading project P"
    assert (attempts, pauses) == (1, [])


def test_the_error_is_raised_from_the_last_failure() -> None:
    call = FakeCall(FakeClock())
    with pytest.raises(TransientError) as err:
        retry.call(
            "reading project P",
            call,
            failures=(Flaky,),
            transient=transient,
            deadlines=http.Deadlines(30, 60),
            deadline_hint="the deadline hint",
            log=logging.getLogger("tests.retry"),
            clock=call.clock,
        )
    assert isinstance(err.value.__cause__, Flaky)
    assert str(err.value.__cause__) == "attempt 5"


def test_other_exceptions_are_not_the_policys() -> None:
    call = FakeCall(FakeClock(), error=KeyError)
    with pytest.raises(KeyError):
        run(call, 30, 60)
    assert call.attempts == 1


def test_each_retry_is_logged_as_progress(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tests.retry")
    run(FakeCall(FakeClock()), 30, 60)
    assert [r.getMessage() for r in caplog.records if r.name == "tests.retry"] == [
        "Forge at http://forge not reachable (timed out) while reading project P; "
        f"retrying in {delay} s ({n}/4)"
        for n, delay in enumerate(("0.5", "1", "2", "4"), start=1)
    ]


def test_the_delays_are_one_setting_read_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    assert retry.RETRY_DELAYS == (0.5, 1.0, 2.0, 4.0)
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.01,))
    assert run(FakeCall(FakeClock()), 30, 60)[1:] == (2, [0.01])
