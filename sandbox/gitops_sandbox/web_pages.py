"""Read-only HTML pages behind the `web_url`s the API and webhooks hand out.

`gitops-helper promote` prints a merge request's `web_url`; a person clicks it.
So the sandbox serves a page for a project, its merge requests (GitLab's list,
by state), a merge request (title, state, labels, the description rendered from
Markdown, the diff), a commit and a branch's files. Pages need a user's token like
everything else (HTTP basic auth, any user name, the token as password, as for
git), and every value from users is escaped (`mdrender`, `html.escape`).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, request

from gitops_sandbox import deployments, gitdiff, gitrepo, mergeability, projects
from gitops_sandbox.api_util import presented_token, token_valid
from gitops_sandbox.context import services
from gitops_sandbox.mdrender import render
from gitops_sandbox.web_html import commit_list, diff_html, mr_table, page, state_tabs

bp = Blueprint("web", __name__)
RESERVED = ("api/", "-/", "jenkins")  # not project paths: never answered here


def _project(path: str) -> dict[str, Any]:
    """The project a page is about, after the token check (401 asks for it)."""
    if path.startswith(RESERVED):
        abort(404)
    if not token_valid(presented_token()):
        abort(
            Response(
                "Sign in with any user name and the sandbox token as password.\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="GitLab sandbox"'},
            )
        )
    with services().state.read() as data:
        rec = projects.find(data, path)
    if rec is None:
        abort(404)
    return rec


def _link(rec: dict[str, Any], tail: str, text: str) -> str:
    href = html.escape(f"/{rec['path_with_namespace']}/-/{tail}")
    return f'<a href="{href}">{html.escape(text)}</a>'


def _merge_requests(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The project's merge requests, newest first (GitLab's default sort, created date)."""
    with services().state.read() as data:
        mrs = [dict(m) for m in data["merge_requests"].values() if m["project_id"] == rec["id"]]
    return sorted(mrs, key=lambda m: (m["created_at"], m["iid"]), reverse=True)


@bp.get("/<path:path>/-/merge_requests")
def merge_request_list(path: str) -> Response:
    """GitLab's merge request list: Open (the default), Merged, Closed and All tabs.

    `?state=` as GitLab's IssuableFinder#by_state reads it (app/finders/issuable_finder.rb):
    opened, merged, closed; `all` and any other value list every merge request."""
    rec = _project(path)
    mrs = _merge_requests(rec)
    state = request.args.get("state", "opened")
    shown = [m for m in mrs if state not in ("opened", "merged", "closed") or m["state"] == state]
    body = state_tabs(rec, mrs, state) + mr_table(rec, shown, state)
    return page("Merge requests", rec, body)


@bp.get("/<path:path>/-/merge_requests/<int:iid>")
def merge_request(path: str, iid: int) -> Response:
    """A merge request: title, state, branches, labels, description, commits, diff."""
    svc = services()
    rec = _project(path)
    with svc.state.read() as data:
        found = [
            m
            for m in data["merge_requests"].values()
            if m["project_id"] == rec["id"] and m["iid"] == iid
        ]
        if not found:
            abort(404)
        mr = dict(found[0])
    status = mergeability.live(svc, rec, mr)
    labels = "".join(f'<span class="label">{html.escape(t)}</span>' for t in sorted(mr["labels"]))
    merged = mr.get("merge_commit_sha")
    facts = [
        f'<span class="state {html.escape(mr["state"])}">{html.escape(mr["state"])}</span>',
        f"!{iid}: <code>{html.escape(mr['source_branch'])}</code> into "
        f"<code>{html.escape(mr['target_branch'])}</code>",
        f"merge status: {html.escape(status['detailed_merge_status'])}",
    ]
    if merged:
        facts.append("merge commit " + _link(rec, f"commit/{merged}", merged[:8]))
    body = [
        f"<p>{' · '.join(facts)}</p>",
        f'<p class="labels">{labels}</p>' if labels else "",
        f'<section class="description">{render(mr["description"])}</section>',
        "<h2>Commits</h2>",
        commit_list(rec, mergeability.commits(svc, rec, mr)),
        "<h2>Changes</h2>",
        diff_html(mergeability.diffs(svc, rec, mr)),
    ]
    return page(mr["title"], rec, "".join(body))


