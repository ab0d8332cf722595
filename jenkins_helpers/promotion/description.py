"""The Markdown description of a promotion MR: what moves, the diffs in brief, what stays.

Sections, top to bottom (docs/PROMOTION.md): the image before and after, the
app-layer diff, a summary of the manifest diff, the target's env settings that
were kept, warnings, then the machine-readable trailer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.git import FileChange
from jenkins_helpers.promotion.model import ImageRef, Setting
from jenkins_helpers.promotion.trailer import Trailer

MAX_DIFF_CHARS = 30_000  # keep the description well under GitLab's 1 MB limit
MAX_VALUE_CHARS = 80


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


def render(c: Content) -> str:
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
    prefix = layout.env_manifests(c.env) + "/"
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
    return "`" + _cell(text, 300).replace("`", "'") + "`"


def _cell(text: str, limit: int) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."
