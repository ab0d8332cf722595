"""The sandbox's Argo CD, driven with `requests` as a curl user or the argocd CLI's REST
calls drive argocd-server (docs/SANDBOX.md, "Argo CD").

Sources: Argo CD's API docs (docs/developer-guide/api-docs.md: Bearer tokens, the
`project` parameter and 403 for a missing app), server/application/application.proto
(routes and query fields), server/application/application.go (List, Get, Sync,
getAppEnforceRBAC), pkg/apis/application/v1alpha1/types.go (the status fields and
their enum values), util/rbac/rbac.go (EnforceErr's message), operator-manual/rbac.md
(role:readonly), grpc-gateway v1's error body. One sandbox for the module (seeded by
`gitops-helper init-repo`, as users seed theirs): each test works on its own
Applications, so the order does not matter.
"""

from __future__ import annotations

import calendar
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default

DELAY = 1.0  # argocd_sync_delay: long enough to see OutOfSync on a busy machine
APPS = [f"{env}-{app}" for env in ("dev", "prod", "stage") for app in ("example-app", "postgres")]
ONBOARDED = "stage-cache"  # appears in the onboarding test
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(
        state_dir=tmp_path_factory.mktemp("argocd") / "state", argocd_sync_delay=DELAY
    ) as sandbox:
        seed_default(sandbox)
        yield sandbox


@pytest.fixture(autouse=True)
def _no_faults_left(sb: Sandbox) -> Iterator[None]:
    yield
    sb.clear_argocd_faults()


@pytest.fixture(scope="module")
def project(sb: Sandbox) -> Iterator[Project]:
    with gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl:
        yield gl.projects.get(DEPLOYMENTS)


def api(sb: Sandbox, path: str, token: str | None = "", **kw: Any) -> requests.Response:
    """A call to Argo CD's API with `Authorization: Bearer` (the admin's token by default)."""
    token = sb.token if token == "" else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    method = "POST" if "json" in kw else "GET"
    url = f"{sb.argocd_url}/api/v1/applications{path}"
    return requests.request(method, url, headers=headers, timeout=30, **kw)


def app(sb: Sandbox, name: str) -> dict[str, Any]:
    got = api(sb, f"/{name}")
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def names(sb: Sandbox, **query: Any) -> list[str]:
    got = api(sb, "", params=query)
    assert got.status_code == 200, got.text
    return [a["metadata"]["name"] for a in got.json()["items"]]


def wait_for(check: Callable[[], dict[str, Any]], until: Callable[[dict[str, Any]], bool]) -> Any:
    """Poll `check` until its answer satisfies `until` (10 s at most); the answer."""
    deadline = time.monotonic() + 10
    while not until(got := check()):
        assert time.monotonic() < deadline, got["status"]
        time.sleep(0.1)
    return got


def head(project: Project, branch: str) -> str:
    return str(project.branches.get(branch).commit["id"])


def merge_change(project: Project, env: str, app_name: str) -> str:
    """Change an app's folder on an environment branch through a merged MR; the merge commit."""
    path = f"manifests/{env}/{app_name}/deployment-{app_name}.yaml"
    text = project.files.get(path, ref=env).decode().decode() + f"# {uuid.uuid4()}\n"
    branch = f"change/{env}-{app_name}-{uuid.uuid4().hex[:8]}"
    project.commits.create(
        {
            "branch": branch,
            "start_branch": env,
            "commit_message": f"Change {app_name} in {env}",
            "actions": [{"action": "update", "file_path": path, "content": text}],
        }
    )
    mr = project.mergerequests.create(
        {"source_branch": branch, "target_branch": env, "title": f"Change {app_name}"}
    )
    mr.merge()
    return str(project.mergerequests.get(mr.iid).merge_commit_sha)


def test_list_filters_by_label_selector_and_projects(sb: Sandbox) -> None:
    """ApplicationService.List: every rendered Application sorted by name; `selector` is a
    Kubernetes label selector (=, !=, in, notin, !key), `projects` keeps those of the
    listed projects; a selector that does not parse is List's fmt.Errorf: gRPC Unknown,
    HTTP 500."""
    listed = names(sb)
    assert listed == sorted(listed) and set(listed) - {ONBOARDED} == set(APPS)
    assert names(sb, selector="environment=dev") == ["dev-example-app", "dev-postgres"]
    name = "app.kubernetes.io/name"
    chosen = f"environment in (stage,prod),{name}!=postgres,{name}!=cache"
    assert names(sb, selector=chosen) == ["prod-example-app", "stage-example-app"]
    assert names(sb, selector="environment notin (dev,stage),!nonesuch") == [
        "prod-example-app",
        "prod-postgres",
    ]
    assert names(sb, selector="!environment") == []
    assert names(sb, projects="default") == listed
    assert names(sb, projects="team-a") == []
    assert names(sb, projects=["team-a", "default"], selector="environment==prod") == [
        "prod-example-app",
        "prod-postgres",
    ]
    bad = api(sb, "", params={"selector": "environment in (dev"})
    assert bad.status_code == 500
    assert bad.json()["code"] == 2
    assert bad.json()["message"].startswith("error parsing the selector: ")


