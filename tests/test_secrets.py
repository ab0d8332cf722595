"""Secrets: URLs we record carry none, and every form of a token is masked.

The classes are generated (hypothesis): random tokens of the alphabets real tokens
use, every URL form git accepts, every encoding a token comes back in. Each output
is scanned the way someone reading it would: decoded (percent, base64 at every
offset) and searched for the token.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers import secrets
from jenkins_helpers.errors import BadInput
from tests.helpers.secretscan import recoverable as _recoverable

TOKEN = "glpat-S3cr3t+/Tok=en"  # noqa: S105 - a made-up token with characters URLs encode

# GitLab (glpat-..., [A-Za-z0-9_-]), Jenkins (hex), webhook secrets (anything printable
# people pick): the alphabet real tokens use, and a few characters URLs must encode.
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."  # noqa: S105
tokens = st.one_of(
    st.text(TOKEN_CHARS, min_size=8, max_size=64),
    st.builds(lambda t: f"glpat-{t}", st.text(TOKEN_CHARS, min_size=20, max_size=20)),
    st.text(TOKEN_CHARS + "~+/=", min_size=8, max_size=40),
)
user_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", max_size=20)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """The process environment with `values` set (the masker reads it on each call)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://u:secret@h.example/a.git", "https://h.example/a.git"),
        ("https://h.example/a.git?private_token=secret", "https://h.example/a.git"),
        ("https://h.example:8443/a.git#frag", "https://h.example:8443/a.git"),
        ("https://u:se#cr?et@h.example/a.git", "https://h.example/a.git"),
        ("ssh://git:secret@h.example:22/a/b.git", "ssh://h.example:22/a/b.git"),
        ("file://u:secret@h.example/srv/a.git", "file://h.example/srv/a.git"),
        ("file:///srv/a.git", "file:///srv/a.git"),
        ("glpat-secret@h.example:a/b.git", "h.example:a/b.git"),
        ("oauth2:secret@h.example:a/b.git", "h.example:a/b.git"),
        ("oauth2:se/cr@et@h.example:a/b.git", "h.example:a/b.git"),
        ("oauth2:secret@h.example", "h.example"),
        ("[git:secret@h.example:2222]:a/b.git", "[h.example:2222]:a/b.git"),
        ("git@h.example:a/b.git?private_token=secret", "h.example:a/b.git"),
        (
            "persistent-https::https://u:secret@h.example/a.git",
            "persistent-https::https://h.example/a.git",
        ),
        ("/work/app", "/work/app"),
        ("relative/dir", "relative/dir"),
        ("./dir:with@colon", "./dir:with@colon"),
    ],
)
def test_clean_url_keeps_scheme_host_port_and_path(url: str, clean: str) -> None:
    assert secrets.clean_url(url) == clean


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,8}){0,2}", fullmatch=True)
paths = st.from_regex(r"[a-z0-9_.-]{1,12}(/[a-z0-9_.-]{1,12}){0,2}\.git", fullmatch=True)


def _url_forms(user: str, password: str, host: str, port: str, path: str) -> list[tuple[str, str]]:
    """(address as an app repo's origin may hold it, what may be recorded) for every form."""
    userinfo = f"{user}:{password}@"
    forms = [
        (f"{scheme}://{userinfo}{host}{port}/{path}", f"{scheme}://{host}{port}/{path}")
        for scheme in ("https", "http", "ssh", "git+ssh", "git", "ftps", "file")
    ]
    forms += [
        (f"{userinfo}{host}:{path}", f"{host}:{path}"),  # scp-like, password and all
        (f"{password}@{host}:{path}", f"{host}:{path}"),  # a token as the user name
        (f"[{userinfo}{host}{port}]:{path}", f"[{host}{port}]:{path}"),
        (f"https://{host}/{path}?private_token={password}", f"https://{host}/{path}"),
        (f"https::https://{userinfo}{host}/{path}", f"https::https://{host}/{path}"),
    ]
    return forms


@settings(max_examples=300, deadline=None)
@given(
    user=user_names,
    # In a URL, userinfo ends at the first slash (git's rule, RFC 3986: `/` is encoded);
    # in the scp-like form a password may hold `/` too, and `@` and `:` in either.
    password=tokens.map(lambda t: t.replace("/", "")).filter(lambda t: len(t) >= 8),
    extra=st.sampled_from(["", "@", ":", "@:"]),
    host=hosts,
    port=st.sampled_from(["", ":22", ":8443"]),
    path=paths,
)
def test_no_credentials_are_recorded_in_any_url_form_git_accepts(
    user: str, password: str, extra: str, host: str, port: str, path: str
) -> None:
    password = password[:4] + extra + password[4:]
    for url, clean in _url_forms(user, password, host, port, path):
        assert secrets.clean_url(url) == clean, url
    scp_slash = f"{user}:{password[:3]}/{password[3:]}@{host}:{path}"
    assert secrets.clean_url(scp_slash) == f"{host}:{path}"


# --- masking ------------------------------------------------------------------------------


def _over_encoded(token: str, which: list[bool], lower: list[bool], twice: bool) -> str:
    """`token` with the characters `which` picks percent-encoded, needed or not (`%2D` for
    `-`), in upper or lower-case hex, maybe encoded twice (`%252D`)."""
    out = []
    for i, ch in enumerate(token):
        if which[i % len(which)]:
            code = f"%{ord(ch):02X}"
            code = code.lower() if lower[i % len(lower)] else code
            out.append(code.replace("%", "%25") if twice else code)
        else:
            out.append(ch)
    return "".join(out)


