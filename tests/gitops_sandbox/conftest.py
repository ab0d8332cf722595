"""Fixtures for the sandbox tests: a running sandbox (always stopped), clients, a project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import ENVS, Receiver, deployments_repo

DEPLOYMENTS = "platform/k8s-deployments"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox on a free port, state in the test's tmp dir; stopped afterwards."""
    with Sandbox.start(
        state_dir=tmp_path / "sandbox-state", hook_timeout=2.0, hook_retry_delays=(0.05, 0.1, 0.2)
    ) as sb:
        yield sb


@pytest.fixture
def gl(sandbox: Sandbox) -> Iterator[gitlab.Gitlab]:
    """A python-gitlab client for the sandbox, its session closed afterwards."""
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.token) as client:
        yield client


@pytest.fixture
def dev_gl(sandbox: Sandbox) -> Iterator[gitlab.Gitlab]:
    """python-gitlab signed in as the developer (Developer on every group project)."""
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.developer_token) as client:
        yield client


@pytest.fixture(scope="session")
def deployments_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local k8s-deployments look-alike for the run (seeding only reads it)."""
    return deployments_repo(tmp_path_factory.mktemp("deployments") / "repo")


@pytest.fixture
def project(sandbox: Sandbox, gl: gitlab.Gitlab, deployments_source: Path) -> Project:
    """`platform/k8s-deployments` with main + env branches, all protected."""
    sandbox.create_project(DEPLOYMENTS, source_dir=deployments_source, protected=["main", *ENVS])
    return gl.projects.get(DEPLOYMENTS)


@pytest.fixture
def dev_project(project: Project, dev_gl: gitlab.Gitlab) -> Project:
    """`platform/k8s-deployments` (main and the env branches protected), as the developer."""
    return dev_gl.projects.get(project.path_with_namespace)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, stopped afterwards."""
    rec = Receiver().start()
    yield rec
    rec.stop()
