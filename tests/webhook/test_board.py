"""The status board at `GET /`, as a person's browser shows it: headless Chromium.

One seeded sandbox and one webhook (no job workers) for the module. Chromium
(Debian's, installed by `make test`) builds the DOM the assertions read, and takes
a screenshot whose path the test prints. It only ever talks to the webhook on
127.0.0.1: every other host name resolves to nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask

import webhook
from gitops_sandbox import DEPLOYMENTS, Sandbox
from jenkins_helpers.operations import edits
from tests.helpers.chain import HOOK_SECRET, Hook, seeded, serve_webhook
from tests.helpers.dom import parse
from webhook.board import BoardCache

TOKEN = "board-test-token-91f4"  # noqa: S105 - the sandbox's test credential
X = "\N{MULTIPLICATION SIGN}"  # before the replicas: 16.4 x1
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@dataclass(frozen=True)
class Scenario:
    sandbox: Sandbox
    hook: Hook
    hotfix: int
    build: int
    hostile: int


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """prod hotfixed (merged), a build of example-app open into dev, and a person's MR
    into stage whose title tries to inject HTML."""
    with seeded(TOKEN) as (sb, project, chain):
        hotfix = edits.set_values(
            env="prod",
            app="example-app",
            image_tag="1.0.1-hotfix1",
            promote=False,
            project=DEPLOYMENTS,
            gitlab_url=None,
        ).mr_iid
        assert hotfix is not None
        chain.merge(hotfix)
        build = chain.build("example-app", "1.1.0", chain.app_repo("example-app")).mr_iid
        assert build is not None
        project.branches.create({"branch": "hand-made", "ref": "stage"})
        project.commits.create(
            {
                "branch": "hand-made",
                "commit_message": "A note",
                "actions": [{"action": "create", "file_path": "NOTE.md", "content": "note\n"}],
            }
        )
        hostile = project.mergerequests.create(
            {
                "source_branch": "hand-made",
                "target_branch": "stage",
                "title": HOSTILE,
                "labels": "gitops,app::example-app",
            }
        ).iid
        with serve_webhook(sb, tmp_path_factory.mktemp("webhook"), GITOPS_WORKERS=0) as hook:
            yield Scenario(sb, hook, hotfix, build, hostile)


@pytest.fixture
def fresh(scenario: Scenario) -> Iterator[Flask]:
    """The webhook app with an empty board cache (read from GitLab on the next request)."""
    gitops = scenario.hook.app.extensions["gitops"]
    gitops["board"] = BoardCache()
    yield scenario.hook.app
    gitops["board"] = BoardCache()


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Debian's chromium, headless, with a throw-away profile; fails the test without it."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="board-chromium-") as profile:
        done = subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def mr_url(sb: Sandbox, iid: int) -> str:
    return f"{sb.gitlab_url}/{DEPLOYMENTS}/-/merge_requests/{iid}"


def test_the_board_in_a_browser_shows_tags_pending_mrs_and_divergences(
    scenario: Scenario, fresh: Flask
) -> None:
    s, sb = scenario, scenario.sandbox
    dom = parse(chromium("--dump-dom", f"{s.hook.url}/").stdout)
    assert dom.one(id="project").text == DEPLOYMENTS
    assert [li.text for li in dom.one("ol", id="order").all("li")] == ["dev", "stage", "prod"]
    # No deployment recorded yet (no job ran): each heading links to GitLab's Environments.
    headings = [
        th.one("a") for th in dom.one("table", id="board").all("th") if "data-env" in th.attrs
    ]
    assert {a.attrs["href"] for a in headings} == {f"{sb.gitlab_url}/{DEPLOYMENTS}/-/environments"}
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dom.one(id="refreshed").one("time").text
    )
    cells = {
        (row.attrs["data-app"], td.attrs["data-env"]): td
        for row in dom.one("table", id="board").all("tr")
        if "data-app" in row.attrs
        for td in row.all("td")
    }
    assert {key: td.text for key, td in cells.items()} == {
        ("example-app", "dev"): f"1.0.0 {X}1 pending !{s.build}: 1.1.0",
        ("example-app", "stage"): f"1.0.0 {X}2 pending !{s.hostile}",
        ("example-app", "prod"): f"1.0.1-hotfix1 {X}3 ahead: hotfix !{s.hotfix}",
        ("postgres", "dev"): f"16.4 {X}1",
        ("postgres", "stage"): f"16.4 {X}1",
        ("postgres", "prod"): f"16.4 {X}1",
    }
    badge = cells["example-app", "prod"].one("span", **{"class": "badge ahead"})
    assert badge.attrs["title"] == f"prod ahead of stage: hotfix !{s.hotfix}"
    assert badge.one("a").attrs["href"] == mr_url(sb, s.hotfix)
    assert cells["example-app", "dev"].one("a").attrs["href"] == mr_url(sb, s.build)
    pending = {li.attrs["data-iid"]: li.text for li in dom.one(id="pending").all("li")}
    assert pending == {
        str(s.build): f"!{s.build} into dev: Promote example-app 1.1.0 to dev",
        str(s.hostile): f"!{s.hostile} into stage: {HOSTILE}",
    }
    assert [li.text for li in dom.one(id="divergences").all("li")] == [
        f"example-app: prod ahead of stage: hotfix !{s.hotfix}"
    ]


def test_the_board_escapes_text_runs_no_script_and_shows_no_secret(
    scenario: Scenario, fresh: Flask
) -> None:
    sb = scenario.sandbox
    html = chromium("--dump-dom", f"{scenario.hook.url}/").stdout
    dom = parse(html)
    assert not dom.all("script") and not dom.all("form") and not dom.all("iframe")
    assert "bold" not in [b.text for b in dom.all("b")], "the title's <b> is text, not markup"
    assert HOSTILE in dom.one("li", data_iid=str(scenario.hostile)).text
    for secret in (sb.token, HOOK_SECRET):
        assert secret not in html
    links = [a.attrs["href"] for a in dom.all("a")]
    environments = re.escape(f"{sb.gitlab_url}/{DEPLOYMENTS}/-/environments") + r"(/\d+)?"
    assert all(
        href == "status.json"
        or re.fullmatch(re.escape(mr_url(sb, 0)[:-1]) + r"\d+", href)
        or re.fullmatch(environments, href)
        for href in links
    ), links
    without_links = re.sub(r'href="[^"]*"', "", html)
    assert sb.gitlab_url not in without_links, "GitLab's URL appears only in MR links"


def test_a_screenshot_of_the_board(
    scenario: Scenario, fresh: Flask, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shot = tmp_path / "status-board.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,900", f"{scenario.hook.url}/")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    with capsys.disabled():
        print(f"\nscreenshot of the status board: {shot}")


def test_status_json_is_the_same_board_and_the_page_is_read_only(
    scenario: Scenario, fresh: Flask
) -> None:
    url = scenario.hook.url
    answer = requests.get(f"{url}/status.json", timeout=60)
    assert answer.status_code == 200
    data = answer.json()
    assert data["refresh_failed_at"] is None
    tags = {r["app"]: [c["tag"] for c in r["cells"]] for r in data["rows"]}
    assert tags == {
        "example-app": ["1.0.0", "1.0.0", "1.0.1-hotfix1"],
        "postgres": ["16.4", "16.4", "16.4"],
    }
    page = requests.get(f"{url}/", timeout=60)
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert data["generated_at"] in page.text, "the page and the JSON share one read"
    for method in ("post", "put", "delete"):
        assert requests.request(method, f"{url}/", timeout=10).status_code == 405


def test_a_refresh_storm_reads_gitlab_once(scenario: Scenario, fresh: Flask) -> None:
    """Ten people open the board at once: one read of GitLab (five MR listings: the open
    MRs, then the merged ones of main, dev, stage and prod), one board for all."""
    faults = scenario.sandbox.services.faults
    counter = faults.add(
        {"method": "GET", "route_regex": r"/merge_requests$", "delay": 0.05, "count": None}
    )
    answers: list[requests.Response] = []

    def load() -> None:
        answers.append(requests.get(f"{scenario.hook.url}/status.json", timeout=120))

    try:
        threads = [threading.Thread(target=load) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        hits = next(f["hits"] for f in faults.list() if f["id"] == counter["id"])
    finally:
        faults.clear()
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.json()["generated_at"] for a in answers}) == 1
    assert hits == 5


def test_when_gitlab_fails_the_last_board_is_shown_with_a_note(
    scenario: Scenario, fresh: Flask
) -> None:
    fresh.extensions["gitops"]["board"] = BoardCache(seconds=0)  # read on every request
    url = scenario.hook.url
    first = requests.get(f"{url}/status.json", timeout=60).json()
    scenario.sandbox.services.faults.add(
        {"method": "GET", "path_prefix": "/api/v4/projects/", "status": 403, "count": 1}
    )
    page = requests.get(f"{url}/", timeout=60)
    assert page.status_code == 200
    dom = parse(page.text)
    note = dom.one(id="refresh-failed").text
    assert note.startswith("GitLab could not be read at ")
    assert note.endswith(f"this board is from {first['generated_at']}.")
    assert dom.one("table", id="board").all("tr", data_app="example-app")


def test_without_gitlab_the_page_says_so_without_the_reason(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A token GitLab rejects: 503, a note; neither GitLab's URL nor the token on the page."""
    app = webhook.create_app(
        {
            "GITOPS_WEBHOOK_SECRET": HOOK_SECRET,
            "GITLAB_URL": scenario.sandbox.gitlab_url,
            "GITLAB_TOKEN": "not-the-sandbox-token",
            "GITOPS_DATA_DIR": str(tmp_path / "data"),
            "GITOPS_WORKERS": 0,
        }
    )
    try:
        answer = app.test_client().get("/")
        json_answer = app.test_client().get("/status.json")
    finally:
        webhook.shutdown(app)
    assert answer.status_code == 503
    text = answer.get_data(as_text=True)
    assert "GitLab could not be read" in text
    assert scenario.sandbox.gitlab_url not in text and "not-the-sandbox-token" not in text
    assert (json_answer.status_code, json_answer.get_json()["refresh_failed_at"] is not None) == (
        503,
        True,
    )