def test_get_reports_sync_health_and_the_last_sync_at_the_branch_head(
    sb: Sandbox, project: Project
) -> None:
    """ApplicationService.Get of an app nothing changed since the start: types.go's
    SyncStatus (Synced at the branch head, compared to its source), AppHealthStatus
    (Healthy), OperationState (Succeeded, syncResult.revision the head, automated),
    RevisionHistory and reconciledAt, beside the manifest's metadata and spec."""
    got = app(sb, "prod-example-app")
    prod = head(project, "prod")
    assert got["metadata"]["name"] == "prod-example-app"
    assert got["metadata"]["labels"]["environment"] == "prod"
    assert got["spec"]["source"]["targetRevision"] == "prod"
    assert got["spec"]["source"]["path"] == "manifests/prod/example-app"
    status = got["status"]
    assert status["sync"]["status"] == "Synced"
    assert status["sync"]["revision"] == prod
    assert status["sync"]["comparedTo"]["source"] == got["spec"]["source"]
    assert status["health"] == {"status": "Healthy"}
    state = status["operationState"]
    assert (state["phase"], state["syncResult"]["revision"]) == ("Succeeded", prod)
    assert state["operation"]["initiatedBy"] == {"automated": True}
    assert state["message"] == "successfully synced (all tasks run)"
    assert [(h["id"], h["revision"]) for h in status["history"]] == [(0, prod)]
    for stamp in (status["reconciledAt"], state["startedAt"], state["finishedAt"]):
        assert pytest.approx(time.time(), abs=120) == _epoch(stamp)
    assert "operation" not in got  # only while one runs


def test_a_merge_is_out_of_sync_then_synced_at_the_merge_commit_after_the_delay(
    sb: Sandbox, project: Project
) -> None:
    """After a push Argo CD compares at once (its Git webhook): the app whose folder
    changed is OutOfSync at the new head with an automated operation Running; after the
    sync delay it is Synced there, a history entry added; the app beside it, its folder
    unchanged, is Synced at the new head at once with no operation; stage is untouched."""
    stage_before = app(sb, "stage-example-app")["status"]["sync"]["revision"]
    beside = app(sb, "dev-postgres")["status"]
    merge = merge_change(project, "dev", "example-app")
    merged_at = time.monotonic()
    now = app(sb, "dev-example-app")
    assert now["status"]["sync"] | {"comparedTo": None} == {
        "status": "OutOfSync",
        "revision": merge,
        "comparedTo": None,
    }
    assert now["status"]["operationState"]["phase"] == "Running"
    assert now["operation"]["sync"]["revision"] == merge
    assert now["status"]["health"]["status"] == "Healthy"  # the old version still runs
    other = app(sb, "dev-postgres")["status"]
    assert (other["sync"]["status"], other["sync"]["revision"]) == ("Synced", merge)
    assert other["history"] == beside["history"]
    done = wait_for(
        lambda: app(sb, "dev-example-app"), lambda a: a["status"]["sync"]["status"] == "Synced"
    )
    assert time.monotonic() - merged_at > DELAY / 2
    assert done["status"]["sync"]["revision"] == merge
    assert done["status"]["operationState"]["phase"] == "Succeeded"
    assert done["status"]["operationState"]["syncResult"]["revision"] == merge
    assert done["status"]["history"][-1]["revision"] == merge
    assert len(done["status"]["history"]) == len(now["status"]["history"]) + 1
    assert "operation" not in done
    assert app(sb, "stage-example-app")["status"]["sync"]["revision"] == stage_before


