"""The web_url links the API hands out open read-only HTML pages, with users' text escaped."""

from __future__ import annotations

import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox

DESCRIPTION = """Promotes **example-app** `1.0.1` to **dev**.

| | before | after |
|---|---|---|
| tag | `1.0.0` | `1.0.1` |

<script>alert("description")</script>
<!-- gitops-promotion: {"app": "example-app"} -->
"""


def _get(sandbox: Sandbox, url: str) -> requests.Response:
    return requests.get(url, auth=("root", sandbox.token), timeout=10)


def test_merge_request_page_shows_title_labels_description_and_diff(
    sandbox: Sandbox, project: Project
) -> None:
    project.commits.create(
        {
            "branch": "promote/web",
            "start_branch": "dev",
            "commit_message": "Bump the tag",
            "actions": [
                {"action": "update", "file_path": "envs/dev/env.cue", "content": "tag: 2\n"}
            ],
        }
    )
    mr = project.mergerequests.create(
        {
            "source_branch": "promote/web",
            "target_branch": "dev",
            "title": "Promote <b>example-app</b> 1.0.1",
            "description": DESCRIPTION,
            "labels": ["promotion", "env::dev"],
        }
    )
    page = _get(sandbox, mr.web_url)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "Promote &lt;b&gt;example-app&lt;/b&gt; 1.0.1" in text
    assert "<strong>example-app</strong>" in text and "<td><code>1.0.1</code></td>" in text
    assert '<span class="label">env::dev</span>' in text
    assert "envs/dev/env.cue" in text and "+tag: 2" in text and "-replicas: 1" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "gitops-promotion" not in text  # HTML comments stay hidden, as on GitLab
    assert "Bump the tag" in text

    home = _get(sandbox, project.web_url)
    assert home.status_code == 200
    assert f'href="/{project.path_with_namespace}/-/merge_requests/{mr.iid}"' in home.text
    commit = project.commits.get(mr.sha)
    assert "Bump the tag" in _get(sandbox, commit.web_url).text


def test_pages_ask_for_the_token(sandbox: Sandbox, project: Project) -> None:
    anonymous = requests.get(project.web_url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert _get(sandbox, f"{sandbox.url}/platform/nope").status_code == 404
    api = requests.get(
        f"{sandbox.url}/api/v4/nothing-here", headers={"PRIVATE-TOKEN": sandbox.token}, timeout=10
    )
    assert (api.status_code, api.json()) == (404, {"error": "404 Not Found"})
