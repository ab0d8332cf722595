"""Tests for jenkins_helpers.inputs: good and bad values, adversarial ones included."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput

CYRILLIC_A = "\u0430"  # looks like the Latin 'a'
LONG = "a" * 10_000
SHA = "0123456789abcdef" * 4


def _bad_message(func, value, *args, **kwargs) -> BadInput:
    with pytest.raises(BadInput) as info:
        func(value, *args, **kwargs)
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
    if value == "prod\n":  # what is wrong first: the newline
        assert error.message.startswith("environment contains a newline (U+000A)")
    elif isinstance(value, str) and value:
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


# --- characters no value may hold (issue 19) --------------------------------------

# Each check of a user value, with a valid value to put a character into (the middle).
CHECKS = {
    "app name": (inputs.app_name, "example-app"),
    "image repository": (inputs.image_repository, "registry.example.com/team/app"),
    "image tag": (inputs.image_tag, "1.0.1"),
    "image digest": (inputs.image_digest, f"sha256:{SHA}"),
    "environment name": (inputs.environment_name, "staging"),
    "group name": (inputs.group_name, "release-2.0"),
    "project path": (inputs.project_path, "platform/k8s-deployments"),
    "branch name": (inputs.branch_name, "hotfix/fix-123"),
    "credentials id": (lambda v: inputs.credentials_id(v, "--git-credentials"), "gitlab-git"),
    "host": (lambda v: inputs.host_name(v, "--host"), "gitops-webhook.example.com"),
    "server URL": (lambda v: inputs.server_url(v, "GitLab URL"), "https://gitlab.example.com/x"),
    "environment": (lambda v: inputs.environment(v, ["dev", "de"]), "dev"),
    "plain text": (lambda v: inputs.plain_text(v, "--set"), "configMap.data.motd=hello"),
}
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _is_line_break(char: str) -> bool:
    return len(f"a{char}b".splitlines()) > 1


def _expected_unsafe(char: str) -> bool:
    """The rule, written out independently: controls, separators, bidi, not UTF-8."""
    return (
        _is_line_break(char)
        or unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs")
        or char in BIDI
    )


def test_every_line_break_python_knows_is_unsafe():
    """Everything str.splitlines() breaks at: U+2028, U+2029, U+0085, VT, FF, FS..."""
    breaks = [chr(c) for c in range(0x110000) if _is_line_break(chr(c))]
    assert {"\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"} < set(breaks)
    assert all(inputs.unsafe_character(f"a{c}b") == (1, c) for c in breaks)


def test_the_bidi_controls_are_unicodes():
    """BIDI_CONTROLS is Unicode's Bidi_Control property: the embeddings and overrides,
    the isolates and the marks (names from the Unicode database)."""
    names = {unicodedata.name(c) for c in inputs.BIDI_CONTROLS}
    assert len(names) == 12 and set(BIDI) == inputs.BIDI_CONTROLS
    assert {"RIGHT-TO-LEFT OVERRIDE", "LEFT-TO-RIGHT ISOLATE", "POP DIRECTIONAL ISOLATE"} < names


@settings(max_examples=500, deadline=None)
@given(st.characters(codec=None))
def test_unsafe_character_is_exactly_the_rule(char):
    """Any character at all (surrogates included): unsafe exactly as the rule says."""
    found = inputs.unsafe_character(f"ok{char}")
    assert (found == (2, char)) == _expected_unsafe(char)


unsafe_characters = st.one_of(
    st.sampled_from(sorted({chr(c) for c in range(0x110000) if _is_line_break(chr(c))})),
    st.sampled_from(sorted(BIDI)),
    st.characters(categories=["Cc", "Cs"]),
)


@settings(max_examples=300, deadline=None)
@given(check=st.sampled_from(sorted(CHECKS)), char=unsafe_characters, data=st.data())
def test_every_check_refuses_an_unsafe_character_anywhere(check, char, data):
    """In every check of a user value, wherever the character is: bad input naming it
    by its code point, and the message itself free of it (nothing forged)."""
    func, valid = CHECKS[check]
    at = data.draw(st.integers(0, len(valid)))
    value = valid[:at] + char + valid[at:]
    error = _bad_message(func, value)
    assert f"U+{ord(char):04X}" in error.message
    assert not any(_expected_unsafe(c) for c in error.message + (error.hint or ""))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_takes_its_valid_value(name):
    func, valid = CHECKS[name]
    assert func(valid)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1.0.1\u2028gitopsPromote: forged", "a line separator (U+2028) at character 6 of"),
        ("dev\x85x", "a next-line character (a line break) (U+0085) at character 4"),
        ("example-app\u202e1.2.3", "a bidi control, right-to-left override (U+202E)"),
        ("a\x1bb", "a control character (U+001B)"),
        ("a\udcffb", "a byte that is not UTF-8 (read as U+DCFF)"),
    ],
)
def test_plain_text_names_the_character_and_shows_the_value_escaped(value, shown):
    error = _bad_message(inputs.plain_text, value, "--tag")
    assert error.message.startswith(f"--tag contains {shown}")
    assert repr(value)[1:-1] in error.message  # escaped, as repr shows it


def test_plain_text_does_not_show_a_secret():
    error = _bad_message(inputs.plain_text, "s3cret-token\u2028x", "--token", secret=True)
    assert "s3cret" not in error.message


def test_plain_text_takes_non_ascii_text():
    """Only what forges or reorders lines is refused: a value may be any language."""
    assert inputs.plain_text("données über 価格 ✓", "--set") == "données über 価格 ✓"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "https://gitlab.example.com/" + "a" * inputs.URL_MAX,
        "https://gitlab.example.com/\nX-Forged: 1",
        "https://gitlab.example.com/\u2028x",
    ],
)
def test_server_url_refuses_what_is_no_url(url):
    """Each was taken (exit 1 later, or 'unexpected ValueError' from urlsplit)."""
    _bad_message(inputs.server_url, url, "GitLab URL")


def test_server_url_never_shows_a_url_with_a_control_character():
    error = _bad_message(inputs.server_url, "https://user:pw@gitlab\n.example.com", "GitLab URL")
    assert "pw" not in error.message


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0.0.0.0", "::1", "localhost", "a-b.example.com."],  # noqa: S104 - not bound
)
def test_host_name_good(host):
    assert inputs.host_name(host, "--host") == host


@pytest.mark.parametrize(
    "host",
    ["", "exämple.com", "a b", "-x.com", "x_y.com", "a" * 64 + ".com", "a." * 127 + "a", None],
)
def test_host_name_bad(host):
    _bad_message(inputs.host_name, host, "--host")


@pytest.mark.parametrize("value", ["gitlab-git", "8f1c2a30-5b7e-4c1d-9e0f-123456789abc", "a.b_c"])
def test_credentials_id_good(value):
    assert inputs.credentials_id(value, "--git-credentials") == value


@pytest.mark.parametrize("value", ["", " gitlab-git", "gitlab git", "gitläb", "x" * 256, "a/b"])
def test_credentials_id_bad(value):
    _bad_message(inputs.credentials_id, value, "--git-credentials")


def test_local_path_refuses_what_cannot_be_looked_up(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for path in (
        tmp_path / ("n" * 256),
        tmp_path.joinpath(*["p" * 200] * 25),
        tmp_path / "loop" / "x",
        f"{tmp_path}/a\u2029b",
    ):
        _bad_message(inputs.local_path, path, "--repo")
    assert inputs.local_path(tmp_path / "jörg" / "new", "--repo") == tmp_path / "jörg" / "new"


def test_directory_to_use_makes_one_or_refuses_leaving_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for path in ("afile", "fifo", "afile/sub/dir", "full"):
        _bad_message(inputs.directory_to_use, tmp_path / path, "--keep", empty=True)
    _bad_message(inputs.directory_to_use, Path("/dev/null"), "--dir", empty=False)
    _bad_message(inputs.directory_to_use, Path("/proc/gitops-x/y"), "--dir", empty=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "fifo", "full"]
    made = inputs.directory_to_use(tmp_path / "new" / "state", "--dir", empty=False)
    assert made.is_dir()
    assert inputs.directory_to_use(tmp_path / "full", "--dir", empty=False).is_dir()
