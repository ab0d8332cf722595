"""The 28 use cases: ID, what changes (the user's words), and the scenario that shows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gitops_demo import changes, operations
from gitops_demo.world import World
from jenkins_helpers.errors import BadInput


@dataclass(frozen=True)
class UseCase:
    id: str
    title: str
    must_hold: str
    run: Callable[[World], list[str]]


def _case(id_: str, title: str, must_hold: str) -> UseCase:
    module = changes if id_[0] in "ABC" else operations
    return UseCase(id_, title, must_hold, getattr(module, id_.lower()))


USE_CASES = (
    _case(
        "A1",
        "dev env.cue: example-app replicas 1 -> 2",
        "dev Deployment has 2 replicas; stage and prod keep theirs; no promotion MR is opened",
    ),
    _case(
        "A2",
        "dev env.cue: debug on",
        "dev gets the DEBUG env var and the debug Service; stage/prod get neither",
    ),
    _case("A3", "dev env.cue: ConfigMap entry redis-url", "only dev's ConfigMap has it"),
    _case(
        "B1",
        "app layer: new env var FEATURE_FLAGS=new-checkout,dark-mode",
        "all three envs have it after the chain",
    ),
    _case("B2", "app layer: pod annotation prometheus.io/scrape-timeout: 30s", "all envs"),
    _case("B3", 'app layer: ConfigMap entry cache-ttl: "300"', "all envs"),
    _case(
        "B4", 'B3, then prod env.cue sets cache-ttl: "600" (MR to prod)', "dev/stage 300, prod 600"
    ),
    _case(
        "B5", "app readiness probe timeoutSeconds 10; prod env.cue sets 30", "dev/stage 10, prod 30"
    ),
    _case(
        "B6",
        "app env var LOG_LEVEL=INFO; dev env.cue additionalEnv LOG_LEVEL=DEBUG",
        "dev DEBUG (once, not duplicated), stage/prod INFO",
    ),
    _case("C1", "default label cost-center: platform-shared", "every app in every env"),
    _case(
        "C2",
        "pod security context runAsNonRoot true, runAsUser 1000",
        "every Deployment in every env",
    ),
    _case(
        "C3", "default rolling update maxUnavailable 1 -> 0", "every Deployment unless it overrides"
    ),
    _case(
        "C4", "default pod annotation prometheus.io/scrape-interval: 30s", "every app in every env"
    ),
    _case(
        "C5",
        "platform scrape on, postgres (app layer) scrape off",
        'example-app "true", postgres "false", all envs',
    ),
    _case(
        "C6",
        "C1, then prod env.cue sets cost-center production-critical",
        "dev/stage platform-shared, prod production-critical",
    ),
    _case(
        "D1",
        "hotfix: MR straight to prod (ConfigMap fix and image)",
        "prod has it; dev/stage untouched; prod's replicas/resources kept; nothing cascades",
    ),
    _case(
        "D2",
        "dev has new example-app AND new postgres; promote only example-app to stage",
        "stage: new example-app, old postgres; dev keeps both",
    ),
    _case(
        "D3",
        "a bad change merged to stage; roll stage back by a revert MR",
        "stage renders as before the change; audit trail in git; no promotion to prod",
    ),
    _case(
        "D4",
        "postgres 16 -> 17 in dev, then the chain",
        "all envs run postgres 17; example-app untouched",
    ),
    _case(
        "D5",
        "stage is broken; promote dev -> prod directly, skipping stage",
        "prod has it; stage unchanged; the skip is visible in the MR (label/trailer)",
    ),
    _case(
        "E1",
        "new app version built",
        "MR to dev with the new tag; after the chain every env runs it; the next "
        "release's build promotes its own version",
    ),
    _case(
        "E2",
        "code change plus a new appEnvVars entry in deployment/app.cue, same commit",
        "ONE MR to dev carries both; every env gets both together",
    ),
    _case(
        "E3",
        "three versions in quick succession, promotions merged slowly",
        "each env has its own tag; a pending MR is updated to the newest, never duplicated",
    ),
    _case(
        "E4",
        "prod runs a bad 1.0.42; roll back to 1.0.41",
        "only prod's example-app image tag changes; the rest unchanged",
    ),
    _case(
        "F1",
        "onboard a new 1st-party app user-service",
        "Jenkins job exists; its first gitopsPromote flows dev -> stage -> prod",
    ),
    _case(
        "F2",
        "onboard 3rd-party redis (no app repo, no CI)",
        "app file and env entries created through MRs; follows the same chain",
    ),
    _case(
        "F3",
        "decommission legacy-service",
        "removal MRs prod, stage, dev, then main; nothing of it left; Jenkins job removed",
    ),
    _case(
        "F4",
        "example-app v2.0 needs postgres 17; release both together",
        "one MR per environment carries both apps; no env renders one without the other",
    ),
)

BY_ID = {case.id: case for case in USE_CASES}


def select(ids: tuple[str, ...]) -> list[UseCase]:
    """The use cases named (any case), in catalogue order; all when none is named."""
    if not ids:
        return list(USE_CASES)
    wanted = {i.upper() for i in ids}
    unknown = sorted(wanted - BY_ID.keys())
    if unknown:
        raise BadInput(
            f"unknown use case {', '.join(unknown)}", f"use cases are A1 to F4: {' '.join(BY_ID)}"
        )
    return [case for case in USE_CASES if case.id in wanted]
