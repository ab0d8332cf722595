"""Tests for jenkins_helpers.inputs: good and bad values, adversarial ones included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput

CYRILLIC_A = "\u0430"  # looks like the Latin 'a'
LONG = "a" * 10_000
SHA = "0123456789abcdef" * 4


def _bad_message(func, value, *args) -> BadInput:
    with pytest.raises(BadInput) as info:
        func(value, *args)
    assert info.value.exit_code == 2
    assert info.value.hint
    return info.value


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "example-app",
        "app2",
        "a-b-c",
        "x" * inputs.APP_NAME_MAX,
        "a1-2b",
    ],
)
def test_app_name_good(value):
    assert inputs.app_name(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Example",
        "-app",
        "app-",
        "1app",
        "app_name",
        "app.name",
        "app name",
        "app\n",
        "x" * (inputs.APP_NAME_MAX + 1),
        f"ex{CYRILLIC_A}mple",
        "app$(touch x)",
        "../etc",
        None,
        42,
        LONG,
    ],
)
def test_app_name_bad(value):
    _bad_message(inputs.app_name, value)


def test_app_name_rule_explains_the_debug_service_limit():
    error = _bad_message(inputs.app_name, "x" * 58)
    assert "'x" in error.message
    assert "-debug" in error.message and "57" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "nginx",
        "library/nginx",
        "docker.io/library/nginx",
        "registry.example.com/team/app",
        "registry.example.com:5000/team/app",
        "localhost/app",
        "localhost:5000/app",
        "my-registry.local/a/b/c",
        "a/b__c/d.e/f-g/h--i",
        "192.168.1.10:443/x",
        "[::1]:5000/x",
        "Registry.Example.com/app",
    ],
)
def test_image_repository_good(value):
    assert inputs.image_repository(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Nginx",
        "team/App",
        "nginx:1.0",
        "registry:5000/app:1.0",
        "app@sha256:" + SHA,
        "a//b",
        "/app",
        "app/",
        "a/-b",
        "a/b-",
        "a/.b",
        "a/b___c",
        "a/b..c",
        "reg istry/app",
        "registry.example.com:port/app",
        f"te{CYRILLIC_A}m/app",
        "app$(touch x)",
        "app\n",
        "../../etc",
        "-registry.com/app",
        "a/" * 200 + "a",
        1.0,
    ],
)
def test_image_repository_bad(value):
    _bad_message(inputs.image_repository, value)


def test_image_repository_with_tag_says_to_pass_it_separately():
    error = _bad_message(inputs.image_repository, "registry.example.com/app:1.2")
    assert "tag" in error.message and "separately" in error.hint


@pytest.mark.parametrize(
    "value",
    [
        "1.0.0",
        "v1.2.3-rc.1",
        "_internal",
        "build-1234",
        "sha-0a1b2c3",
        "A" * 128,
        "latest-1",
        "1.0.0_build.5",
    ],
)
def test_image_tag_good(value):
    assert inputs.image_tag(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".hidden",
        "-rc",
        "1.0.0$(touch x)",
        "1.0;rm -rf /",
        "1.0 0",
        "1.0\n",
        "a" * 129,
        f"1.0-{CYRILLIC_A}",
        "tag/with/slash",
        "1.0:2",
        "1.0@sha",
        "`id`",
        1.1,
        None,
        LONG,
    ],
)
def test_image_tag_bad(value):
    _bad_message(inputs.image_tag, value)


@pytest.mark.parametrize("value", ["latest", "LATEST", "Latest"])
def test_image_tag_latest_is_refused_with_a_reason(value):
    error = _bad_message(inputs.image_tag, value)
    assert "mutable" in error.message
    assert "immutable tag" in error.hint and "digest" in error.hint


def test_bad_value_is_shown_truncated():
    error = _bad_message(inputs.image_tag, "x" * 500)
    assert "500 chars" in error.message
    assert len(error.message) < 400


def test_image_digest_good():
    assert inputs.image_digest(f"sha256:{SHA}") == f"sha256:{SHA}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        f"sha256:{SHA[:-1]}",
        f"sha256:{SHA}0",
        f"sha256:{SHA.upper()}",
        f"SHA256:{SHA}",
        f"sha512:{SHA}",
        f"sha512:{SHA * 2}",  # the platform schema pins sha256 only
        "md5:" + "a" * 32,
        "blake3:" + "a" * 64,
        f"sha256:{SHA}\n",
        f"sha256:{SHA[:-1]}{CYRILLIC_A}",
        ":abc",
        "sha256:",
        "sha256:abc def",
        "sha256:$(touch x)",
        f"sha256:{SHA}@x",
    ],
)
def test_image_digest_bad(value):
    _bad_message(inputs.image_digest, value)


def test_environment_good():
    assert inputs.environment("stage", ["dev", "stage", "prod"]) == "stage"


@pytest.mark.parametrize("value", ["", "Stage", "staging", " stage", "prod\n", "d\u0435v", None])
def test_environment_bad_lists_the_known_ones(value):
    error = _bad_message(inputs.environment, value, ["dev", "stage", "prod"])
    if isinstance(value, str) and value:
        assert "dev, stage, prod" in error.message


def test_environment_with_nothing_configured():
    error = _bad_message(inputs.environment, "dev", [])
    assert "none configured" in error.message


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small repository tree with one symlink inside it and one pointing out of it."""
    root = tmp_path / "repo"
    (root / "services" / "apps").mkdir(parents=True)
    (root / "services" / "apps" / "a.cue").write_text("")
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "escape")
    os.symlink(root / "services", root / "inner")
    return root


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("services/apps/a.cue", "services/apps/a.cue"),
        ("services/apps/new.cue", "services/apps/new.cue"),
        ("./services//apps/", "services/apps"),
        ("services/../services/apps", "services/apps"),
        ("inner/apps", "services/apps"),
        (".", ""),
    ],
)
def test_repo_path_good(repo, relative, expected):
    assert inputs.repo_path(repo, relative) == (repo / expected).resolve()