def _b64(text: str, *, urlsafe: bool = False, pad: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(text.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


@st.composite
def encodings(draw: st.DrawFn, token: str) -> str:
    """One of the forms a token comes back in, as git, curl, a proxy or GitLab echo it."""
    user = draw(user_names)
    credentials = f"{user}:{token}"
    which = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    lower = draw(st.lists(st.booleans(), min_size=1, max_size=4))
    basic = _b64(credentials, urlsafe=draw(st.booleans()), pad=draw(st.booleans()))
    scheme = draw(st.sampled_from(["Basic", "basic", "BASIC"]))
    forms: list[Callable[[], str]] = [
        lambda: token,
        lambda: f"\t{token}\n",
        lambda: quote(token, safe=""),
        lambda: quote_plus(token, safe=""),
        lambda: _over_encoded(token, which, lower, False),
        lambda: _over_encoded(token, which, lower, True),
        lambda: f"https://{quote(user)}:{quote(token, safe='')}@h.example/a.git",
        lambda: _b64(token),
        lambda: _b64(token, urlsafe=True, pad=False),
        lambda: _b64(f"{token}\n"),  # `echo $TOKEN | base64`
        lambda: basic,
        lambda: f"Authorization: {scheme} {basic}",
        lambda: f"authorization={scheme}%20{quote(basic, safe='')}",
        lambda: f"{scheme}+{_over_encoded(basic, which, lower, draw(st.booleans()))}",
        lambda: json.dumps({"auth": f"{scheme} {basic}", "token": token}),
    ]
    return draw(st.sampled_from(forms))()


@settings(max_examples=400, deadline=None)
@given(data=st.data(), token=tokens, variable=st.sampled_from(secrets.SECRET_ENV_VARS))
def test_no_form_of_a_known_secret_survives_masking(
    data: st.DataObject, token: str, variable: str
) -> None:
    form = data.draw(encodings(token))
    assert _recoverable(token, form), "the generator makes forms the scanner reads"
    with environment(**{variable: f" {token}\n"}):  # given with whitespace, used stripped
        masked = secrets.mask(f"before {form} after")
    assert not _recoverable(token, masked), masked
    assert secrets.MASK in masked
    assert masked.startswith("before ") and masked.endswith(" after")


@settings(max_examples=100, deadline=None)
@given(data=st.data(), token=tokens)
def test_registered_secrets_are_masked_like_the_environments(
    data: st.DataObject, token: str
) -> None:
    form = data.draw(encodings(token))
    secrets.register(token)
    try:
        assert not _recoverable(token, secrets.mask(f"[{form}]"))
    finally:
        secrets._registered.discard(token)


@settings(max_examples=100, deadline=None)
@given(
    secret=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=8
    ).filter(lambda s: len(s.strip()) >= secrets.MIN_SECRET_CHARS)
)
def test_a_secret_of_any_characters_is_masked_in_json_and_urls(secret: str) -> None:
    """A webhook secret is whatever people chose: quotes, backslashes, non-ASCII. The
    webhook's log lines are JSON (escapes, \\uXXXX); URLs carry it percent-encoded."""
    used = secret.strip()
    with environment(GITOPS_WEBHOOK_SECRET=secret):
        for ascii_only in (True, False):
            line = secrets.mask(json.dumps({"s": f"<{secret}>"}, ensure_ascii=ascii_only))
            assert json.loads(line)["s"].count(secrets.MASK) == 1
            assert used not in json.loads(line)["s"]
        assert used not in unquote(secrets.mask(quote(secret, safe="")))
        assert used not in secrets.mask(secret)


def test_a_partly_encoded_token_with_a_raw_plus_is_masked() -> None:
    """Found by the generator above: `+` left raw after encoded characters."""
    with environment(GITLAB_TOKEN="0000000+"):  # noqa: S106
        masked = secrets.mask("before %300%300%300%30+ after")
    assert masked == f"before {secrets.MASK} after"
    assert not _recoverable("0000000+", masked)


def test_one_secret_inside_another_is_masked_whole() -> None:
    values = {"GITLAB_TOKEN": "abcd-1234", "JENKINS_TOKEN": "abcd-1234-efgh-5678"}
    with environment(**values):
        assert secrets.mask("x abcd-1234-efgh-5678 y abcd-1234 z") == "x ***** y ***** z"


def test_a_password_in_any_url_is_masked_known_or_not() -> None:
    body = "502 Bad Gateway: upstream postgres://gitlab:hunter2-db@db.internal:5432/gitlabhq"
    assert secrets.mask(body) == (
        "502 Bad Gateway: upstream postgres://gitlab:*****@db.internal:5432/gitlabhq"
    )
    assert secrets.mask("see https://h.example/a and git@h:a.git") == (
        "see https://h.example/a and git@h:a.git"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Basic " + base64.b64encode(b"user:unrelated").decode(),
        "Promote example-app 1.2.3 to dev (commit 0123456789abcdef0123456789abcdef01234567)",
        "dGhpcyBpcyBqdXN0IGJhc2U2NA== and %2D%2d and 100%25",
    ],
)
def test_text_without_secrets_is_left_alone(text: str) -> None:
    with environment(GITLAB_TOKEN=TOKEN):
        assert secrets.mask(text) == text


@pytest.mark.parametrize("bad", [f"{TOKEN}\nX-Injected: 1", f"a\tb{TOKEN}", "tok\x00en1234"])
def test_a_token_with_control_characters_is_bad_input(bad: str) -> None:
    with pytest.raises(BadInput, match="GITLAB_TOKEN contains control characters") as err:
        secrets.checked_token(bad, "GITLAB_TOKEN")
    assert bad.strip() not in err.value.message + (err.value.hint or "")


def test_a_token_is_used_stripped() -> None:
    assert secrets.checked_token(f"  {TOKEN}\n", "GITLAB_TOKEN") == TOKEN