def test_an_application_merged_later_is_missing_until_its_first_sync(
    sb: Sandbox, project: Project
) -> None:
    """An app onboarded by a merge: its Application appears with its file (the root
    Application applies it), health Missing and OutOfSync until automated sync deploys
    it; a copy of the file on a promotion branch (naming `stage`) deploys nothing."""
    text = _read(project, "manifests/stage/postgres/application-stage-postgres.yaml", "stage")
    text = text.replace("postgres", "cache")
    files = {
        "manifests/stage/cache/application-stage-cache.yaml": text,
        "manifests/stage/cache/configmap-cache.yaml": "apiVersion: v1\nkind: ConfigMap\n",
    }
    branch = f"onboard/cache-{uuid.uuid4().hex[:8]}"
    actions = [{"action": "create", "file_path": p, "content": c} for p, c in files.items()]
    project.commits.create(
        {
            "branch": branch,
            "start_branch": "stage",
            "commit_message": "Onboard cache",
            "actions": actions,
        }
    )
    assert ONBOARDED not in names(sb)  # on the promotion branch only
    mr = project.mergerequests.create(
        {"source_branch": branch, "target_branch": "stage", "title": "Onboard cache"}
    )
    mr.merge()
    first = app(sb, ONBOARDED)["status"]
    assert (first["health"]["status"], first["sync"]["status"]) == ("Missing", "OutOfSync")
    assert "history" not in first
    done = wait_for(
        lambda: app(sb, ONBOARDED), lambda a: a["status"]["health"]["status"] == "Healthy"
    )
    assert done["status"]["sync"]["status"] == "Synced"
    assert [h["id"] for h in done["status"]["history"]] == [0]


def _read(project: Project, path: str, ref: str) -> str:
    return str(project.files.get(path, ref=ref).decode().decode())


def test_health_and_sync_faults_hold_for_their_seconds_or_until_cleared(sb: Sandbox) -> None:
    """The sandbox's Argo CD faults report health.status Progressing (for N seconds, then
    Healthy again), Degraded with a message (through the admin endpoint, until cleared)
    and sync.status OutOfSync: enum values of gitops-engine's HealthStatusCode and
    types.go's SyncStatusCode. A bad rule is a 400 and adds nothing."""
    name = "stage-example-app"
    sb.argocd_fault(app=name, health="Progressing", seconds=DELAY)
    assert app(sb, name)["status"]["health"] == {"status": "Progressing"}
    assert app(sb, "stage-postgres")["status"]["health"] == {"status": "Healthy"}
    wait_for(lambda: app(sb, name), lambda a: a["status"]["health"]["status"] == "Healthy")

    admin = {"PRIVATE-TOKEN": sb.token}
    faults = f"{sb.url}/-/sandbox/argocd/faults"
    rule = {"app": name, "health": "Degraded", "message": "Back-off pulling image"}
    assert requests.post(faults, json=rule, headers=admin, timeout=10).status_code == 201
    assert app(sb, name)["status"]["health"] == {
        "status": "Degraded",
        "message": "Back-off pulling image",
    }
    listed = requests.get(faults, headers=admin, timeout=10).json()
    assert [(r["app"], r["health"], r["seconds_left"]) for r in listed] == [
        (name, "Degraded", None)
    ]
    bad = requests.post(faults, json={"health": "Sick"}, headers=admin, timeout=10)
    assert bad.status_code == 400 and "health must be one of" in bad.json()["error"]
    assert requests.delete(faults, headers=admin, timeout=10).status_code == 204
    assert app(sb, name)["status"]["health"] == {"status": "Healthy"}

    sb.argocd_fault(app=name, sync="OutOfSync")
    assert app(sb, name)["status"]["sync"]["status"] == "OutOfSync"
    sb.clear_argocd_faults()
    assert app(sb, name)["status"]["sync"]["status"] == "Synced"