@pytest.mark.parametrize(
    "relative",
    [
        "",
        "/etc/passwd",
        "../../etc",
        "..",
        "services/../../x",
        "escape",
        "escape/file",
        "a\x00b",
        "\\windows",
        None,
    ],
)
def test_repo_path_bad(repo, relative):
    _bad_message(inputs.repo_path, repo, relative)


def test_repo_path_names_the_symlink_target(repo, tmp_path):
    error = _bad_message(inputs.repo_path, repo, "escape/x")
    assert str((tmp_path / "outside").resolve()) in error.message


@pytest.mark.parametrize(
    "value",
    [
        "platform/k8s-deployments",
        "group/sub/project",
        "g/p.name",
        "g/_p",
        "G1/My_Project",
        "g/.p",
    ],
)
def test_project_path_good(value):
    assert inputs.project_path(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "project",
        "/group/project",
        "group/project/",
        "group//project",
        "group/../project",
        "group/./project",
        "group/project.git",
        "group/project.atom",
        "group.git/project",
        "group/-project",
        "group/pro ject",
        f"group/pr{CYRILLIC_A}ject",
        "group/p$(touch x)",
        "group/" + "p" * 256,
        "group/project\n",
        "group\\project",
        None,
    ],
)
def test_project_path_bad(value):
    _bad_message(inputs.project_path, value)


@pytest.mark.parametrize(
    "value",
    [
        "main",
        "dev",
        "promote/stage/example-app",
        "hotfix/JIRA-123_fix",
        "release-1.2",
        "a" * 255,
        "feature/x.y",
        "user@host",
    ],
)
def test_branch_name_good(value):
    assert inputs.branch_name(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "a\tb",
        "a\x7fb",
        "-x",
        "/x",
        "x/",
        "a//b",
        "x.lock",
        "a/b.lock/c",
        ".x",
        "a/.x",
        "x.",
        "a@{1}",
        "@",
        "HEAD",
        "a" * 256,
        f"m{CYRILLIC_A}in",
        "main\n",
        "1.0.0$(touch x)",
        "../../etc",
        None,
    ],
)
def test_branch_name_bad(value):
    _bad_message(inputs.branch_name, value)


def test_branch_name_message_names_the_rule():
    error = _bad_message(inputs.branch_name, "release..1")
    assert "'release..1'" in error.message and "'..'" in error.message
