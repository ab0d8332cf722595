"""Secrets never leave the process: one URL cleaner, one masker, one token check.

Tokens reach us through the environment (GITLAB_TOKEN, ...) and may come back in
any form: as given or stripped of whitespace; percent-encoded, over-encoded (`%2D`
for `-`, lower-case hex, `%25` twice over) or JSON-escaped; or base64-encoded, alone
or after any prefix, as in the `Authorization: Basic base64(user:token)` header git
or a proxy echoes. Every text we print, log, commit or send to GitLab goes through
`mask`, and every URL we record goes through `clean_url`, which keeps only scheme,
host, port and path. docs/SECURITY.md lists the forms and where they are masked.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Iterable

from jenkins_helpers.errors import BadInput

# Values of these environment variables are masked in every message we build.
SECRET_ENV_VARS = (
    "GITLAB_TOKEN",
    "JENKINS_TOKEN",
    "GITOPS_WEBHOOK_SECRET",
    "SANDBOX_TOKEN",
    "SANDBOX_DEVELOPER_TOKEN",
)
MASK = "*****"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A run of base64 text (standard or URL-safe alphabet; `+`, `/` and `=` maybe
# percent-encoded, either case, once or twice), not starting inside an escape like `%20`.
_BASE64_RUN = re.compile(
    r"(?<!%)(?<!%[0-9A-Fa-f])(?<!%25)(?<!%25[0-9A-Fa-f])"
    r"(?:[A-Za-z0-9+/_-]|%(?:25)?2[BbFf])+(?:=|%(?:25)?3[Dd]){0,2}"
)

# `scheme://user:password@` in any text (a proxy's error body naming its database...).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@")

_registered: set[str] = set()


def register(secret: str) -> None:
    """Mask `secret` too (e.g. a token read from somewhere other than the environment)."""
    if len(secret.strip()) >= MIN_SECRET_CHARS:
        _registered.add(secret)


def _secrets() -> frozenset[str]:
    found = {s.strip() for s in _registered}
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if len(value) >= MIN_SECRET_CHARS:
            found.add(value)
    return frozenset(found)


def mask(text: str) -> str:
    """Replace every known secret in `text`, in any of its forms, by `*****`; and the
    password of any URL (`https://user:*****@host`), known or not.

    Base64 text that carries a secret is masked whole (`Basic *****`), so neither the
    secret nor the bits of it at the edges of its base64 run are left.
    """
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
    masker = _masker(_secrets())
    return text if masker is None else masker.sub(text)


class _Masker:
    """One regex for every form of a set of secrets, compiled once per set."""

    def __init__(self, secrets: Iterable[str]) -> None:
        plain: set[str] = set()
        cores: set[str] = set()
        for secret in secrets:
            plain.add(secret)
            cores |= base64_cores(secret)
        groups = [f"(?P<plain>{_alternatives(plain)})"]
        if cores:
            groups.insert(0, f"(?P<b64>{_alternatives(cores)})")
        self._regex = re.compile("|".join(groups))

    def sub(self, text: str) -> str:
        spans: list[tuple[int, int]] = []
        for match in self._regex.finditer(text):
            start, end = match.span()
            if match.lastgroup == "b64":
                start, end = _base64_run(text, start, end)
            while spans and start <= spans[-1][1]:  # a base64 run may reach back over some
                before = spans.pop()
                start, end = min(before[0], start), max(before[1], end)
            spans.append((start, end))
        if not spans:
            return text
        out, at = [], 0
        for start, end in spans:
            out += [text[at:start], MASK]
            at = end
        out.append(text[at:])
        return "".join(out)


@functools.lru_cache(maxsize=16)
def _masker(secrets: frozenset[str]) -> _Masker | None:
    return _Masker(secrets) if secrets else None


def _alternatives(forms: Iterable[str]) -> str:
    """Longest first: where one secret begins another, the whole of the longer is masked."""
    return "|".join(_encoded(f) for f in sorted(forms, key=lambda f: (-len(f), f)))


@functools.lru_cache(maxsize=256)
def _encoded(form: str) -> str:
    """A regex for `form` with each character as it is, percent-encoded (either case of
    hex, encoded once or twice: `%2D`, `%2d`, `%252D`) or JSON-escaped."""
    parts = []
    for ch in form:
        # Encoded forms first: a JSON-escaped `\` is `\\`, and must be masked whole.
        options = ["".join(f"%(?:25)?{_hex(byte)}" for byte in _utf8(ch))]
        escaped = json.dumps(ch)[1:-1]
        if escaped != ch:
            options.append(re.escape(escaped))
        if ch == " ":
            options.append(r"\+")  # form encoding
        options.append(re.escape(ch))
        parts.append(f"(?:{'|'.join(options)})")
    return "".join(parts)


def _utf8(text: str) -> bytes:
    """`text` as bytes; a secret read from bytes that are not UTF-8 (Python reads those
    from the environment as lone surrogates) as those bytes: masking an error message
    about such a token must not fail in turn."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte stands for
        return text.encode("utf-8", "surrogatepass")


