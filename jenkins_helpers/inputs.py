"""Validation of every value a user or a webhook payload hands us.

Each function returns the normalised value or raises `BadInput` naming the value
(repr, truncated) and the rule it broke, with a hint. Values end up in git refs,
file paths, Kubernetes names and MR titles, so the rules are deliberately strict:
anything we accept here must be safe to pass on without further quoting.
All patterns are matched with `re.fullmatch` (a `$` anchor would accept a
trailing newline) and use explicit ASCII classes, so Unicode look-alikes fail.

Before any rule of its own, every check refuses the characters no value may hold
(`unsafe_character`; docs/SECURITY.md, "Input"): each would let a value write
lines of its own, or reorder a line, wherever it is shown (a build log, a
terminal, an MR in the browser). The command line applies the same check to every
argument and option (`plain_text`, `local_path`, called by cli.py for each one),
whatever the option.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from jenkins_helpers.errors import BadInput

_SHOWN_CHARS = 60

# The Unicode characters with the Bidi_Control property: the embeddings and
# overrides (U+202A-U+202E), the isolates (U+2066-U+2069) and the marks (U+061C,
# U+200E, U+200F). Shown, they reorder the text around them: `example-app<U+202E>1.2.3`
# reads as `example-app3.2.1`, and a log line or a file name can read as another one
# (the "Trojan Source" attacks, CVE-2021-42574). No name, tag, path or URL needs one.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# What unsafe_character calls each kind of character, in messages.
_NAMED = {
    "\n": "a newline",
    "\r": "a carriage return",
    "\t": "a tab",
    "\x0b": "a vertical tab (a line break)",
    "\x0c": "a form feed (a line break)",
    "\x1c": "a file separator (a line break)",
    "\x1d": "a group separator (a line break)",
    "\x1e": "a record separator (a line break)",
    "\x85": "a next-line character (a line break)",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}
UNSAFE_HINT = (
    "type the value again: control characters, line and paragraph separators and "
    "bidi controls can make a log line, or a new one, read as something else"
)

# Local paths: Linux's limits (NAME_MAX, PATH_MAX with its NUL), in bytes.
NAME_MAX = 255
PATH_MAX = 4095
# A server's base URL: browsers and proxies commonly cut URLs beyond this.
URL_MAX = 2048
# A host name (RFC 1123: labels of up to 63 characters, 253 in all).
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
HOST_MAX = 253

# Service names are RFC 1035 labels (must start with a letter), stricter than the
# RFC 1123 labels other objects accept; the app name is used for both.
_APP_NAME = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
# "<app>-debug" names the debug Service and must fit in 63 characters.
APP_NAME_MAX = 63 - len("-debug")

# distribution/reference grammar (github.com/distribution/reference, regexp.go).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
REPOSITORY_MAX = 255

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# The only digest the platform layer's schema accepts (and what registries use).
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")

# Environment names and namespaces become Kubernetes names, directories and labels.
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_GROUP = re.compile(r"[a-z](?:[-a-z0-9.]*[a-z0-9])?")

_PROJECT_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
SEGMENT_MAX = 255

# Jenkins credential IDs, as its credentials form accepts them (UUIDs when generated).
_CREDENTIALS_ID = re.compile(r"[A-Za-z0-9_.-]+")
CREDENTIALS_ID_MAX = 255

# git check-ref-format: control characters, space and ~^:?*[\ are never allowed.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
BRANCH_MAX = 255


def show(value: object) -> str:
    """Return a short repr of `value` for messages, so a huge payload cannot flood a log."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} chars)"
    return repr(value)


def _bad(what: str, value: object, rule: str, hint: str) -> BadInput:
    return BadInput(f"invalid {what} {show(value)}: {rule}", hint)


def unsafe_character(value: str) -> tuple[int, str] | None:
    """The first character of `value` no value may hold, with its index, or None.

    Those are every control character (Unicode category Cc: the C0 controls, DEL and
    the C1 controls such as U+0085 NEXT LINE), the line and paragraph separators
    (U+2028, U+2029; with the controls, everything `str.splitlines()` breaks a line
    at), the bidi controls (`BIDI_CONTROLS`) and lone surrogates (bytes that were
    not UTF-8, as Python reads them from the command line and the environment).
    """
    for index, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in BIDI_CONTROLS:
            return index, char
    return None


