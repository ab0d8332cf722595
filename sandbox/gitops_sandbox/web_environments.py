"""The Environments pages: GitLab's Operate > Environments, read-only.

`/<project>/-/environments` lists each environment with its tier and last
deployment (the newest successful one, as the API's `last_deployment`);
`/<project>/-/environments/<id>` is one environment's deployment history, newest
first, each with its status, ref, commit and the merge requests GitLab linked to
it. The same token rule and escaping as the other pages (web_pages.py).
"""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, abort

from gitops_sandbox import deployments
from gitops_sandbox.context import services
from gitops_sandbox.errors import ApiError
from gitops_sandbox.web_html import page
from gitops_sandbox.web_pages import _project as project_page_target

bp = Blueprint("web_environments", __name__)


def _href(rec: dict[str, Any], tail: str) -> str:
    return html.escape(f"/{rec['path_with_namespace']}/-/{tail}")


def _link(rec: dict[str, Any], tail: str, text: str) -> str:
    return f'<a href="{_href(rec, tail)}">{html.escape(text)}</a>'


def _deployment_cell(rec: dict[str, Any], dep: dict[str, Any] | None) -> str:
    if dep is None:
        return "no deployment yet"
    return (
        f"#{dep['iid']} {_link(rec, 'commit/' + dep['sha'], dep['sha'][:8])} "
        f"on <code>{html.escape(dep['ref'])}</code> at {html.escape(dep['finished_at'] or '')}"
    )


@bp.get("/<path:path>/-/environments")
def environment_list(path: str) -> Response:
    """Every environment: name (its history), tier, state, last deployment."""
    rec = project_page_target(path)
    with services().state.read() as data:
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                _link(rec, f"environments/{env['id']}", env["name"]),
                html.escape(env["tier"]),
                html.escape(env["state"]),
                _deployment_cell(rec, deployments.last_deployment(data, env)),
            )
            for env in deployments.of_project(data, rec["id"])
        )
    head = "<tr><th>Environment</th><th>Tier</th><th>State</th><th>Last deployment</th></tr>"
    body = f"<table>{head}{rows}</table>" if rows else "<p>No environments yet.</p>"
    return page("Environments", rec, body)


@bp.get("/<path:path>/-/environments/<int:environment_id>")
def environment_history(path: str, environment_id: int) -> Response:
    """One environment's deployments, newest first, with the MRs each shipped."""
    rec = project_page_target(path)
    with services().state.read() as data:
        try:
            env = deployments.find_environment(data, rec["id"], environment_id)
        except ApiError:
            abort(404)
        history = [
            d
            for d in reversed(deployments.deployments_of(data, rec["id"]))
            if d["environment_id"] == env["id"]
        ]
        iids = {
            m["id"]: m["iid"]
            for m in data["merge_requests"].values()
            if m["project_id"] == rec["id"]
        }
    rows = "".join(
        "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            d["iid"],
            html.escape(d["status"]),
            _deployment_cell(rec, d),
            ", ".join(
                _link(rec, f"merge_requests/{iids[i]}", f"!{iids[i]}")
                for i in d["merge_request_ids"]
                if i in iids
            ),
        )
        for d in history
    )
    head = "<tr><th>Deployment</th><th>Status</th><th>Commit</th><th>Merge requests</th></tr>"
    back = _link(rec, "environments", "all environments")
    facts = f"<p>Tier: {html.escape(env['tier'])} · {back}</p>"
    body = facts + (f"<table>{head}{rows}</table>" if rows else "<p>No deployments yet.</p>")
    return page(env["name"], rec, body)
