"""Secrets: URLs we record carry none, and every form of a token is masked."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from jenkins_helpers import secrets
from jenkins_helpers.errors import BadInput

TOKEN = "glpat-S3cr3t+/Tok=en"  # noqa: S105 - a made-up token with characters URLs encode


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://u:secret@h.example/a.git", "https://h.example/a.git"),
        ("https://h.example/a.git?private_token=secret", "https://h.example/a.git"),
        ("https://h.example:8443/a.git#frag", "https://h.example:8443/a.git"),
        ("ssh://git:secret@h.example:22/a/b.git", "ssh://h.example:22/a/b.git"),
        ("glpat-secret@h.example:a/b.git", "h.example:a/b.git"),
        ("git@h.example:a/b.git?private_token=secret", "h.example:a/b.git"),
        ("/work/app", "/work/app"),
        ("relative/dir", "relative/dir"),
    ],
)
def test_clean_url_keeps_scheme_host_port_and_path(url: str, clean: str) -> None:
    assert secrets.clean_url(url) == clean


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        f"  {TOKEN}\n",
        quote(TOKEN, safe=""),
        "Authorization: Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode(),
        "Authorization: Basic " + base64.b64encode(f"someone:{TOKEN}".encode()).decode(),
    ],
    ids=["raw", "padded", "url-encoded", "basic-oauth2", "basic-any-user"],
)
def test_every_form_of_the_token_is_masked(form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", f" {TOKEN} ")  # given with whitespace, used stripped
    text = secrets.mask(f"before {form} after")
    assert TOKEN not in text and quote(TOKEN, safe="") not in text
    assert secrets.MASK in text
    assert text.startswith("before ") and text.endswith(" after")


def test_basic_auth_of_other_credentials_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    other = "Basic " + base64.b64encode(b"user:unrelated").decode()
    assert secrets.mask(other) == other


@pytest.mark.parametrize("bad", [f"{TOKEN}\nX-Injected: 1", f"a\tb{TOKEN}", "tok\x00en1234"])
def test_a_token_with_control_characters_is_bad_input(bad: str) -> None:
    with pytest.raises(BadInput, match="GITLAB_TOKEN contains control characters") as err:
        secrets.checked_token(bad, "GITLAB_TOKEN")
    assert bad.strip() not in err.value.message + (err.value.hint or "")


def test_a_token_is_used_stripped() -> None:
    assert secrets.checked_token(f"  {TOKEN}\n", "GITLAB_TOKEN") == TOKEN