def describe(char: str) -> str:
    """A character as messages name it: `a line separator (U+2028)`."""
    code = f"U+{ord(char):04X}"
    if char in _NAMED:
        return f"{_NAMED[char]} ({code})"
    if char in BIDI_CONTROLS:
        return f"a bidi control, {unicodedata.name(char).lower()} ({code})"
    if unicodedata.category(char) == "Cs":
        return f"a byte that is not UTF-8 (read as {code})"
    return f"a control character ({code})"


def plain_text(value: str, what: str, *, secret: bool = False) -> str:
    """Refuse `value` if it holds a character no value may (`unsafe_character`).

    The message names the character and where it is, and shows the value escaped,
    unless it is a `secret`.
    """
    found = unsafe_character(value)
    if found is None:
        return value
    index, char = found
    where = f"at character {index + 1} of {len(value)}"
    shown = "" if secret else f": {show(value)}"
    raise BadInput(f"{what} contains {describe(char)} {where}{shown}", UNSAFE_HINT)


def local_path(value: str | os.PathLike[str], what: str) -> Path:
    """Check a path on this machine given by the user (a directory to read or create).

    Any name is allowed (non-ASCII too) but none `plain_text` refuses, no name over
    NAME_MAX bytes and no path over PATH_MAX; a path that cannot be looked up (a
    symlink loop) is refused too. What the path must be (a directory, empty...) is
    the command's to check.
    """
    text = plain_text(os.fspath(value), what)
    path = Path(text)
    encoded = os.fsencode(text)
    too_long = next((n for n in encoded.split(b"/") if len(n) > NAME_MAX), None)
    if too_long is not None or len(encoded) > PATH_MAX:
        rule = (
            f"a name of {len(too_long)} bytes (at most {NAME_MAX})"
            if too_long is not None
            else f"{len(encoded)} bytes long (at most {PATH_MAX})"
        )
        raise BadInput(f"{what} {show(text)}: {rule}", "give a shorter path")
    try:
        os.stat(path)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENAMETOOLONG):
            raise BadInput(
                f"{what} {show(text)}: {e.strerror}", "give a path that can be looked up"
            ) from None
    return path


def directory_to_use(value: str | os.PathLike[str], what: str, *, empty: bool) -> Path:
    """Make sure a directory the user named exists (made if need be), before any work.

    An existing directory is used as it is (with `empty`, only if it is empty); else
    it is made, with its parents. Whether a directory can be made somewhere only
    trying tells (/proc/x, a read-only file system), so a command calls this once
    every other input is checked. BadInput, with nothing made, when it is a file, a
    FIFO or a device, or lies under one, or cannot be made.
    """
    path = local_path(value, what)
    made: list[Path] = []
    try:
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise BadInput(f"{what} {show(str(path))} is not a directory", "name a directory")
            if empty and any(path.iterdir()):
                raise BadInput(
                    f"{what} {show(str(path))} is not empty", "name a new or empty directory"
                )
            return path
        made = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True)
    except OSError as e:
        for directory in made:  # deepest first; only what is still empty
            try:
                directory.rmdir()
            except OSError:
                break
        raise BadInput(
            f"{what}: cannot make a directory at {show(str(path))}: {e.strerror or e}",
            "name a directory you can write to",
        ) from None
    return path


def host_name(value: object, what: str) -> str:
    """Check a host name or IP address to listen on or to be reached at (ASCII only)."""
    host = _require_str(what, value)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if len(host) > HOST_MAX or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise _bad(
            what,
            host,
            "a host is an IP address or a DNS name: ASCII letters, digits and '-' in "
            f"labels of up to 63 characters separated by '.', at most {HOST_MAX} in all",
            "e.g. 127.0.0.1, 0.0.0.0 or gitops-webhook.example.com",
        )
    return host


def credentials_id(value: object, what: str) -> str:
    """Check the ID of a Jenkins credential: what Jenkins' own form accepts
    (credentials plugin, BaseStandardCredentials: `[a-zA-Z0-9_.-]+`)."""
    name = _require_str(what, value)
    if len(name) > CREDENTIALS_ID_MAX or not _CREDENTIALS_ID.fullmatch(name):
        raise _bad(
            what,
            name,
            "a Jenkins credential ID is letters, digits, '_', '.' and '-', at most "
            f"{CREDENTIALS_ID_MAX} characters",
            "name the credential by its ID, as Manage Jenkins > Credentials lists it",
        )
    return name


