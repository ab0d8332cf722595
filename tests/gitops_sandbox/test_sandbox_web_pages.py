"""The web_url links the API hands out open read-only HTML pages, with users' text escaped:
a project, its merge request list (GitLab's state tabs), a merge request whose description
shows the HTML GitLab's Markdown allows (and nothing else), a commit."""

from __future__ import annotations

import requests
from gitlab.v4.objects import Project, ProjectMergeRequest

from gitops_sandbox import Sandbox
from tests.helpers.dom import parse

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


def _mr(project: Project, branch: str, title: str) -> ProjectMergeRequest:
    """An MR from a new branch off dev with one change."""
    project.commits.create(
        {
            "branch": branch,
            "start_branch": "dev",
            "commit_message": title,
            "actions": [{"action": "create", "file_path": f"{branch}.txt", "content": "x\n"}],
        }
    )
    return project.mergerequests.create(
        {"source_branch": branch, "target_branch": "dev", "title": title}
    )


def _rows(page: requests.Response) -> list[str]:
    """The MR list's rows as their link texts (!iid), top to bottom."""
    table = parse(page.text).all("table", **{"class": "merge-requests"})
    return [a.text for t in table for a in t.all("a")]


def test_merge_request_list_has_gitlabs_state_tabs(sandbox: Sandbox, project: Project) -> None:
    opened, merged, closed = (_mr(project, f"b{i}", f"MR {i}") for i in range(3))
    merged.merge()
    closed.state_event = "close"
    closed.save()
    url = f"{project.web_url}/-/merge_requests"  # the README's MR list

    default = _get(sandbox, url)
    assert default.status_code == 200
    assert _rows(default) == [f"!{opened.iid}"]
    tabs = parse(default.text).one("nav", **{"class": "tabs"}).text
    assert tabs == "Open 1 · Merged 1 · Closed 1 · All 3"
    for state, iids in (
        ("opened", [opened.iid]),
        ("merged", [merged.iid]),
        ("closed", [closed.iid]),
        ("all", [closed.iid, merged.iid, opened.iid]),  # newest first
        ("anything", [closed.iid, merged.iid, opened.iid]),  # GitLab's finder: all
    ):
        assert _rows(_get(sandbox, f"{url}?state={state}")) == [f"!{i}" for i in iids], state
    row = parse(default.text).one("a", href=f"/{project.path_with_namespace}/-/merge_requests/1")
    assert row.text == f"!{opened.iid}"
    assert _get(sandbox, f"{sandbox.url}{row.attrs['href']}").status_code == 200

    closed.state_event = "reopen"
    closed.save()
    opened.state_event = "close"
    opened.save()
    assert _rows(_get(sandbox, url)) == [f"!{closed.iid}"]  # reopened: open again
    assert _rows(_get(sandbox, f"{url}?state=closed")) == [f"!{opened.iid}"]


def test_merge_request_list_when_empty_and_without_the_token(
    sandbox: Sandbox, project: Project
) -> None:
    url = f"{project.web_url}/-/merge_requests"
    page = _get(sandbox, url)
    assert page.status_code == 200 and "There are no open merge requests" in page.text
    assert requests.get(url, timeout=10).status_code == 401
    assert _get(sandbox, f"{sandbox.url}/platform/nope/-/merge_requests").status_code == 404


MANIFESTS = """### Manifests

<details><summary>1 manifest file(s): 1 added (+3 -0)</summary>

| file | change |
|---|---|
| `manifests/dev/a.yaml` | added |

</details>

Also changed: `env.cue`.

Commits: [`1a2b3c4d5e6f`](http://gitlab.example/p/-/commit/1a2b3c4d5e6f), `[not](http://a.link)`.
"""


def test_description_renders_details_and_summary_as_gitlab_does(
    sandbox: Sandbox, project: Project
) -> None:
    mr = _mr(project, "details", "Details")
    mr.description = MANIFESTS
    mr.save()
    section = parse(_get(sandbox, mr.web_url).text).one("section", **{"class": "description"})
    details = section.one("details")
    assert details.one("summary").text == "1 manifest file(s): 1 added (+3 -0)"
    assert details.all("td")[0].text == "manifests/dev/a.yaml"  # the table inside, folded
    assert "Also changed: env.cue." in section.all("p")[0].text  # after </details>, outside
    link = section.one("a")  # the commit links the tool writes: code as a link's text
    assert (link.attrs["href"], link.one("code").text) == (
        "http://gitlab.example/p/-/commit/1a2b3c4d5e6f",
        "1a2b3c4d5e6f",
    )


HOSTILE = """<details open onclick="alert(1)">a</details>
<summary onmouseover=alert(2)>b</summary>
<img src=x onerror=alert(3)> <a href="javascript:alert(4)">c</a> <DETAILS/onload=alert(5)>
<script>alert(6)</script> <iframe src="http://x"></iframe> <style>*{}</style>
[link](javascript:alert(7)) [ok](http://x"onclick="alert(8))
</section></body><details><b>never closed
"""


def test_description_html_never_carries_scripts_or_attributes(
    sandbox: Sandbox, project: Project
) -> None:
    mr = _mr(project, "hostile", "Hostile")
    mr.description = HOSTILE
    mr.save()
    text = _get(sandbox, mr.web_url).text
    section = parse(text).one("section", **{"class": "description"})
    for tag in ("script", "img", "iframe", "style", "summary"):
        assert section.all(tag) == [], tag
    [link] = section.all("a")  # Markdown's http(s) link, its quotes escaped
    assert link.attrs == {"href": 'http://x"onclick="alert(8', "rel": "nofollow noreferrer"}
    assert all(not n.attrs for n in section.all() if n is not link), "no user attribute"
    assert "&lt;script&gt;" in text and "<script" not in text
    # The user's unclosed tags end inside the description; the page goes on after it.
    assert [n.tag for n in section.all() if n.tag in ("details", "b")] == ["details", "b"]
    assert text.index("</b></details>") < text.index("</section>") < text.index("<h2>Commits")
    assert text.count("</body>") == 1 and "&lt;/section&gt;&lt;/body&gt;" in text