def test_a_failed_sync_is_not_retried_until_a_manual_sync(sb: Sandbox, project: Project) -> None:
    """Under `sync_failed` the automated sync ends Failed (operationState.phase, gitops-
    engine's "one or more objects failed to apply" message), the app stays OutOfSync at
    the new head and keeps its history; automated sync does not retry the same commit
    (user-guide/auto_sync.md). POST .../sync (the full token) answers the Application with
    `operation` set and no operationState (util/argo SetAppOperation), refuses a second
    while it runs (FailedPrecondition: 400, code 9), and then it is Synced."""
    name = "stage-postgres"
    before = app(sb, name)["status"]["history"]
    sb.argocd_fault(app=name, sync_failed=True)
    merge = merge_change(project, "stage", "postgres")
    failed = wait_for(
        lambda: app(sb, name), lambda a: a["status"]["operationState"]["phase"] != "Running"
    )
    state = failed["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert state["message"].startswith("one or more objects failed to apply")
    assert state["syncResult"]["revision"] == merge
    assert failed["status"]["sync"] | {"comparedTo": None} == {
        "status": "OutOfSync",
        "revision": merge,
        "comparedTo": None,
    }
    assert failed["status"]["history"] == before
    sb.clear_argocd_faults()
    time.sleep(DELAY)  # a retry would have run by now
    assert app(sb, name)["status"]["operationState"]["phase"] == "Failed"  # not retried

    started = api(sb, f"/{name}/sync", json={"prune": True})
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["operation"]["initiatedBy"] == {"username": "admin"}
    assert body["operation"]["sync"] == {"revision": merge, "prune": True}
    assert "operationState" not in body["status"]
    again = api(sb, f"/{name}/sync", json={})
    assert (again.status_code, again.json()["code"]) == (400, 9)
    assert again.json()["message"].endswith("another operation is already in progress")
    done = wait_for(lambda: app(sb, name), lambda a: a["status"]["sync"]["status"] == "Synced")
    assert done["status"]["operationState"]["phase"] == "Succeeded"
    assert done["status"]["history"][-1]["revision"] == merge
    assert done["status"]["history"][-1]["initiatedBy"] == {"username": "admin"}


def test_the_read_only_token_gets_but_may_not_sync(sb: Sandbox) -> None:
    """The developer's token is a role:readonly account (operator-manual/rbac.md): List
    and Get answer, Sync is 403 with rbac.EnforceErr's message. A revision other than
    targetRevision on an automated app is FailedPrecondition ("Cannot sync to ...:
    auto-sync currently set to ..."); a POST that is not application/json is argocd-
    server's 415 (--api-content-types)."""
    readonly = sb.developer_token
    assert api(sb, "/prod-postgres", token=readonly).status_code == 200
    listed = {a["metadata"]["name"] for a in api(sb, "", token=readonly).json()["items"]}
    assert listed - {ONBOARDED} == set(APPS)
    denied = api(sb, "/prod-postgres/sync", token=readonly, json={})
    assert denied.status_code == 403
    message = "permission denied: applications, sync, default/prod-postgres, sub: developer"
    assert denied.json() == {"error": message, "code": 7, "message": message}
    other = api(sb, "/prod-postgres/sync", json={"revision": "main"})
    assert other.status_code == 400
    assert other.json()["message"] == "Cannot sync to main: auto-sync currently set to prod"
    plain = requests.post(
        f"{sb.argocd_url}/api/v1/applications/prod-postgres/sync",
        data="{}",
        headers={"Authorization": f"Bearer {sb.token}", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert plain.status_code == 415
    assert app(sb, "prod-postgres")["status"]["operationState"]["operation"]["initiatedBy"] == {
        "automated": True
    }  # none of them started a sync


def test_no_token_or_a_wrong_one_is_401(sb: Sandbox) -> None:
    """argocd-server's getClaims: no token is Unauthenticated "no session information",
    an unknown one "invalid session: ..." (HTTP 401, gRPC code 16); GitLab's
    PRIVATE-TOKEN header is no Argo CD credential."""
    none = api(sb, "", token=None)
    assert none.status_code == 401
    assert none.json() == {
        "error": "no session information",
        "code": 16,
        "message": "no session information",
    }
    wrong = api(sb, "/dev-example-app", token="not-" + "a-token")
    assert wrong.status_code == 401
    assert wrong.json()["message"].startswith("invalid session: ")
    gitlab_style = requests.get(
        f"{sb.argocd_url}/api/v1/applications", headers={"PRIVATE-TOKEN": sb.token}, timeout=10
    )
    assert gitlab_style.status_code == 401


def test_an_unknown_app_is_403_unless_a_project_is_named(sb: Sandbox) -> None:
    """getAppEnforceRBAC: without `project` a missing app is 403 "permission denied" (the
    same as a hidden one, argoproj/argo-cd#13000, #14004); with `project` it is 404 with
    Kubernetes' NotFound message, also for an app of another project; two projects are
    InvalidArgument. Errors are grpc-gateway's {"error", "code", "message"}."""
    hidden = api(sb, "/nonesuch")
    assert hidden.status_code == 403
    assert hidden.json() == {
        "error": "permission denied",
        "code": 7,
        "message": "permission denied",
    }
    missing = api(sb, "/nonesuch", params={"project": "default"})
    message = 'applications.argoproj.io "nonesuch" not found'
    assert missing.status_code == 404
    assert missing.json() == {"error": message, "code": 5, "message": message}
    elsewhere = api(sb, "/dev-postgres", params={"project": "team-a"})
    assert elsewhere.status_code == 404
    assert api(sb, "/dev-postgres", params={"project": "default"}).status_code == 200
    two = api(sb, "/dev-postgres", params={"project": ["default", "team-a"]})
    assert (two.status_code, two.json()["code"]) == (400, 3)
    assert api(sb, "/nonesuch/sync", json={}).status_code == 403


def _epoch(stamp: str) -> float:
    """A metav1.Time (RFC 3339, seconds, UTC) as seconds since the epoch."""
    assert re.match(ISO, stamp), stamp
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
