"""The Argo CD client against the sandbox's stand-in: what a user sees of an Application,
and the errors a wrong token or a missing Application give, the token never shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitops_sandbox import Sandbox, seed_default
from jenkins_helpers.argocd import ArgoCDAccess, ArgoCDClient
from jenkins_helpers.errors import UserError

pytestmark = [pytest.mark.e2e]
TOKEN = "argocd-client-test-token-3f9a"  # noqa: S105 - the sandbox's test credential


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox.start(token=TOKEN) as sandbox:
        seed_default(sandbox)
        yield sandbox


def test_an_application_reads_as_argocd_reports_it(sb: Sandbox) -> None:
    client = ArgoCDClient(ArgoCDAccess(sb.argocd_url, sb.token))
    state = client.application("dev-example-app")
    assert state is not None and state.name == "dev-example-app"
    assert (state.sync_status, state.health) == ("Synced", "Healthy")
    assert state.revision and len(state.revision) == 40
    names = [a.name for a in client.applications()]
    assert "dev-example-app" in names and "prod-example-app" in names


def test_missing_application_with_project_is_none_without_it_refused(sb: Sandbox) -> None:
    assert ArgoCDClient(ArgoCDAccess(sb.argocd_url, sb.token, "default")).application("no") is None
    with pytest.raises(UserError) as refused:
        ArgoCDClient(ArgoCDAccess(sb.argocd_url, sb.token)).application("dev-nothing")
    assert "argocd.project" in (refused.value.hint or "")


def test_a_wrong_token_is_a_clear_error_without_the_token(sb: Sandbox) -> None:
    wrong = "not-the-right-token-123456"
    with pytest.raises(UserError) as refused:
        ArgoCDClient(ArgoCDAccess(sb.argocd_url, wrong)).application("dev-example-app")
    text = f"{refused.value.message} {refused.value.hint}"
    assert "rejected the token" in text and wrong not in text