def _require_str(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise _bad(
            what,
            value,
            f"expected a string, got {type(value).__name__}",
            "quote the value (YAML reads 1.10 as a number)",
        )
    if not value:
        raise _bad(what, value, "must not be empty", f"give a {what}")
    return plain_text(value, what)


def app_name(value: object) -> str:
    """Check an app name: it becomes Deployment, Service and `<app>-debug` Service names."""
    name = _require_str("app name", value)
    rule = (
        f"an app name is lowercase letters, digits and '-', starts with a letter, ends "
        f"with a letter or digit, at most {APP_NAME_MAX} characters (the "
        f"'<app>-debug' Service name must fit in Kubernetes' 63)"
    )
    if len(name) > APP_NAME_MAX or not _APP_NAME.fullmatch(name):
        raise _bad("app name", name, rule, "use a name like 'example-app'")
    return name


def image_repository(value: object) -> str:
    """Check an image repository such as `registry.example.com:5000/team/app` (no tag)."""
    repo = _require_str("image repository", value)
    last = repo.rsplit("/", 1)[-1]
    if "@" in repo or ":" in last:
        raise _bad(
            "image repository",
            repo,
            "must not contain a tag or digest",
            "pass the tag (or digest) separately, e.g. --tag 1.4.2",
        )
    if len(repo) > REPOSITORY_MAX or not _REPOSITORY.fullmatch(repo):
        raise _bad(
            "image repository",
            repo,
            "not an image repository: [host[:port]/]path, path components are "
            "lowercase letters and digits separated by '.', '_', '__' or '-'",
            "use a name like 'registry.example.com/team/app'",
        )
    return repo


def image_tag(value: object) -> str:
    """Check an image tag; `latest` is refused because mutable tags are never promoted."""
    tag = _require_str("image tag", value)
    if not _TAG.fullmatch(tag):
        raise _bad(
            "image tag",
            tag,
            "a tag is letters, digits, '_', '.' and '-', starts with a letter, digit "
            "or '_', at most 128 characters",
            "use a tag like '1.4.2' or 'build-1234'",
        )
    if tag.lower() == "latest":
        raise _bad(
            "image tag",
            tag,
            "'latest' is mutable, so what is promoted could differ from what was tested",
            "use an immutable tag (e.g. the version or commit) or a digest",
        )
    return tag


def image_digest(value: object) -> str:
    """Check a content digest such as `sha256:<64 hex>`."""
    digest = _require_str("image digest", value)
    if not _DIGEST.fullmatch(digest):
        raise _bad(
            "image digest",
            digest,
            "a digest is 'sha256:' and 64 lowercase hex digits",
            "copy the digest from the registry or `docker inspect`",
        )
    return digest


def environment(value: object, known: Sequence[str]) -> str:
    """Check that `value` names one of the environments configured in the repo settings."""
    env = _require_str("environment", value)
    if env not in known:
        listed = ", ".join(known) if known else "none configured"
        raise BadInput(
            f"unknown environment {show(env)}: known environments: {listed}",
            "check the spelling, or add the environment to gitops.yaml",
        )
    return env


def environment_name(value: object) -> str:
    """Check the form of an environment name before the repo settings can be read."""
    return dns_label(value, "environment", "use a name from the deployment repo's gitops.yaml")


def dns_label(value: object, what: str, hint: str) -> str:
    """Check a DNS-1123 label: environment names and namespaces become Kubernetes names."""
    name = _require_str(what, value)
    if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
        raise _bad(
            what,
            name,
            "not a DNS-1123 label: lowercase letters, digits and "
            "'-', first and last a letter or digit, at most 63 characters",
            f"{hint}, e.g. 'dev'",
        )
    return name


def group_name(value: object) -> str:
    """Check a release group's name, e.g. `release-2.0`: it becomes a branch part and a label."""
    name = _require_str("group name", value)
    if len(name) > 63 or not _GROUP.fullmatch(name):
        raise _bad(
            "group name",
            name,
            "a group name is lowercase letters, digits, '.' and '-', starting with a letter, "
            "at most 63 characters",
            "use a name like 'release-2.0'",
        )
    return name


def repo_path(root: Path, relative: object) -> Path:
    """Resolve `relative` under `root`, refusing anything that would leave it, symlinks included."""
    rel = _require_str("path", relative)
    if "\x00" in rel:
        raise _bad("path", rel, "must not contain NUL", "give a plain relative path")
    if PurePosixPath(rel).is_absolute() or rel.startswith("\\"):
        raise _bad(
            "path",
            rel,
            "must be relative to the repository",
            "give a path like 'services/apps/example-app.cue'",
        )
    if posixpath.normpath(rel).split("/")[0] == "..":
        raise _bad(
            "path",
            rel,
            "must not leave the repository with '..'",
            "give a path inside the repository",
        )
    base = root.resolve()
    resolved = (base / rel).resolve()
    if not resolved.is_relative_to(base):
        raise _bad(
            "path",
            rel,
            f"resolves outside the repository (to {resolved})",
            "a symlink points out of the repository; remove it or use the real path",
        )
    return resolved


def server_url(value: object, what: str) -> str:
    """Check the base URL of a server such as GitLab: http(s), a host, no credentials."""
    if isinstance(value, str):
        plain_text(value, what, secret=True)  # not shown: it could hold credentials
    url = _require_str(what, value).rstrip("/")
    if len(url) > URL_MAX:
        raise _bad(what, url, f"at most {URL_MAX} characters", "give the server's base URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError as e:  # "Invalid IPv6 URL", "Port out of range 0-65535"
        raise _bad(what, url, f"not a URL ({e})", "e.g. https://gitlab.example.com") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(
            what,
            url,
            "expected an http:// or https:// URL with a host",
            "e.g. https://gitlab.example.com",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise _bad(
            what,
            "<hidden>",
            "must not contain credentials, a query or a fragment",
            "give the token in GITLAB_TOKEN, never in a URL",
        )
    return url


def project_path(value: object) -> str:
    """Check a GitLab project path such as `platform/k8s-deployments`."""
    path = _require_str("GitLab project path", value)
    segments = path.split("/")
    rule = (
        "a GitLab project path is 'group[/subgroup...]/project'; each part is letters, "
        "digits, '_', '.' and '-', does not start with '-', is not '.' or '..', and does "
        "not end in '.git' or '.atom'"
    )
    hint = "use the path from the project's URL, e.g. 'platform/k8s-deployments'"
    if len(segments) < 2:
        raise _bad("GitLab project path", path, rule, hint)
    for segment in segments:
        if (
            len(segment) > SEGMENT_MAX
            or not _PROJECT_SEGMENT.fullmatch(segment)
            or segment in (".", "..")
            or segment.endswith((".git", ".atom"))
        ):
            raise _bad("GitLab project path", path, rule, hint)
    return path


def _ref_problem(name: str) -> str | None:
    """Return the git ref-format rule `name` breaks, or None."""
    checks = [
        (len(name) > BRANCH_MAX, f"at most {BRANCH_MAX} characters"),
        (
            not name.isascii(),
            "printable ASCII only (look-alike Unicode letters make branch names ambiguous)",
        ),
        (
            bool(_REF_FORBIDDEN.search(name)),
            "no spaces, control characters or any of ~ ^ : ? * [ \\",
        ),
        (".." in name, "no '..'"),
        ("@{" in name, "no '@{'"),
        (name in ("@", "HEAD"), "'@' and 'HEAD' are reserved"),
        (name.startswith("-"), "must not start with '-'"),
        (
            name.startswith("/") or name.endswith("/") or "//" in name,
            "no leading, trailing or doubled '/'",
        ),
        (name.endswith("."), "must not end with '.'"),
    ]
    for failed, rule in checks:
        if failed:
            return rule
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "no part may start with '.' or end with '.lock'"
    return None


def branch_name(value: object) -> str:
    """Check a branch name against git's ref-format rules (and refuse non-ASCII)."""
    name = _require_str("branch name", value)
    problem = _ref_problem(name)
    if problem:
        raise _bad("branch name", name, problem, "use a name like 'stage' or 'hotfix/fix-123'")
    return name
