"""The Markdown description of a promotion MR: what moves, the diffs in brief, what stays.

Sections, top to bottom (docs/PROMOTION.md): the image before and after, its
provenance (build, app commit, upstream MRs), the app-layer diff, a summary of the
manifest diff, the target's env settings that were kept, warnings, then the
machine-readable trailer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jenkins_helpers.cuesrc import literals
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.git import FileChange
from jenkins_helpers.promotion import naming
from jenkins_helpers.promotion.model import ImageRef, Setting
from jenkins_helpers.promotion.plan import EditPlan, SettingChange, literals_dotted
from jenkins_helpers.promotion.trailer import Provenance, Trailer

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
    # Where the image came from, or why that is unknown (provenance.py); None: no section.
    provenance: Provenance | str | None = None
    project_url: str | None = None  # the deployment project's web URL: links its commits
    # What Argo CD reports runs in the source environment (deployed.running_line).
    running: str | None = None


def render(c: Content, *, parts_only: bool = False) -> str:
    """The MR description: what moves, the diffs in brief, what stays, then the trailer.

    `parts_only`: one app's sections, headed by its name, for a group's description.
    """
    if parts_only:
        return "\n\n".join(
            [
                f"## {c.app} `{c.image.tag}`",
                *([f"{_cell(c.running, 300)}."] if c.running else []),
                _image_section(c),
                *_provenance_section(c),
                _app_layer_section(c),
                _kept_section(c),
            ]
        )
    parts = [
        f"Promotes **{c.app}** `{c.image.tag}` {route(c.trailer, c.build_url, c.project_url)}."
        + (f" It is {_cell(c.running, 300)}." if c.running else ""),
        _image_section(c),
        *_provenance_section(c),
        _app_layer_section(c),
        manifest_summary(c.env, c.changes),
        _kept_section(c),
    ]
    if c.warnings:
        parts.append(_warnings_section(c.warnings))
    parts.append(c.trailer.to_comment())
    return "\n\n".join(parts) + "\n"


def render_platform(
    env: str,
    diff: str,
    changes: Sequence[FileChange],
    trailer: Trailer,
    warnings: Sequence[str] = (),
    project_url: str | None = None,
) -> str:
    """The description of a platform-layer MR: the layer's diff, the manifests, the trailer."""
    what = "main's platform and app layers" if trailer.unit == "sync" else "the platform layer"
    parts = [
        f"Promotes {what} {route(trailer, None, project_url)}.",
        _diff_section("### Changes", diff),
        manifest_summary(env, changes),
    ]
    if warnings:
        parts.append(_warnings_section(warnings))
    parts.append(trailer.to_comment())
    return "\n\n".join(parts) + "\n"


def render_edit(plan: EditPlan, title: str, trailer: Trailer) -> str:
    """The description of a `set`, `rollback`, onboarding or removal MR: what changes."""
    rows = "\n".join(
        f"| `{s.path}` | {_before_cell(s)} | {_value_cell(s.after)} |" for s in plan.settings
    )
    table = f"| setting | before | after |\n|---|---|---|\n{rows}" if rows else ""
    cascade = (
        f"Merging it promotes {plan.app}'s new image onwards."
        if trailer.apps
        else "Merging it promotes nothing further."
    )
    parts = [
        f"{title.replace(naming.NO_PROMOTE_MARK, '').strip()}, in **{plan.env.name}**'s env.cue. "
        + cascade,
        f"### {plan.env.name}: {plan.app}\n\n{table}".rstrip(),
        *_entry_section(plan),
        manifest_summary(plan.env.name, plan.changes),
    ]
    if plan.warnings:
        parts.append(_warnings_section(plan.warnings))
    if not trailer.apps:
        parts.append(naming.NO_PROMOTE_MARK)
    parts.append(trailer.to_comment())
    return "\n\n".join(parts) + "\n"


def _entry_section(plan: EditPlan) -> list[str]:
    """A whole new env.cue entry (onboarding) as its lines read in env.cue: written by
    the same CUE writer the editor inserts it with, tabs and alignment as `cue fmt`'s."""
    whole = literals_dotted(())
    entry = next((s.after for s in plan.settings if s.path == whole), None)
    if not isinstance(entry, dict):
        return []
    label = literals.label_chain(("apps", plan.app, "env"))
    text = f"{label}: {literals.format_value(entry, 0)}"
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [f"The entry added to `{layout.ENV_FILE}`:\n\n{fence}cue\n{text}\n{fence}"]