def _at(path: str, ref: str) -> tuple[dict[str, Any], Path, str]:
    """The project, its repository and the commit `ref` names (404 if none)."""
    rec = _project(path)
    repo = services().repo_path(rec)
    sha = gitrepo.resolve(repo, ref)
    if sha is None:
        abort(404)
    return rec, repo, sha


@bp.get("/<path:path>/-/commit/<sha>")
def commit(path: str, sha: str) -> Response:
    """A commit: message, author, parents, diff against the first parent."""
    rec, repo, resolved = _at(path, sha)
    c = gitrepo.log(repo, [resolved], max_count=1)[0]
    parents = ", ".join(_link(rec, f"commit/{p}", p[:8]) for p in c.parents) or "none"
    body = (
        f"<p><code>{c.sha}</code> by {html.escape(c.author_name)} "
        f"&lt;{html.escape(c.author_email)}&gt; at {html.escape(c.authored_date)}; "
        f"parents: {parents}</p>"
        f"<pre>{html.escape(c.message)}</pre>"
        + diff_html(gitdiff.diff(repo, c.parents[0] if c.parents else gitrepo.EMPTY_TREE, c.sha))
    )
    return page(c.message.split("\n", 1)[0], rec, body)


@bp.get("/<path:path>/-/tree/<path:ref>")
def tree(path: str, ref: str) -> Response:
    """The files of a branch (or any ref)."""
    rec, repo, sha = _at(path, ref)
    entries = [e for e in gitrepo.ls_tree(repo, sha, "", True) if e["type"] == "blob"]
    items = "".join(f"<li><code>{html.escape(e['path'])}</code></li>" for e in entries)
    head = f"<p>{html.escape(ref)} at {_link(rec, f'commit/{sha}', sha[:8])}</p>"
    return page(f"{rec['name']}: {ref}", rec, f"{head}<ul>{items}</ul>")


@bp.get("/<path:path>")
def project(path: str) -> Response:
    """A project: description, clone URL, branches, merge requests, README."""
    svc = services()
    rec = _project(path)
    repo = svc.repo_path(rec)
    heads = gitrepo.branches(repo)
    mrs = _merge_requests(rec)
    with svc.state.read() as data:
        protected = {name for name in heads if projects.is_protected(data, rec["id"], name)}
        environments = _environment_items(rec, data)
    branch_rows = "".join(
        f"<tr><td>{_link(rec, f'tree/{name}', name)}</td>"
        f"<td>{'protected' if name in protected else ''}</td>"
        f"<td>{_link(rec, f'commit/{sha}', sha[:8])}</td></tr>"
        for name, sha in sorted(heads.items())
    )
    readme = ""
    default = heads.get(rec["default_branch"])
    found = gitrepo.read_file(repo, default, "README.md") if default else None
    if found:
        text = render(found[0].decode(errors="replace"))
        readme = f'<h2>README.md</h2><section class="readme">{text}</section>'
    clone = html.escape(f"{svc.base_url}/{rec['path_with_namespace']}.git")
    body = (
        f"<p>{html.escape(rec.get('description') or '')}</p>"
        f"<p>Clone: <code>{clone}</code></p>"
        f"<h2>Branches</h2><table>{branch_rows}</table>"
        f"<h2>{_link(rec, 'environments', 'Environments')}</h2>"
        f"{f'<ul>{environments}</ul>' if environments else '<p>No environments yet.</p>'}"
        f"<h2>Merge requests</h2><p>{_link(rec, 'merge_requests', 'Open merge requests')} · "
        f"{_link(rec, 'merge_requests?state=all', 'All')}</p>{mr_table(rec, mrs)}{readme}"
    )
    return page(rec["name"], rec, body)


def _environment_items(rec: dict[str, Any], data: dict[str, Any]) -> str:
    """Each environment, linked to its history, with the commit it last deployed."""
    items = []
    for env in deployments.of_project(data, rec["id"]):
        last = deployments.last_deployment(data, env)
        shipped = _link(rec, f"commit/{last['sha']}", last["sha"][:8]) if last else "-"
        name = _link(rec, f"environments/{env['id']}", env["name"])
        items.append(f"<li>{name}: {shipped}</li>")
    return "".join(items)
