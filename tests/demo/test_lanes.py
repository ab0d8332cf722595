"""The demo's lanes: every use case runs once, on the first free lane, each from a reset.

Lanes are stand-in worlds here (a reset counter and a name): what is decided is
which lane runs what, not what a use case does (test_use_cases.py runs those).
"""

from __future__ import annotations

import threading
import time
from typing import cast

from gitops_demo import runner
from gitops_demo.catalog import UseCase
from gitops_demo.world import Mismatch, World


class Lane:
    def __init__(self, name: str) -> None:
        self.name = name
        self.resets = 0
        self.busy = threading.Lock()

    def reset(self) -> None:
        self.resets += 1


def case(id_: str, seconds: float = 0.01, fails: bool = False) -> UseCase:
    def run(world: World) -> list[str]:
        lane = cast(Lane, world)
        assert lane.busy.acquire(blocking=False), "two use cases at once on one lane"
        try:
            time.sleep(seconds)
            if fails:
                raise Mismatch("replicas: got 1, want 2")
            return [f"ran on {lane.name}"]
        finally:
            lane.busy.release()

    return UseCase(id_, f"case {id_}", "-", run)


def test_two_lanes_run_every_case_once_and_report_in_catalogue_order() -> None:
    lanes = [Lane("one"), Lane("two")]
    cases = [case(f"{group}{n}") for group in "ABCDEF" for n in (1, 2)]
    started: list[str] = []

    results, _ = runner.run_cases(
        cast(list[World], lanes), cases, lambda c, r: started.append(c.id) if r is None else None
    )

    assert [r.id for r in results] == [c.id for c in cases]
    assert all(r.outcome == "PASS" for r in results)
    assert sorted(started) == sorted(c.id for c in cases)
    assert sum(lane.resets for lane in lanes) == len(cases), "one reset per use case"
    assert all(lane.resets for lane in lanes), "both lanes took work"


def test_operations_start_first_so_lanes_end_together() -> None:
    started: list[str] = []
    cases = [case("A1"), case("B1"), case("E1"), case("F1")]
    runner.run_cases(
        cast(list[World], [Lane("one"), Lane("two")]),
        cases,
        lambda c, r: started.append(c.id) if r is None else None,
    )
    assert started[:2] == ["E1", "F1"]


def test_one_lane_keeps_catalogue_order() -> None:
    started: list[str] = []
    cases = [case("A1"), case("E1"), case("F1")]
    runner.run_cases(
        cast(list[World], [Lane("one")]),
        cases,
        lambda c, r: started.append(c.id) if r is None else None,
    )
    assert started == ["A1", "E1", "F1"]


def test_lanes_run_side_by_side() -> None:
    """Two use cases that can only finish together (a barrier) pass on two lanes."""
    both = threading.Barrier(2, timeout=30)

    def meet(world: World) -> list[str]:
        both.wait()
        return ["met"]

    cases = [UseCase("E1", "one", "-", meet), UseCase("F1", "two", "-", meet)]
    results, _ = runner.run_cases(
        cast(list[World], [Lane("1"), Lane("2")]), cases, lambda c, r: None
    )
    assert [r.outcome for r in results] == ["PASS", "PASS"]


def test_the_final_state_is_the_lane_that_ran_the_last_case() -> None:
    lanes = [Lane("one"), Lane("two")]
    results, last = runner.run_cases(
        cast(list[World], lanes), [case("E1"), case("F4", 0.3), case("A1")], lambda c, r: None
    )
    ran_last = results[-1].evidence[0].removeprefix("ran on ")
    assert cast(Lane, last).name == ran_last


def test_a_failing_case_fails_alone() -> None:
    results, _ = runner.run_cases(
        cast(list[World], [Lane("one"), Lane("two")]),
        [case("A1"), case("B1", fails=True), case("C1")],
        lambda c, r: None,
    )
    assert [(r.id, r.outcome) for r in results] == [("A1", "PASS"), ("B1", "FAIL"), ("C1", "PASS")]
    assert results[1].evidence == ["differs: replicas: got 1, want 2"]
