"""Which merges become GitLab deployments (jenkins_helpers/operations/deployments.py).

Every merge into an environment branch changes what runs there, whatever kind of MR
it was, so each is recorded once: as a successful deployment of that environment,
`ref` the branch, `sha` the merge commit. Nothing for main or other branches, nothing
twice, nothing when the branch has moved on, nothing when gitops.yaml turns it off;
a GitLab failure is reported, never raised. Runs on FakeForge (tests/helpers/fakeforge.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import parse_settings
from jenkins_helpers.errors import BadInput
from jenkins_helpers.operations import deployments
from jenkins_helpers.promotion.target import DeploymentProject
from tests.helpers.fakeforge import BOT, PERSON, PROJECT, FakeForge, deployment_project, propose

TAGS = {"a": "1.0.0"}


@pytest.fixture
def forge(tmp_path: Path) -> FakeForge:
    return FakeForge(tmp_path)


@pytest.fixture
def deployment(forge: FakeForge) -> DeploymentProject:
    return deployment_project(forge, {env: TAGS for env in ("dev", "stage", "prod")})


def merge(forge: FakeForge, target: str, title: str, *, author: int = BOT, ff: bool = False) -> str:
    """An MR into `target` (a one-line change), merged; the commit it put there."""
    files = {layout.ENV_FILE if target != "main" else "README.md": f"// {title}\n"}
    mr = propose(forge, target, files, title, author=author, labels=())
    done = forge.merge(PROJECT, mr.iid, fast_forward=ff)
    assert done.merged_commit is not None
    return done.merged_commit


@pytest.mark.parametrize(
    ("target", "title", "author", "ff", "tier"),
    [
        ("dev", "Promote a 1.1.0 to dev", BOT, False, "development"),
        ("stage", "Promote a 1.1.0 to stage", BOT, False, "staging"),
        ("prod", "Hotfix a 1.0.1 in prod", BOT, True, "production"),  # fast-forward
        ("prod", "Roll back a to 1.0.0 in prod", BOT, False, "production"),
        ("stage", "Revert !3 in stage", BOT, False, "staging"),
        ("dev", "Set a replicas=3 in dev", BOT, False, "development"),
        ("dev", "A person's hand-made change", PERSON, False, "development"),
    ],
)
def test_every_merge_into_an_environment_is_recorded_once(
    forge: FakeForge,
    deployment: DeploymentProject,
    target: str,
    title: str,
    author: int,
    ff: bool,
    tier: str,
) -> None:
    sha = merge(forge, target, title, author=author, ff=ff)
    first = deployments.record(deployment, target, sha, 1)
    assert first is not None and first.outcome == "recorded"
    [recorded] = forge.deployments(PROJECT, target, newest=20)
    assert (recorded.environment, recorded.ref, recorded.sha, recorded.status) == (
        target,
        target,
        sha,
        "success",
    )
    assert [(e.name, e.tier) for e in forge.environments(PROJECT)] == [(target, tier)]
    # A redelivered event, a retried job, a reconcile: the same merge again.
    again = deployments.record(deployment, target, sha, 1)
    assert again == dataclasses.replace(first, outcome="already recorded")
    assert len(forge.deployments(PROJECT, target, newest=20)) == 1


@pytest.mark.parametrize(
    ("branch", "sha_of", "reason"),
    [
        ("main", "main", "main is no environment"),
        ("feature/x", "main", "no environment's branch"),
        ("dev", None, "the merge's commit is not known"),
    ],
)
def test_merges_outside_the_environments_record_nothing(
    forge: FakeForge, deployment: DeploymentProject, branch: str, sha_of: str | None, reason: str
) -> None:
    sha = forge.head(PROJECT, sha_of) if sha_of else None
    assert deployments.record(deployment, branch, sha, 1) is None, reason
    assert forge.environments(PROJECT) == []


def test_a_late_job_for_an_older_merge_records_nothing(
    forge: FakeForge, deployment: DeploymentProject
) -> None:
    """The newer merge is what runs, and GitLab links the older MR to its deployment."""
    older = merge(forge, "stage", "first")
    newer = merge(forge, "stage", "second")
    assert deployments.record(deployment, "stage", newer, 2).outcome == "recorded"  # type: ignore[union-attr]
    late = deployments.record(deployment, "stage", older, 1)
    assert late is not None and late.outcome.startswith("skipped: stage has moved on")
    assert [d.sha for d in forge.deployments(PROJECT, "stage", newest=20)] == [newer]


def test_turned_off_in_gitops_yaml(forge: FakeForge, deployment: DeploymentProject) -> None:
    sha = merge(forge, "dev", "Promote")
    off = dataclasses.replace(
        deployment, settings=dataclasses.replace(deployment.settings, deployments=False)
    )
    assert deployments.record(off, "dev", sha, 1) is None
    assert forge.deployments(PROJECT, "dev", newest=20) == []


def test_a_gitlab_failure_is_reported_not_raised(
    forge: FakeForge, deployment: DeploymentProject
) -> None:
    sha = merge(forge, "prod", "Promote")
    forge.deployments_fail = True
    failed = deployments.record(deployment, "prod", sha, 1)
    assert failed is not None and failed.failed
    assert "HTTP 500" in failed.outcome
    forge.deployments_fail = False  # GitLab is back: the retried job records it
    assert deployments.record(deployment, "prod", sha, 1).outcome == "recorded"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "tier"),
    [("dev", "development"), ("Staging", "staging"), ("prod", "production"), ("eu-1", None)],
)
def test_tiers_of_obvious_names(name: str, tier: str | None) -> None:
    assert deployments.tier(name) == tier


GITOPS_YAML = "environments:\n- {name: dev}\n- {name: prod}\n"


@pytest.mark.parametrize(
    ("extra", "on"),
    [
        ("", True),
        ("gitlab: {deployments: true}\n", True),
        ("gitlab: {deployments: false}\n", False),
    ],
)
def test_gitops_yaml_turns_deployments_off(extra: str, on: bool) -> None:
    settings = parse_settings(GITOPS_YAML + extra, "gitops.yaml")
    assert settings.deployments is on
    assert parse_settings(settings.to_yaml(), "again").deployments is on  # init-repo writes it


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("gitlab: {deployments: no-thanks}\n", "`gitlab.deployments` must be true or false"),
        ("gitlab: {deploys: false}\n", "`gitlab` may only set `deployments`"),
        ("gitlab: false\n", "`gitlab` may only set `deployments`"),
    ],
)
def test_gitops_yaml_bad_deployments_setting(extra: str, message: str) -> None:
    with pytest.raises(BadInput) as bad:
        parse_settings(GITOPS_YAML + extra, "gitops.yaml")
    assert bad.value.message == f"gitops.yaml: {message}"
    assert bad.value.hint is not None and "gitlab: {deployments: false}" in bad.value.hint
