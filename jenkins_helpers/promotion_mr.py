"""Promotion merge requests: branch, title, labels, description and the JSON trailer.

These are a contract (docs/PROMOTION.md): the webhook finds, parses and acts on
merged promotion MRs by them, and people search and filter by them. Change them
only together with that document and a new trailer `version`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from jenkins_helpers.errors import UserError
from jenkins_helpers.git import FileChange

TRAILER_VERSION = 1
TRAILER_TAG = "gitops-promotion"
_TRAILER = re.compile(r"<!--\s*" + TRAILER_TAG + r"\s+(\{.*?\})\s*-->", re.DOTALL)
MAX_DIFF_CHARS = 30_000  # keep the description well under GitLab's 1 MB limit
MAX_VALUE_CHARS = 80


class TrailerError(UserError):
    """A promotion trailer is present but not one we can read."""


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str | None = None

    @property
    def ref(self) -> str:
        """`repository:tag[@digest]`, as the Deployment names it."""
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True)
class Trailer:
    """What a promotion MR moves, machine-readable: the webhook acts on this after the merge."""

    target_env: str
    apps: dict[str, ImageRef]
    unit: str = "app"
    source_env: str | None = None  # None: from an app's CI, not from another environment
    app_repo: str | None = None
    app_commit: str | None = None
    app_layer_sha256: str | None = None
    version: int = TRAILER_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["apps"] = {name: asdict(image) for name, image in sorted(self.apps.items())}
        return data

    def to_comment(self) -> str:
        """The HTML comment (invisible in GitLab) that ends the MR description."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(", ", ": "))
        # JSON escapes for <, > and &: nothing inside can close the comment early.
        for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
            text = text.replace(char, escaped)
        return f"<!-- {TRAILER_TAG} {text} -->"


def parse_trailer(description: str | None) -> Trailer | None:
    """The trailer of an MR description (the last one if edited in twice); None without one."""
    found = _TRAILER.findall(description or "")
    if not found:
        return None
    try:
        data = json.loads(found[-1])
    except json.JSONDecodeError as e:
        raise TrailerError(f"the {TRAILER_TAG} trailer is not valid JSON: {e}") from e
    return _trailer(data)


def _trailer(data: Any) -> Trailer:
    if not isinstance(data, dict):
        raise TrailerError(f"the {TRAILER_TAG} trailer is not a JSON object")
    if data.get("version") != TRAILER_VERSION:
        raise TrailerError(
            f"{TRAILER_TAG} trailer version {data.get('version')!r} is not supported "
            f"(this gitops-helper reads version {TRAILER_VERSION})",
            "upgrade gitops-helper to the version that wrote the merge request",
        )
    apps = data.get("apps")
    if not isinstance(apps, dict) or not apps:
        raise TrailerError(f"the {TRAILER_TAG} trailer has no `apps`")
    return Trailer(
        target_env=_text(data, "target_env"),
        apps={_str(name, "apps key"): _image(name, image) for name, image in apps.items()},
        unit=_text(data, "unit"),
        source_env=_text(data, "source_env", optional=True),
        app_repo=_text(data, "app_repo", optional=True),
        app_commit=_text(data, "app_commit", optional=True),
        app_layer_sha256=_text(data, "app_layer_sha256", optional=True),
    )


def _image(name: str, image: Any) -> ImageRef:
    if not isinstance(image, dict):
        raise TrailerError(f"the {TRAILER_TAG} trailer's apps.{name} is not an object")
    return ImageRef(
        repository=_text(image, "repository"),
        tag=_text(image, "tag"),
        digest=_text(image, "digest", optional=True),
    )


