"""The E1 chain in the sandbox: the stage and prod MRs link where their image came from.

A build of example-app (its repository cloned from the sandbox's GitLab, as Jenkins
checks it out) opens dev's MR; merging each MR lets the webhook open the next. Stage's
and prod's descriptions must link the Jenkins build, the upstream MRs and the app
commit on the app repository's pages (docs/PROMOTION.md, "Provenance").
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gitlab.v4.objects import ProjectMergeRequest

from gitops_sandbox import Sandbox
from jenkins_helpers import git
from jenkins_helpers.operations.from_build import promote_build
from jenkins_helpers.promotion.trailer import parse_trailer
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, seeded, serve_webhook

TOKEN = "provenance-test-token-5e2a"  # noqa: S105 - the sandbox's test credential
BUILD_URL = "https://jenkins.example.com/job/example-app/7"


def checkout(sb: Sandbox, into: Path) -> tuple[str, str]:
    """apps/example-app cloned over HTTP as a CI agent clones it: its web page and HEAD."""
    url = f"{sb.gitlab_url}/apps/example-app.git"
    git.clone(url, into, "main", git.auth_env(url, sb.token), ())
    return f"{sb.gitlab_url}/apps/example-app", git.source_of(into)[1] or ""


def test_stage_and_prod_mrs_link_the_build_the_upstream_mr_and_the_app_commit() -> None:
    with (
        seeded(TOKEN) as (sb, project, chain),
        tempfile.TemporaryDirectory() as tmp,
        serve_webhook(sb, Path(tmp) / "webhook") as hook,
    ):
        page, commit = checkout(sb, Path(tmp) / "example-app")
        dev = promote_build(
            app="example-app",
            image=EXAMPLE_IMAGE,
            tag="1.1.0",
            digest=None,
            app_repo=Path(tmp) / "example-app",
            env=None,
            project=project.path_with_namespace,
            gitlab_url=None,
            build_url=BUILD_URL,
        )
        assert dev.mr_iid is not None and dev.mr_url is not None
        commit_link = f"[`{commit[:12]}`]({page}/-/commit/{commit})"
        hops = [f"[!{dev.mr_iid}]({dev.mr_url}) into dev"]
        merging = dev.mr_iid
        for env in ("stage", "prod"):
            chain.merge(merging)
            mr = chain.wait_mr(env, chain.titled(f"Promote example-app 1.1.0 to {env}"))
            text = described(chain, mr)
            assert f"- Build: [{BUILD_URL}]({BUILD_URL})" in text
            assert f"- App commit: {commit_link}" in text
            assert f"- Merged: {', '.join(hops)}" in text
            trailer = parse_trailer(text)
            assert trailer is not None
            assert (trailer.build_url, trailer.app_commit) == (BUILD_URL, commit)
            hops.append(f"[!{mr.iid}]({mr.web_url}) into {env}")
            merging = mr.iid
        hook.wait_idle()


def described(chain: Chain, mr: ProjectMergeRequest) -> str:
    """The MR's description as GitLab's API gives it now."""
    return str(chain.project.mergerequests.get(mr.iid).description)