def _before_cell(s: SettingChange) -> str:
    """The value before; one env.cue did not set is the effective one, and whence."""
    if s.before is None and s.inherited is not None:
        return f"{_code(_value(s.inherited))} (from {s.inherited_from})"
    return _value_cell(s.before)


def _value_cell(value: Any) -> str:
    return "-" if value is None else _code(_value(value))


def route(t: Trailer, build_url: str | None, project_url: str | None = None) -> str:
    """`from **dev** ([`1a2b3c4`](commit URL)) to **stage**`, or `to **dev** by Jenkins
    build URL`: the source commit linked in the deployment project when known."""
    source = ""
    if t.source_env:
        commit = f" ({_commit_link(project_url, t.source_commit)})" if t.source_commit else ""
        source = f"from **{t.source_env}**{commit} "
    skipped = f", skipping {', '.join(t.skipped)}" if t.skipped else ""
    build = f" by Jenkins build {build_url}" if build_url else ""  # GitLab links a bare URL
    return f"{source}to **{t.target_env}**{skipped}{build}"


def _provenance_section(c: Content) -> list[str]:
    """Where the image came from: each link from a trusted trailer, or why it is unknown."""
    found = c.provenance
    if found is None:
        return []
    head = "### Provenance"
    if isinstance(found, str):
        return [f"{head}\n\nProvenance unknown: {_cell(found, 300)}."]
    hops = ", ".join(
        f"[!{h.iid}]({h.url}) into {h.env}" for h in found.merge_requests if _safe(h.url)
    )
    rows = [
        ("Build", _link(found.build_url) if found.build_url else "unknown"),
        ("App commit", _commit_link(web_url(found.app_repo), found.app_commit)),
        ("App repository", _repository(found.app_repo)),
        ("Image digest", _code(c.image.digest) if c.image.digest else "not pinned"),
    ]
    if found.merge_requests:
        rows.append(("Merged", hops or "unknown"))
    return [f"{head}\n\n" + "\n".join(f"- {name}: {value}" for name, value in rows)]


def web_url(repo: str | None) -> str | None:
    """The web page of an app repository given by its http(s) clone URL (GitLab's is the
    clone URL without `.git`); None for a path or an SSH address, whose page is unknown."""
    if repo is None or not repo.startswith(("https://", "http://")) or not _safe(repo):
        return None
    return repo.rstrip("/").removesuffix(".git")


def _commit_link(project_url: str | None, sha: str | None) -> str:
    """`[`1a2b3c4d5e6f`](<project>/-/commit/<sha>)`: GitLab's commit page (the Commits
    API's `web_url`, docs.gitlab.com/api/commits); a code span without a project URL."""
    if not sha:
        return "unknown"
    short = f"`{_cell(sha, 40)[:12]}`"
    if project_url is None or not _safe(project_url) or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        return short
    return f"[{short}]({project_url.rstrip('/')}/-/commit/{sha})"


def _repository(repo: str | None) -> str:
    if repo is None:
        return "unknown"
    page = web_url(repo)
    return f"[{page}]({page})" if page else _code(repo)


def _link(url: str | None) -> str:
    """A Markdown link to `url` when nothing in it can break the link, else code."""
    return f"[{url}]({url})" if url and _safe(url) else _code(url or "")


def _safe(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not re.search(r"[\s()<>\[\]`|\\]", url)


def _warnings_section(warnings: Sequence[str]) -> str:
    return "### Warnings\n\n" + "\n".join(f"- {_cell(w, 300)}" for w in warnings)


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
    return _diff_section(f"### App layer (`{c.app_file}`)", c.app_layer_diff)


def _diff_section(head: str, diff: str) -> str:
    """A heading and a fenced `diff` block (or 'Unchanged.'), cut to MAX_DIFF_CHARS."""
    if not diff.strip():
        return f"{head}\n\nUnchanged."
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + "\n... (cut: see the merge request's changes)\n"
    fence = "`" * max(3, _longest_backtick_run(diff) + 1)
    return f"{head}\n\n{fence}diff\n{diff.rstrip()}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def manifest_summary(env: str, changes: Sequence[FileChange]) -> str:
    prefix = layout.env_manifests(env) + "/"
    manifests = [f for f in changes if f.path.startswith(prefix)]
    others = [f.path for f in changes if not f.path.startswith(prefix)]
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
