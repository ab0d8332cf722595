"""What the GitLab client writes (MR titles, descriptions, notes) carries no known secret.

The one choke point between the tool and GitLab's text: whatever a caller hands it,
the sandbox (read back through python-gitlab, as a reviewer sees it) never gets a
secret, in any of its forms.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import gitlab as python_gitlab
import pytest

from gitops_sandbox import Sandbox
from jenkins_helpers.gitlab import Access, GitLab
from tests.helpers.apprepo import app_cue, make_app_repo

TOKEN = "gitlab-secrets-test_token.4e1"  # noqa: S105 - the sandbox's test credential
OTHER = "jenkins-api-token-0a9f8e7d6c"  # another known secret, as JENKINS_TOKEN
PROJECT = "apps/masked"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    source = make_app_repo(tmp_path_factory.mktemp("masked") / "repo", app_cue("m", "r/m"))
    subprocess.run(["git", "branch", "feature"], cwd=source, check=True)
    with Sandbox.start(token=TOKEN) as sb:
        sb.create_project(PROJECT, source_dir=source)
        yield sb


@pytest.fixture
def known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("JENKINS_TOKEN", OTHER)


def forms(secret: str) -> list[str]:
    return [
        secret,
        quote(secret.replace("-", "%2D"), safe="%"),
        base64.b64encode(f"oauth2:{secret}".encode()).decode(),
        base64.b64encode(f"ab:{secret}".encode()).decode(),
    ]


def test_titles_descriptions_and_notes_are_masked(sandbox: Sandbox, known_secrets: None) -> None:
    leaks = " / ".join(form for s in (TOKEN, OTHER) for form in forms(s))
    with GitLab(Access(sandbox.gitlab_url, os.environ["GITLAB_TOKEN"])) as gl:
        mr, _ = gl.create_merge_request(
            PROJECT,
            source="feature",
            target="main",
            title=f"Promote {TOKEN}",
            description=f"origin {leaks}",
            labels=["promotion"],
        )
        gl.update_merge_request(
            PROJECT, mr.iid, title=f"Promote {OTHER}", description=f"again {leaks}", labels=[]
        )
        gl.close_merge_request(PROJECT, mr.iid, f"Superseded; Basic {forms(TOKEN)[2]}")
    with python_gitlab.Gitlab(sandbox.gitlab_url, private_token=TOKEN) as reader:
        seen = reader.projects.get(PROJECT).mergerequests.get(mr.iid)
        notes = [n.body for n in seen.notes.list(get_all=True)]
    assert seen.title == "Promote *****"
    assert seen.description.startswith("again *****")
    assert notes == ["Superseded; Basic *****"]
    for text in (seen.title, seen.description, *notes):
        for secret in (TOKEN, OTHER):
            for form in forms(secret):
                assert form not in text
