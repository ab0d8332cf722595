"""HTML building blocks of the sandbox's pages: the frame, diffs, commit lists.

Everything interpolated is escaped here; callers pass text, not markup, except
the body they built from these same escaping helpers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from flask import Response

from gitops_sandbox.gitrepo import Commit

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
code, pre { font-family: monospace; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2em .5em; }
.label { background: #6699cc; color: #fff; border-radius: .8em; padding: .1em .6em; }
.state { font-weight: bold; } .opened { color: #1f7a1f; } .merged { color: #5b3fb5; }
.closed { color: #b33; } .add { background: #e6ffed; } .del { background: #ffeef0; }
.hunk { color: #777; } nav { margin-bottom: 1em; }
"""


def page(title: str, rec: dict[str, Any], body: str) -> Response:
    """A full page: the project's breadcrumb, the title, the body."""
    home = html.escape(f"/{rec['path_with_namespace']}")
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · {html.escape(rec["path_with_namespace"])} · GitLab sandbox</title>
<style>{_STYLE}</style></head>
<body><nav>GitLab sandbox / <a href="{home}">{html.escape(rec["path_with_namespace"])}</a></nav>
<h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
    return Response(text, mimetype="text/html")


def diff_html(diffs: Sequence[dict[str, Any]]) -> str:
    """GitLab diff objects as a list of files, each with its coloured patch."""
    if not diffs:
        return "<p>No changes.</p>"
    parts = []
    for d in diffs:
        name = str(d["new_path"])
        if d.get("renamed_file"):
            name = f"{d['old_path']} → {d['new_path']}"
        kind = "new file" if d.get("new_file") else "deleted" if d.get("deleted_file") else ""
        lines = []
        for line in str(d.get("diff") or "").splitlines():
            cls = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
            lines.append(
                f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line)
            )
        patch = "\n".join(lines) or ("(too large to show)" if d.get("too_large") else "(no text)")
        parts.append(f"<h3><code>{html.escape(name)}</code> {kind}</h3><pre>{patch}</pre>")
    return "".join(parts)


def commit_list(rec: dict[str, Any], commits: Sequence[Commit]) -> str:
    """Commits as links to their pages, newest first."""
    items = []
    for c in commits:
        href = html.escape(f"/{rec['path_with_namespace']}/-/commit/{c.sha}")
        title = html.escape(c.message.split("\n", 1)[0])
        items.append(f'<li><a href="{href}"><code>{c.sha[:8]}</code></a> {title}</li>')
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No commits.</p>"


# GitLab's tabs over a project's merge requests, in its order, with its empty-state words.
_TABS = (("opened", "Open"), ("merged", "Merged"), ("closed", "Closed"), ("all", "All"))


def state_tabs(rec: dict[str, Any], mrs: Sequence[dict[str, Any]], state: str) -> str:
    """The Open / Merged / Closed / All tabs with their counts; the current one unlinked."""
    base = f"/{rec['path_with_namespace']}/-/merge_requests"
    tabs = []
    for key, name in _TABS:
        count = sum(key in ("all", m["state"]) for m in mrs)
        label = f"{name} {count}"
        if key == state or (key == "all" and state not in dict(_TABS)):
            tabs.append(f'<strong class="tab">{label}</strong>')
        else:
            tabs.append(f'<a class="tab" href="{html.escape(f"{base}?state={key}")}">{label}</a>')
    return f'<nav class="tabs">{" · ".join(tabs)}</nav>'


def mr_table(rec: dict[str, Any], mrs: Sequence[dict[str, Any]], state: str = "all") -> str:
    """Merge requests as rows linking to their pages, or GitLab's "There are no ..." line."""
    if not mrs:
        which = {"opened": "open ", "merged": "merged ", "closed": "closed "}.get(state, "")
        return f"<p>There are no {which}merge requests</p>"
    base = f"/{rec['path_with_namespace']}/-/merge_requests"
    rows = "".join(
        '<tr><td><a href="{}">!{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
        "<td><code>{}</code> into <code>{}</code></td><td>{}</td></tr>".format(
            html.escape(f"{base}/{m['iid']}"),
            m["iid"],
            html.escape(m["title"]),
            html.escape(m["state"]),
            html.escape(", ".join(sorted(m["labels"]))),
            html.escape(m["source_branch"]),
            html.escape(m["target_branch"]),
            html.escape(m["created_at"]),
        )
        for m in mrs
    )
    head = "<tr><th>MR</th><th>Title</th><th>State</th><th>Labels</th><th>Branches</th>"
    return f'<table class="merge-requests">{head}<th>Created</th></tr>{rows}</table>'
