"""Validation of every value a user or a webhook payload hands us.

Each function returns the normalised value or raises `BadInput` naming the value
(repr, truncated) and the rule it broke, with a hint. Values end up in git refs,
file paths, Kubernetes names and MR titles, so the rules are deliberately strict:
anything we accept here must be safe to pass on without further quoting.
All patterns are matched with `re.fullmatch` (a `$` anchor would accept a
trailing newline) and use explicit ASCII classes, so Unicode look-alikes fail.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from jenkins_helpers.errors import BadInput

_SHOWN_CHARS = 60

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
    return value


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
    url = _require_str(what, value).rstrip("/")
    parts = urlsplit(url)
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