def _text(data: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    return _str(value, key)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise TrailerError(f"the {TRAILER_TAG} trailer's {key} is {value!r}, expected a string")
    return value


# --- naming -------------------------------------------------------------------------------


def source_branch(env: str, app: str) -> str:
    """The one branch promoting `app` to `env`: a newer version reuses (and updates) it."""
    return f"promote/{env}/{app}"


def title(app: str, tag: str, env: str) -> str:
    return f"Promote {app} {tag} to {env}"


def unit_labels(app: str, env: str) -> list[str]:
    """The labels that identify 'promotion of `app` to `env`' (for finding superseded MRs)."""
    return ["promotion", f"app::{app}", f"env::{env}"]


def labels(app: str, env: str) -> list[str]:
    return ["gitops", *unit_labels(app, env)]


def superseded_note(iid: int) -> str:
    return f"Superseded by !{iid}"


# --- description --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One env.cue value the promotion keeps, for the 'kept' table."""

    path: str  # e.g. resources.limits.cpu
    value: Any
    scope: str  # where it is set: `apps."x".env` or `environment.defaults`


@dataclass(frozen=True)
class Content:
    """Everything the description shows."""

    app: str
    env: str
    image: ImageRef
    old_image: ImageRef | None  # None: the app is new in the environment
    app_file: str  # services/apps/<app>.cue
    app_layer_diff: str
    changes: Sequence[FileChange]
    kept: Sequence[Setting]
    trailer: Trailer
    build_url: str | None = None
    warnings: Sequence[str] = field(default_factory=tuple)


def description(c: Content) -> str:
    """The MR description: what moves, the diffs in brief, what stays, then the trailer."""
    build = f" by Jenkins build {c.build_url}" if c.build_url else ""
    parts = [
        f"Promotes **{c.app}** `{c.image.tag}` to **{c.env}**{build}.",
        _image_section(c),
        _app_layer_section(c),
        _manifest_section(c),
        _kept_section(c),
    ]
    if c.warnings:
        parts.append("### Warnings\n\n" + "\n".join(f"- {_cell(w, 300)}" for w in c.warnings))
    parts.append(c.trailer.to_comment())
    return "\n\n".join(parts) + "\n"


def _image_section(c: Content) -> str:
    old = c.old_image
    rows = [
        ("repository", old.repository if old else None, c.image.repository),
        ("tag", old.tag if old else None, c.image.tag),
        ("digest", old.digest if old else None, c.image.digest),
    ]
    table = "\n".join(
        f"| {name} | {_code(before) if before else '-'} | {_code(after) if after else '-'} |"
        for name, before, after in rows
    )
    intro = "" if old else f"{c.app} is new in {c.env}: its env.cue entry gets the image only.\n\n"
    return f"### Image\n\n{intro}| | before | after |\n|---|---|---|\n{table}"


def _app_layer_section(c: Content) -> str:
    head = f"### App layer (`{c.app_file}`)"
    if not c.app_layer_diff.strip():
        return f"{head}\n\nUnchanged."
    diff = c.app_layer_diff
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + "\n... (cut: see the merge request's changes)\n"
    fence = "`" * max(3, _longest_backtick_run(diff) + 1)
    return f"{head}\n\n{fence}diff\n{diff.rstrip()}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _manifest_section(c: Content) -> str:
    prefix = f"manifests/{c.env}/"
    manifests = [f for f in c.changes if f.path.startswith(prefix)]
    others = [f.path for f in c.changes if not f.path.startswith(prefix)]
    added = sum(f.added for f in manifests)
    removed = sum(f.removed for f in manifests)
    counts = {s: sum(f.status == s for f in manifests) for s in ("added", "modified", "deleted")}
    summary = (
        f"{len(manifests)} manifest file(s): {counts['added']} added, "
        f"{counts['modified']} changed, {counts['deleted']} removed (+{added} -{removed})"
    )
    rows = "\n".join(f"| `{f.path}` | {f.status} | +{f.added} | -{f.removed} |" for f in manifests)
    table = f"| file | change | added | removed |\n|---|---|---|---|\n{rows}" if manifests else ""
    also = f"\n\nAlso changed: {', '.join(f'`{p}`' for p in others)}." if others else ""
    return f"### Manifests\n\n<details><summary>{summary}</summary>\n\n{table}\n\n</details>{also}"


def _kept_section(c: Content) -> str:
    head = f"### {c.env} settings kept for {c.app}"
    if not c.kept:
        return f"{head}\n\nNone: {c.app} has no settings of its own in {c.env}'s env.cue."
    rows = "\n".join(f"| `{s.path}` | {_code(_value(s.value))} | `{s.scope}` |" for s in c.kept)
    return f"{head}\n\n| setting | value | set in env.cue at |\n|---|---|---|\n{rows}"


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _code(text: str) -> str:
    """Inline code in a table cell: no pipes or newlines to break the row."""
    return f"`{_cell(text, 300).replace('`', chr(39))}`"


def _cell(text: str, limit: int) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."
