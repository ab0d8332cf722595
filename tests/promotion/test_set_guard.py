"""`set --set PATH=VALUE` never changes an app's image: not `deployment.image` or below
it, nor any field that holds it (`deployment`), however the path is spelt and whatever
the value (a struct, a string, null, or nothing: removal). Images change by promote and
rollback; a hotfix gives --image-tag.

The operator runs the CLI against a seeded sandbox over HTTP: each refusal exits 2 with
the reason, and the project's branches and merge requests stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest
from click.testing import CliRunner
from gitlab.v4.objects import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_helper import cli
from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from tests.helpers.operator import project_state

TOKEN = "set-guard-test-token-5e1d"  # noqa: S105 - the sandbox's test credential


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sb:
        seed_default(sb)
        yield sb


@pytest.fixture(scope="module")
def project(sandbox: Sandbox) -> Iterator[Project]:
    with gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def label(name: str) -> st.SearchStrategy[str]:
    """`name` as a CUE path label: bare, quoted, or quoted with escapes."""
    escaped = "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(name))
    return st.sampled_from([name, f'"{name}"', f'"{escaped}"'])


@st.composite
def image_paths(draw: st.DrawFn) -> str:
    """`deployment`, `deployment.image`, or a field below it, spelt any way CUE allows."""
    parts = ["deployment", "image", draw(st.sampled_from(["tag", "digest", "repository"]))]
    depth = draw(st.integers(1, 3))
    labels = [draw(label(p)) for p in parts[:depth]]
    spaces = draw(st.sampled_from(["", " "]))
    return spaces + ".".join(labels) + spaces


values = st.sampled_from(
    [
        '{"image": {"repository": "evil.example.com/app", "tag": "1.0.0"}}',
        '{"image": {"tag": "9.9.9"}}',
        "{}",
        "null",
        '"registry.example.com/other"',
        "1.2.3",
        "",  # nothing: removes the value
    ]
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=image_paths(), value=values, env=st.sampled_from(["dev", "prod"]))
def test_set_refuses_the_image_and_every_field_holding_it(
    sandbox: Sandbox, project: Project, path: str, value: str, env: str
) -> None:
    before = project_state(project)
    args = ["set", "--env", env, "--app", "example-app", "--set", f"{path}={value}"]
    done = CliRunner().invoke(
        cli.main, args, env={"GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": TOKEN}
    )
    assert done.exit_code == 2, done.output
    assert "cannot change deployment.image" in done.output
    assert "--image-tag" in done.output
    assert project_state(project) == before


@pytest.mark.parametrize("path", ["deployment..image", "deployment.", '"deployment', "a b"])
def test_a_malformed_path_is_bad_input(sandbox: Sandbox, project: Project, path: str) -> None:
    before = project_state(project)
    args = ["set", "--env", "dev", "--app", "example-app", "--set", f"{path}=1"]
    done = CliRunner().invoke(
        cli.main, args, env={"GITLAB_URL": sandbox.gitlab_url, "GITLAB_TOKEN": TOKEN}
    )
    assert done.exit_code == 2, done.output
    assert "bad CUE path" in done.output
    assert project_state(project) == before
