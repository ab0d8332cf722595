"""Secrets never leave the process: one URL cleaner, one masker, one token check.

Tokens reach us through the environment (GITLAB_TOKEN, ...) and may come back in
any form: as given or stripped of whitespace, URL-encoded in a URL, or inside an
`Authorization: Basic base64(user:token)` header that git or a proxy echoes. Every
text we print, log, commit or send to GitLab goes through `mask`, and every URL we
record goes through `clean_url`, which keeps only scheme, host, port and path.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

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
_BASIC = re.compile(r"(Basic\s+)([A-Za-z0-9+/]+={0,2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# scp-like git addresses: [user@]host:path (no scheme, no slash before the colon).
_SCP_LIKE = re.compile(r"^(?P<user>[^@/\s]+@)?(?P<host>[^@/:\s]+):(?P<path>(?!//).*)$")

_registered: set[str] = set()


def register(secret: str) -> None:
    """Mask `secret` too (e.g. a token read from somewhere other than the environment)."""
    if len(secret.strip()) >= MIN_SECRET_CHARS:
        _registered.add(secret)


def _secrets() -> set[str]:
    found = set(_registered)
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name, "")
        if len(value.strip()) >= MIN_SECRET_CHARS:
            found.add(value)
    return found


def _forms(secret: str) -> set[str]:
    """The ways a secret can be written: as used (stripped; the raw form contains it), and
    URL-encoded."""
    used = secret.strip()
    forms = {used, quote(used, safe=""), quote_plus(used, safe="")}
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def mask(text: str) -> str:
    """Replace every known secret in `text`, in any of its forms, by `*****`."""
    secrets = _secrets()
    if not secrets:
        return text
    text = _BASIC.sub(lambda m: _mask_basic(m, secrets), text)
    for form in sorted({f for s in secrets for f in _forms(s)}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def _mask_basic(match: re.Match[str], secrets: set[str]) -> str:
    """`Basic <base64>` whose decoded `user:password` holds a secret: mask the whole value."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return match.group(0)
    if any(form in decoded for s in secrets for form in _forms(s)):
        return match.group(1) + MASK
    return match.group(0)


def clean_url(url: str) -> str:
    """`url` as we may record it: no `user:password@`, query or fragment (tokens hide there).

    An scp-like git address (`user@host:group/app.git`) loses its user part; a local
    path is returned as it is.
    """
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    scp = _SCP_LIKE.match(url)
    if scp and not parts.scheme:
        path = scp.group("path").split("?", 1)[0].split("#", 1)[0]
        return f"{scp.group('host')}:{path}"
    return url


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
    return token
