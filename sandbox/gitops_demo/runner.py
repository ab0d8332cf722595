"""Run use cases, each from the starting state, on one or more lanes, and report them.

A lane is a World of its own (its own sandbox, webhook and Jenkins): use cases share
no state across lanes, so lanes run side by side, each taking the next use case
when it is done with one.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gitops_demo import activity
from gitops_demo.activity import heartbeat as heartbeat  # demo.py's
from gitops_demo.catalog import UseCase
from gitops_demo.evidence import Objects, container, deployment
from gitops_demo.seeds import ENVS
from gitops_demo.world import Mismatch, World
from jenkins_helpers.errors import UserError

Outcome = Literal["PASS", "FAIL"]


@dataclass(frozen=True)
class CaseResult:
    id: str
    title: str
    outcome: Outcome
    evidence: list[str]  # the facts checked; on FAIL, ends with what differed
    seconds: float
    gates: list[str] = field(default_factory=list)  # how long each Argo CD gate waited


Progress = Callable[[UseCase, CaseResult | None], None]


def run_cases(
    worlds: Sequence[World], cases: Sequence[UseCase], progress: Progress
) -> tuple[list[CaseResult], World]:
    """Every case on the first free lane; the results in `cases`' order, and the lane
    that ran the last of them (its state is the final state)."""
    waiting: queue.SimpleQueue[UseCase] = queue.SimpleQueue()
    for case in cases if len(worlds) == 1 else sorted(cases, key=_start_order):
        waiting.put(case)
    results: dict[str, tuple[CaseResult, World]] = {}

    def lane(world: World) -> None:
        while True:
            try:
                case = waiting.get_nowait()
            except queue.Empty:
                return
            activity.label(case.id)  # the heartbeat's lines name the use case
            with activity.OUTPUT:
                progress(case, None)
            result = run_case(world, case)
            activity.doing("")
            with activity.OUTPUT:
                results[case.id] = (result, world)
                progress(case, result)

    threads = [threading.Thread(target=lane, args=(w,)) for w in worlds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[case.id][0] for case in cases], results[cases[-1].id][1]


def _start_order(case: UseCase) -> bool:
    """Operations (D to F: Jenkins builds, longer chains) first, so lanes end together."""
    return case.id[0] < "D"


def run_case(world: World, case: UseCase) -> CaseResult:
    """Reset, run the scenario, and turn what went wrong into evidence."""
    started = time.monotonic()
    try:
        world.reset()
        evidence, outcome = case.run(world), "PASS"
    except Mismatch as e:
        evidence, outcome = [f"differs: {e}"], "FAIL"
    except UserError as e:
        evidence, outcome = [f"error: {e.message}"], "FAIL"
    except Exception as e:
        where = traceback.extract_tb(e.__traceback__)[-1]
        evidence = [f"unexpected {type(e).__name__}: {e} ({where.filename}:{where.lineno})"]
        outcome = "FAIL"
    seconds = round(time.monotonic() - started, 1)
    gates = _gates(world)
    return CaseResult(case.id, case.title, outcome, evidence, seconds, gates)  # type: ignore[arg-type]


def _gates(world: World) -> list[str]:
    """The case's waits for Argo CD; a line saying why when they cannot be read."""
    try:
        return world.gate_waits()
    except Exception as e:  # the report is the use case's; its gates are a footnote
        return [f"Argo CD gates not read: {type(e).__name__}"]


def final_state(world: World) -> list[dict[str, Any]]:
    """Every app in every environment as the last use case left them."""
    rows = []
    for env, objects in world.everywhere().items():
        for app in sorted({key[0] for key in objects}):
            rows.append({"env": env, "app": app, **_workload(objects, app)})
    order = {env: i for i, env in enumerate(ENVS)}
    return sorted(rows, key=lambda r: (r["app"], order.get(r["env"], 99)))


def _workload(objects: Objects, app: str) -> dict[str, Any]:
    try:
        spec = deployment(objects, app)["spec"]
        main = container(objects, app)
    except Mismatch:
        return {"image": None, "replicas": None, "requests": {}, "limits": {}}
    resources = main.get("resources", {})
    return {
        "image": main["image"],
        "replicas": spec.get("replicas"),
        "requests": resources.get("requests", {}),
        "limits": resources.get("limits", {}),
    }


def as_data(results: list[CaseResult], state: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "passed": sum(r.outcome == "PASS" for r in results),
        "failed": sum(r.outcome == "FAIL" for r in results),
        "use_cases": [asdict(r) for r in results],
        "final_state": state,
    }


def table(results: list[CaseResult]) -> list[str]:
    """ID, title, PASS/FAIL, seconds, then the evidence indented under each."""
    lines = []
    for r in results:
        lines.append(f"{r.id:<3} {r.outcome}  {r.seconds:>6.1f} s  {r.title}")
        lines += [f"            {line}" for line in [*r.evidence, *r.gates]]
    return lines


def state_table(state: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'app':<16} {'env':<6} {'image tag':<16} {'replicas':>8}  requests / limits"]
    for row in state:
        tag = str(row["image"]).rsplit(":", 1)[-1] if row["image"] else "-"
        req = ", ".join(f"{k} {v}" for k, v in sorted(row["requests"].items())) or "-"
        lim = ", ".join(f"{k} {v}" for k, v in sorted(row["limits"].items())) or "-"
        lines.append(
            f"{row['app']:<16} {row['env']:<6} {tag:<16} {row['replicas']!s:>8}  "
            f"requests: {req} / limits: {lim}"
        )
    return lines
