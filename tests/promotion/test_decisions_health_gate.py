"""The Argo CD gate's decisions (operations/health_gate.py): when the next environment's
MR may open, given what Argo CD reports for each promoted app.

`decide` is read against an in-memory Argo CD (tests/helpers/fakeargocd.py) and real
git ancestry (FakeForge's bare repository); `gated` runs inside the real cascade on
FakeForge, so what is not gated (a hotfix, main, an environment turned off, no
`argocd:`) is shown by the promotion running without Argo CD being read at all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import ArgoCDSettings, parse_settings
from jenkins_helpers.errors import BadInput
from jenkins_helpers.operations.between_envs import EnvPromotion, Selection
from jenkins_helpers.operations.cascade import Merged, cascade
from jenkins_helpers.operations.health_gate import GateClosed, Verdict, decide, gated
from jenkins_helpers.promotion.target import DeploymentProject
from tests.helpers.fakeargocd import FakeArgoCD
from tests.helpers.fakeforge import PERSON, PROJECT, FakeForge, deployment_project, env_cue, propose

START = {"a": "1.0.0", "b": "1.0.0"}
TIMEOUT = 900.0


@pytest.fixture
def deployment(tmp_path: Path) -> DeploymentProject:
    found = deployment_project(FakeForge(tmp_path), {e: START for e in ("dev", "stage", "prod")})
    argocd = ArgoCDSettings("http://argocd.example.com", timeout=TIMEOUT)
    return dataclasses.replace(found, settings=dataclasses.replace(found.settings, argocd=argocd))


def forge(deployment: DeploymentProject) -> FakeForge:
    assert isinstance(deployment.gl, FakeForge)
    return deployment.gl


def merge(
    deployment: DeploymentProject, env: str, tags: dict[str, str], title: str = "Bump"
) -> Merged:
    """An MR into `env` setting `tags`, merged (by a person: what it changed travels)."""
    mr = propose(
        forge(deployment), env, {layout.ENV_FILE: env_cue(tags, env)}, title, author=PERSON
    )
    done = forge(deployment).merge(PROJECT, mr.iid)
    return Merged(done.iid, done.title, done.description, done.labels, env, done.merged_commit)


def ancestry(deployment: DeploymentProject) -> object:
    return lambda a, d: forge(deployment).is_ancestor(PROJECT, a, d)


# --- decide: one table of Argo CD states --------------------------------------------------

# Each case: the revision the Application reports ("merge", "after" a later commit,
# "before" the merge), its sync status, its health, seconds waited -> outcome.
CASES = [
    ("merge", "Synced", "Healthy", 0, "proceed"),
    ("after", "Synced", "Healthy", 0, "proceed"),
    ("before", "Synced", "Healthy", 0, "waiting"),
    ("merge", "OutOfSync", "Healthy", 0, "waiting"),
    ("merge", "Synced", "Progressing", 0, "waiting"),
    ("merge", "Synced", "Missing", 0, "waiting"),
    ("merge", "Synced", "Degraded", 0, "degraded"),
    ("merge", "OutOfSync", "Degraded", 0, "degraded"),
    ("before", "Synced", "Degraded", 0, "waiting"),  # the old version's state: not ours
    ("merge", "Synced", "Progressing", TIMEOUT, "timeout"),
    ("before", "Synced", "Healthy", TIMEOUT + 1, "timeout"),
]


@pytest.mark.parametrize(("at", "sync", "health", "waited", "outcome"), CASES)
def test_the_gate_opens_only_on_synced_and_healthy_at_the_merge_or_later(
    deployment: DeploymentProject, at: str, sync: str, health: str, waited: float, outcome: str
) -> None:
    before = forge(deployment).head(PROJECT, "dev")
    merged = merge(deployment, "dev", {**START, "a": "1.1.0"})
    assert merged.merge_commit is not None and before is not None
    revision = {"merge": merged.merge_commit, "before": before}.get(at)
    if at == "after":
        merge(deployment, "dev", {**START, "a": "1.1.0", "b": "1.0.1"})
        revision = forge(deployment).head(PROJECT, "dev")
    argocd = FakeArgoCD()
    argocd.set("dev", "a", sync=sync, health=health, revision=revision, message="crash loop")
    verdict = decide(
        argocd,
        "dev",
        ["a"],
        merged.merge_commit,
        ancestry(deployment),  # type: ignore[arg-type]
        waited=waited,
        timeout=TIMEOUT,
    )
    assert verdict.outcome == outcome, verdict.reason
    assert "dev-a" in verdict.reason
    if outcome == "degraded":
        assert "crash loop" in verdict.reason
    if outcome == "timeout":
        assert "within 15 min" in verdict.reason


def test_no_application_yet_waits(deployment: DeploymentProject) -> None:
    merged = merge(deployment, "dev", {**START, "a": "1.1.0"})
    assert merged.merge_commit
    verdict = decide(
        FakeArgoCD(), "dev", ["a"], merged.merge_commit, lambda a, d: a == d, waited=1, timeout=9
    )
    assert verdict.outcome == "waiting" and "dev-a no Application" in verdict.reason


def test_a_release_group_waits_for_every_member(deployment: DeploymentProject) -> None:
    merged = merge(deployment, "dev", {"a": "1.1.0", "b": "1.1.0"})
    sha = merged.merge_commit
    assert sha
    argocd = FakeArgoCD()
    argocd.set("dev", "a", revision=sha)
    argocd.set("dev", "b", revision=sha, health="Progressing")
    check = ancestry(deployment)
    waiting = decide(argocd, "dev", ["a", "b"], sha, check, waited=0, timeout=9)  # type: ignore[arg-type]
    assert waiting.outcome == "waiting" and "dev-b" in waiting.reason
    assert "dev-a" not in waiting.reason  # only who holds it up
    argocd.update("dev", "b", health="Healthy")
    ready = decide(argocd, "dev", ["a", "b"], sha, check, waited=0, timeout=9)  # type: ignore[arg-type]
    assert ready.outcome == "proceed" and [c.ready for c in ready.checks] == [True, True]


# --- gated: within the cascade ------------------------------------------------------------


def cascade_through_gate(
    deployment: DeploymentProject, merged: Merged, argocd: FakeArgoCD
) -> tuple[list[tuple[str, str]], Verdict | None]:
    """The cascade of `merged` with a gated, recording promote: (promotions run, the
    verdict that stopped it)."""
    calls: list[tuple[str, str]] = []

    def promote(_: DeploymentProject, source: str, target: str, sel: Selection) -> EnvPromotion:
        calls.append((source, target))
        return EnvPromotion(PROJECT, source, target, "0" * 40, dry_run=False)

    try:
        cascade(deployment, merged, gated(promote, lambda settings: argocd))
    except GateClosed as closed:
        return calls, closed.verdict
    return calls, None


def test_the_cascade_promotes_once_the_app_runs_healthy(deployment: DeploymentProject) -> None:
    merged = merge(deployment, "dev", {**START, "a": "1.1.0"})
    argocd = FakeArgoCD()
    argocd.set("dev", "a", health="Progressing", revision=merged.merge_commit)
    calls, verdict = cascade_through_gate(deployment, merged, argocd)
    assert calls == [] and verdict is not None and verdict.outcome == "waiting"
    argocd.update("dev", "a", health="Healthy")
    assert cascade_through_gate(deployment, merged, argocd) == ([("dev", "stage")], None)


@pytest.mark.parametrize(
    ("case", "env"),
    [("hotfix", "dev"), ("env off", "dev"), ("no argocd", "dev"), ("from main", "main")],
)
def test_what_is_not_gated_never_reads_argocd(
    deployment: DeploymentProject, case: str, env: str
) -> None:
    settings = deployment.settings
    assert settings.argocd is not None
    if case == "env off":
        off = dataclasses.replace(settings.argocd, off=frozenset({"dev"}))
        deployment = dataclasses.replace(
            deployment, settings=dataclasses.replace(settings, argocd=off)
        )
    if case == "no argocd":
        deployment = dataclasses.replace(
            deployment, settings=dataclasses.replace(settings, argocd=None)
        )
    title = "[no-promote] Hotfix" if case == "hotfix" else "Bump"
    if env == "main":
        mr = propose(
            forge(deployment),
            "main",
            {layout.app_file("a"): "package deployments\n"},
            "L",
            author=PERSON,
        )
        done = forge(deployment).merge(PROJECT, mr.iid)
        merged = Merged(
            done.iid, done.title, done.description, done.labels, "main", done.merged_commit
        )
    else:
        merged = merge(deployment, env, {**START, "a": "1.1.0"}, title)
    argocd = FakeArgoCD()
    argocd.set("dev", "a", health="Degraded", revision=merged.merge_commit)
    calls, verdict = cascade_through_gate(deployment, merged, argocd)
    assert verdict is None and argocd.reads == 0
    assert calls == ([] if case == "hotfix" else [(env, "dev" if env == "main" else "stage")])


# --- gitops.yaml's argocd: -------------------------------------------------------------

ENVS_YAML = "environments: [{name: dev}, {name: stage}, {name: prod}]\n"


def test_argocd_settings_read_back() -> None:
    text = ENVS_YAML + "argocd: {url: 'https://argocd.example.com', timeout: 20m, poll: 5s,"
    settings = parse_settings(text + " environments: {prod: false}}\n", "gitops.yaml")
    argocd = settings.argocd
    assert argocd is not None
    assert (argocd.timeout, argocd.poll, argocd.gates("stage"), argocd.gates("prod")) == (
        1200.0,
        5.0,
        True,
        False,
    )
    assert parse_settings(settings.to_yaml(), "again").argocd == argocd
    assert parse_settings(ENVS_YAML, "gitops.yaml").argocd is None


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("{url: 'ftp://argocd'}", "`argocd.url`"),
        ("{url: 'https://a:b@argocd'}", "credentials"),
        ("{url: 'https://argocd', timeout: soon}", "`argocd.timeout` must be a duration"),
        ("{url: 'https://argocd', poll: 0}", "`argocd.poll` must be a duration"),
        ("{url: 'https://argocd', environments: {qa: false}}", "unknown environments: qa"),
        ("{url: 'https://argocd', environments: {dev: off-ish}}", "true or false"),
        ("{url: 'https://argocd', token_env: 'A B'}", "environment variable"),
        ("{url: 'https://argocd', token: secret}", "may only set"),
    ],
)
def test_bad_argocd_settings_are_refused(section: str, says: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_settings(ENVS_YAML + f"argocd: {section}\n", "gitops.yaml")
    assert says in refused.value.message and "gitops.yaml" in refused.value.message