def _hex(byte: int) -> str:
    return "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in f"{byte:02X}")


@functools.lru_cache(maxsize=256)
def base64_cores(secret: str) -> frozenset[str]:
    """The base64 text every base64 encoding of `secret` contains, whatever precedes it.

    Base64 turns 3 bytes into 4 characters, so how `secret` is encoded depends on the
    length of what comes before it (`oauth2:`, `someone:`...) modulo 3. For each of the
    three alignments, the characters made only of the secret's own bits; in the
    standard and the URL-safe alphabet. Cores shorter than MIN_SECRET_CHARS are left
    out (only very short secrets have them).
    """
    data = _utf8(secret)
    cores = set()
    for skip in range(3):
        text = base64.b64encode(bytes(skip) + data + bytes(2)).decode("ascii")
        first, last = -(-8 * skip // 6), 8 * (skip + len(data)) // 6
        core = text[first:last]
        if len(core) >= MIN_SECRET_CHARS:
            cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return frozenset(cores)


def _base64_run(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole run of base64 text around `text[start:end]`, with its padding."""
    for run in _BASE64_RUN.finditer(text, max(0, text.rfind(" ", 0, start))):
        if run.start() <= start and end <= run.end():
            return run.span()
        if run.start() > start:
            break
    return start, end


# --- URLs ------------------------------------------------------------------------------

# git's forms of a repository address (git help clone, "GIT URLS"):
#   <transport>::<address>            a remote helper
#   scheme://[user[:password]@]host[:port]/path   (http, https, ssh, git, file, ...)
#   [user[:password]@]host:path       scp-like: no "://", a colon before any slash
#   anything else                     a local path
_HELPER = re.compile(r"(?P<helper>[A-Za-z0-9][A-Za-z0-9+.-]*)::(?P<address>.*)", re.S)
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.S)
# The userinfo runs to the last `@` after which a `host:` follows (a password may hold
# `@`, `:` and `/`; git's own parser would cut it at the first). `[user@host:port]:path`
# is git's older form with a port.
_SCP = re.compile(
    r"(?:\[(?:[^\]]*@)?(?P<port_host>[^\]@]*)\]|(?:.*@)?(?P<host>\[[^\]]*\]|[^@/:\[\]]*))"
    r":(?P<path>.*)",
    re.S,
)


def clean_url(url: str) -> str:
    """`url` as we may record it: no `user:password@`, query or fragment (tokens hide there).

    Every form git accepts: a URL (`https://`, `ssh://`, `git://`, `file://`...), an
    scp-like address (`user:password@host:group/app.git` keeps `host:group/app.git`),
    `<transport>::<address>`. A local path is returned as it is.
    """
    if helper := _HELPER.fullmatch(url):
        return f"{helper['helper']}::{clean_url(helper['address'])}"
    if found := _URL.fullmatch(url):
        # As git reads it: the authority runs to the first slash, userinfo to its last @.
        authority, slash, path = found["rest"].partition("/")
        host = authority.rpartition("@")[2]
        if _no_query(host) != host:  # `https://host?query/...`: no path
            return f"{found['scheme']}://{_no_query(host)}"
        return f"{found['scheme']}://{host}{_no_query(slash + path)}"
    colon, slash = url.find(":"), url.find("/")
    if colon < 0 or 0 <= slash < colon:
        return url  # a local path
    scp = _SCP.fullmatch(url)
    if scp is None:  # a colon before any slash, but no host: drop all up to the last @
        return url.rpartition("@")[2]
    path = _no_query(scp["path"])
    if scp["port_host"] is not None:
        return f"[{scp['port_host']}]:{path}"
    if scp.start("host") == 0 and "@" in path.split("/", 1)[0]:
        # `user:password@host[/path]`: git would take `user` for the host, and the rest
        # for a path; it is a credential all the same.
        return url.rpartition("@")[2]
    return f"{scp['host']}:{path}"


def _no_query(text: str) -> str:
    return re.split(r"[?#]", text, maxsplit=1)[0]


def checked_token(value: str, name: str) -> str:
    """A token as given in `name`, stripped; control characters are bad input (exit 2).

    A newline in a token would split headers and log lines, and could hide the
    token from masking in the form it is printed in.
    """
    token = value.strip()
    if _CONTROL.search(token):
        raise BadInput(
            f"{name} contains control characters (a newline, a tab...)",
            f'set {name} to the token alone, e.g. export {name}="$(cat token-file)"',
        )
    register(value)
    if not token.isascii():  # HTTP headers carry ASCII only: it could never authenticate
        raise BadInput(
            f"{name} contains characters that are not ASCII (a token is letters, digits "
            "and a few signs such as - _ .)",
            f"copy the token again; check the encoding of the file {name} is read from",
        )
    return token
