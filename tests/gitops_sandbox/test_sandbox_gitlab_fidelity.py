"""The sandbox as other GitLab clients drive it (issue 21): repositories and protection.

Each test is written from GitLab's documentation and source (cited per test), and
drives the sandbox as python-gitlab's, git's or a plain HTTP client's users do, so
a client other than our own tool gets the answers GitLab would give it:

- default-branch protection ("Fully protected", GitLab's default): applied when the
  default branch first exists, Maintainers (and admins) push and merge, Developers
  do neither; an empty project takes its first commit from a Maintainer only;
- a branch made in an empty repository first creates the default branch;
- the repository endpoints ordinary clients call (merge base, blobs, blame, a
  commit's refs, `PATCH` of a protected branch, `commits?all=true`), keyset
  pagination where GitLab offers it, and `order_by` / `sort` validated as Grape does;
- `owner` on a project in a user's namespace;
- python-gitlab's create-project, file, branch, merge request, merge, delete flow, as
  the admin and as a Developer (refused where GitLab refuses).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import git
import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import commit_files

FILE = {"file_path": "README.md", "content": "# svc\n", "commit_message": "Initial commit"}
PUSH_REFUSED = "You are not allowed to push into this branch"


def _error(call: Any) -> tuple[int, Any]:
    """The status and message of the python-gitlab error `call` raises."""
    with pytest.raises(gitlab.GitlabError) as err:
        call()
    return err.value.response_code, err.value.error_message


def _api(sandbox: Sandbox, path: str, token: str | None = None, **params: Any) -> Any:
    """A plain GET of the API, as curl or requests users call it."""
    return requests.get(
        f"{sandbox.gitlab_url}/api/v4{path}",
        params=params,
        headers={"PRIVATE-TOKEN": token or sandbox.token},
        timeout=10,
    )


def _push(sandbox: Sandbox, path: str, work: Path, token: str, *refspecs: str) -> git.Repo:
    """Clone `path` as the token's owner, commit a file on main, push `refspecs`."""
    repo = git.Repo.clone_from(sandbox.clone_url(path, token=token), work)
    repo.git.checkout("-B", "main")
    commit_files(work, {"pushed.txt": "pushed\n"}, "Pushed")
    repo.git.push("origin", *refspecs)
    return repo


# ---- 1. default-branch protection ------------------------------------------------------


def test_new_projects_default_branch_is_protected_once_it_exists(
    gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab
) -> None:
    """Projects::ProtectDefaultBranchService runs after the default branch's first push
    (GitLab's default `default_branch_protection`, "Fully protected": push and merge
    Maintainers, doc/user/project/repository/branches/default.md#protect-initial-default-branches);
    an admin may write it, a Developer neither pushes nor merges into it."""
    project = gl.projects.create({"name": "svc", "namespace": "apps"})
    assert project.protectedbranches.list(get_all=True) == []
    project.files.create({**FILE, "branch": "main"})
    prot = project.protectedbranches.get("main")
    assert [a["access_level"] for a in prot.push_access_levels] == [40]
    assert [a["access_level"] for a in prot.merge_access_levels] == [40]
    assert prot.push_access_levels[0]["access_level_description"] == "Maintainers"
    edit = {"action": "update", "file_path": "README.md", "content": "# svc 2\n"}
    commit = project.commits.create({"branch": "main", "commit_message": "Edit", "actions": [edit]})
    assert project.branches.get("main").commit["id"] == commit.id
    assert project.branches.get("main").can_push is True
    mine = dev_gl.projects.get(project.id)
    assert mine.branches.get("main").can_push is False
    assert _error(lambda: mine.files.create({**FILE, "file_path": "x", "branch": "main"})) == (
        400,
        PUSH_REFUSED,
    )
    action = {"action": "create", "file_path": "x", "content": "x"}
    dev_commit = {"branch": "main", "commit_message": "x", "actions": [action]}
    assert _error(lambda: mine.commits.create(dev_commit)) == (
        403,
        f"403 Forbidden - {PUSH_REFUSED}",
    )


def test_empty_project_takes_its_first_push_from_a_maintainer_only(
    sandbox: Sandbox, gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab, tmp_path: Path
) -> None:
    """An empty repository counts as protected (ProtectedBranch.protected?: `empty_repo? &&
    default_branch_protected?`); admins and Maintainers may create the default branch
    (protected_ref_accessible_to?), a Developer may not, and git says so with
    Gitlab::Checks::BranchCheck's empty-project message."""
    project = gl.projects.create({"name": "empty", "namespace": "apps"})
    mine = dev_gl.projects.get(project.id)
    assert _error(lambda: mine.files.create({**FILE, "branch": "main"})) == (400, PUSH_REFUSED)
    with pytest.raises(git.GitCommandError) as err:
        _push(sandbox, "apps/empty", tmp_path / "dev", sandbox.developer_token, "main")
    assert "A default branch (e.g. main) does not yet exist for apps/empty" in err.value.stderr
    assert "Ask a project Owner or Maintainer to create a default branch" in err.value.stderr
    with _push(sandbox, "apps/empty", tmp_path / "admin", sandbox.token, "main") as repo:
        sha = repo.head.commit.hexsha
        assert project.branches.get("main").commit["id"] == sha
        assert gl.projects.get(project.id).empty_repo is False
        assert [p.name for p in project.protectedbranches.list(get_all=True)] == ["main"]
        commit_files(tmp_path / "admin", {"more.txt": "more\n"}, "More")
        repo.git.push("origin", "main")  # a Maintainer pushes to "Maintainers"


def test_developer_writes_the_default_branch_of_their_own_project(
    dev_gl: gitlab.Gitlab,
) -> None:
    """The creator of a personal project is its Owner, a Maintainer and more."""
    project = dev_gl.projects.create({"name": "scratch"})
    project.files.create({**FILE, "branch": "main"})
    assert project.files.raw(file_path="README.md", ref="main") == b"# svc\n"
    assert [p.name for p in project.protectedbranches.list(get_all=True)] == ["main"]


def test_seeded_projects_keep_no_one_may_push(project: Project) -> None:
    """Seeding protects with "Allowed to push: No one" (docs/SANDBOX.md), kept as it was."""
    prot = project.protectedbranches.get("main")
    assert [a["access_level"] for a in prot.push_access_levels] == [0]
    assert project.branches.get("main").can_push is False
    edit = {"action": "update", "file_path": "README.md", "content": "x\n"}
    data = {"branch": "main", "commit_message": "x", "actions": [edit]}
    assert _error(lambda: project.commits.create(data))[0] == 403


def test_protect_takes_push_access_level_with_gitlabs_default(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    """POST protected_branches: `push_access_level` and `merge_access_level` default to 40
    (Maintainers), doc/api/protected_branches.md#protect-repository-branches."""
    project.protectedbranches.create({"name": "release/*"})
    prot = project.protectedbranches.get("release/*")
    assert [a["access_level"] for a in prot.push_access_levels] == [40]
    project.protectedbranches.create({"name": "frozen/*", "push_access_level": 0})
    assert project.protectedbranches.get("frozen/*").push_access_levels[0]["access_level"] == 0
    repo = git.Repo.clone_from(sandbox.clone_url(project.path_with_namespace), tmp_path / "c")
    with repo:
        repo.git.push("origin", "HEAD:refs/heads/release/1.0")  # Maintainers may push
        with pytest.raises(git.GitCommandError):
            repo.git.push("origin", "HEAD:refs/heads/frozen/1.0")
    bad = {"name": "x", "push_access_level": 45}
    assert _error(lambda: project.protectedbranches.create(bad)) == (
        400,
        "push_access_level does not have a valid value",
    )


def test_access_levels_decide_who_merges(project: Project, dev_gl: gitlab.Gitlab) -> None:
    """A merge request is merged by whoever may push to or merge into its target
    (MergeRequest#can_be_merged_by?: Gitlab::UserAccess#can_update_branch?): with
    `merge_access_level` 30 ("Developers + Maintainers") the developer merges."""
    project.protectedbranches.create({"name": "team", "merge_access_level": 30})
    project.protectedbranches.create({"name": "leads"})
    mine = dev_gl.projects.get(project.id)
    for target in ("team", "leads"):
        project.branches.create({"branch": target, "ref": "main"})
        mine.branches.create({"branch": f"to-{target}", "ref": "dev"})
    prot = project.protectedbranches.get("team")
    assert prot.merge_access_levels[0]["access_level_description"] == "Developers + Maintainers"
    assert mine.branches.get("team").developers_can_merge is True
    leads = mine.mergerequests.create(
        {"source_branch": "to-leads", "target_branch": "leads", "title": "Leads"}
    )
    assert leads.user["can_merge"] is False
    assert _error(leads.merge) == (401, "401 Unauthorized")
    team = mine.mergerequests.create(
        {"source_branch": "to-team", "target_branch": "team", "title": "Team"}
    )
    assert team.user["can_merge"] is True
    team.merge()
    assert mine.mergerequests.get(team.iid).state == "merged"


# ---- 2. a branch in an empty repository ---------------------------------------------


def test_branch_in_an_empty_repository_creates_the_default_branch_first(
    gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab
) -> None:
    """Branches::CreateService: in an empty repository it first commits an empty
    README.md ("Add README.md") to the default branch, then makes the branch; a
    Developer may not make that commit in a group's project (the push check's refusal:
    GitLab lets it escape as a 500, the sandbox answers 400 with it)."""
    shared = gl.projects.create({"name": "shared", "namespace": "apps"})
    status, message = _error(
        lambda: dev_gl.projects.get(shared.id).branches.create({"branch": "f", "ref": "main"})
    )
    assert status == 400
    assert message.startswith("A default branch (e.g. main) does not yet exist for apps/shared")
    assert shared.branches.list(get_all=True) == []
    project = gl.projects.create({"name": "blank", "namespace": "apps"})
    branch = project.branches.create({"branch": "feature", "ref": "main"})
    main = project.branches.get("main")
    assert branch.commit["id"] == main.commit["id"]
    assert main.commit["title"] == "Add README.md"
    assert main.commit["author_name"] == "Administrator"
    assert project.files.raw(file_path="README.md", ref="main") == b""
    assert [p.name for p in project.protectedbranches.list(get_all=True)] == ["main"]
    other = gl.projects.create({"name": "blank2", "namespace": "apps"})
    assert _error(lambda: other.branches.create({"branch": "main", "ref": "main"})) == (
        400,
        "Branch already exists",
    )
    assert _error(lambda: project.branches.create({"branch": "x", "ref": "no-such-ref"})) == (
        400,
        "Failed to create branch 'x': invalid reference name 'no-such-ref'",
    )


# ---- 3. endpoints ordinary clients call ---------------------------------------------


def test_merge_base(project: Project) -> None:
    """GET repository/merge_base (lib/api/repositories.rb; doc/api/repositories.md#merge-base)."""
    main = project.branches.get("main").commit["id"]
    base = project.repository_merge_base(["dev", "stage"])
    assert base["id"] == main and base["title"] == "Initial commit"
    assert project.repository_merge_base(["dev", main, "prod"])["id"] == main
    assert _error(lambda: project.repository_merge_base(["dev"])) == (
        400,
        "Provide at least 2 refs",
    )
    assert _error(lambda: project.repository_merge_base(["dev", "nope", "nah"])) == (
        400,
        "Could not find refs: nope, nah",
    )


def test_update_protected_branch_allows_force_push(
    sandbox: Sandbox, project: Project, dev_gl: gitlab.Gitlab, tmp_path: Path
) -> None:
    """PATCH protected_branches/:name (CE: `allow_force_push`), python-gitlab's
    `p_branch.allow_force_push = True; p_branch.save()`; force pushes are refused with
    BranchCheck's message until it is set (doc/api/protected_branches.md)."""
    project.protectedbranches.create({"name": "release"})
    with git.Repo.clone_from(sandbox.clone_url(project.path_with_namespace), tmp_path / "c") as r:
        r.git.push("origin", "origin/dev:refs/heads/release")
        with pytest.raises(git.GitCommandError) as err:
            r.git.push("--force", "origin", "origin/prod:refs/heads/release")
        assert "You are not allowed to force push code to a protected branch" in err.value.stderr
        prot = project.protectedbranches.get("release")
        assert prot.allow_force_push is False
        prot.allow_force_push = True
        prot.save()
        assert project.protectedbranches.get("release").allow_force_push is True
        r.git.push("--force", "origin", "origin/prod:refs/heads/release")
    assert project.branches.get("release").commit["id"] == project.branches.get("prod").commit["id"]
    mine = dev_gl.projects.get(project.id).protectedbranches.get("release")
    mine.allow_force_push = False
    assert _error(mine.save) == (403, "403 Forbidden")
    ghost = {"allow_force_push": True}
    assert _error(lambda: project.protectedbranches.update("ghost", ghost))[0] == 404


def test_blame(project: Project) -> None:
    """GET repository/files/:path/blame: ranges of lines with their commit (BlameRange,
    BlameRangeCommit; doc/api/repository_files.md#get-file-blame-from-repository)."""
    project.commits.create(
        {
            "branch": "blamed",
            "start_branch": "main",
            "commit_message": "Two more lines",
            "actions": [
                {
                    "action": "update",
                    "file_path": "README.md",
                    "content": "# k8s-deployments\nline 2\nline 3\n",
                }
            ],
        }
    )
    first, second = project.files.blame(file_path="README.md", ref="blamed")
    assert first["lines"] == ["# k8s-deployments"]
    assert second["lines"] == ["line 2", "line 3"]
    assert first["commit"]["id"] == project.branches.get("main").commit["id"]
    assert second["commit"]["message"] == "Two more lines\n"
    assert set(second["commit"]) == {
        "id",
        "parent_ids",
        "message",
        "authored_date",
        "author_name",
        "author_email",
        "committed_date",
        "committer_name",
        "committer_email",
    }
    assert _error(lambda: project.files.blame(file_path="nope.txt", ref="main")) == (
        404,
        "404 File Not Found",
    )


def test_raw_blob_and_blob(project: Project) -> None:
    """GET repository/blobs/:sha/raw and repository/blobs/:sha (doc/api/repositories.md)."""
    blob = project.files.get(file_path="envs/dev/env.cue", ref="dev").blob_id
    assert project.repository_raw_blob(blob) == b"replicas: 1\n"
    shown = project.repository_blob(blob)
    assert shown == {
        "size": 12,
        "encoding": "base64",
        "content": base64.b64encode(b"replicas: 1\n").decode(),
        "sha": blob,
    }
    assert _error(lambda: project.repository_raw_blob("0" * 40)) == (404, "404 Blob Not Found")


def test_commit_refs(project: Project) -> None:
    """GET repository/commits/:sha/refs (`type`: branch, tag, all; doc/api/commits.md)."""
    main = project.commits.get(project.branches.get("main").commit["id"])
    refs = main.refs(get_all=True)
    assert sorted((r["type"], r["name"]) for r in refs) == [
        ("branch", "dev"),
        ("branch", "main"),
        ("branch", "prod"),
        ("branch", "stage"),
    ]
    assert main.refs(type="tag", get_all=True) == []
    dev = project.commits.get(project.branches.get("dev").commit["id"])
    assert dev.refs(type="branch", get_all=True) == [{"type": "branch", "name": "dev"}]
    assert _error(lambda: main.refs(type="remote")) == (400, "type does not have a valid value")


def test_commits_all_lists_every_branch(project: Project) -> None:
    """`all=true` lists the commits of every ref, not of the default branch (lib/api/commits.rb)."""
    titles = {c.title for c in project.commits.list(get_all=True, all=True)}
    assert titles == {"Initial commit", "dev env", "stage env", "prod env"}
    assert {c.title for c in project.commits.list(get_all=True)} == {"Initial commit"}


def test_keyset_pagination_of_projects(sandbox: Sandbox, gl: gitlab.Gitlab) -> None:
    """`pagination=keyset` on /projects (ordered by id): a `Link` to the next page with
    `id_after` / `id_before`, no offset headers; any other order_by is 405
    (lib/api/helpers/pagination_strategies.rb, lib/gitlab/pagination/keyset.rb;
    doc/api/rest/_index.md#keyset-based-pagination)."""
    for name in ("a", "b", "c"):
        gl.projects.create({"name": name, "namespace": "keyset"})
    every = [
        p.id
        for p in gl.projects.list(
            iterator=True, pagination="keyset", order_by="id", sort="asc", per_page=1
        )
    ]
    assert every == sorted(every) and len(every) == 3
    first = _api(sandbox, "/projects", pagination="keyset", order_by="id", per_page=2)
    assert first.status_code == 200
    assert "X-Total" not in first.headers and "X-Page" not in first.headers
    assert [p["id"] for p in first.json()] == sorted(every, reverse=True)[:2]
    assert f"id_before={first.json()[-1]['id']}" in first.links["next"]["url"]
    unsupported = _api(sandbox, "/projects", pagination="keyset", order_by="name")
    assert unsupported.status_code == 405
    assert unsupported.json() == {
        "error": "Keyset pagination is not yet available for this type of request"
    }


def test_keyset_pagination_of_the_tree(project: Project) -> None:
    """The repository tree pages by `page_token` with `pagination=keyset`
    (lib/api/repositories.rb; lib/gitlab/pagination/gitaly_keyset_pager.rb)."""
    offset = project.repository_tree(ref="dev", recursive=True, get_all=True)
    keyset = project.repository_tree(
        ref="dev", recursive=True, pagination="keyset", per_page=2, iterator=True
    )
    assert [t["path"] for t in keyset] == [t["path"] for t in offset]
    assert len(offset) == 7
    page = project.manager.gitlab.http_request(
        "get",
        f"/projects/{project.id}/repository/tree",
        query_data={"ref": "dev", "recursive": True, "pagination": "keyset", "per_page": 2},
    )
    assert "X-Total" not in page.headers
    assert f"page_token={offset[1]['id']}" in page.links["next"]["url"]
    assert _error(lambda: project.repository_tree(pagination="pages")) == (
        400,
        "pagination does not have a valid value",
    )


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        ("/projects", {"order_by": "colour"}, "order_by does not have a valid value"),
        ("/projects", {"sort": "sideways"}, "sort does not have a valid value"),
        (
            "/projects/{id}/repository/branches",
            {"sort": "name_desc"},
            "sort does not have a valid value",
        ),
        (
            "/projects/{id}/repository/commits",
            {"order": "newest"},
            "order does not have a valid value",
        ),
    ],
)
def test_order_by_and_sort_are_validated(
    sandbox: Sandbox, project: Project, path: str, params: dict[str, str], error: str
) -> None:
    """Grape's `values:` validation answers 400 `{"error": "<param> does not have a valid
    value"}` (projects: lib/api/helpers/projects_helpers.rb `sort_params`; branches'
    `sort` and commits' `order`: doc/api/openapi/openapi_v2.yaml)."""
    answer = _api(sandbox, path.format(id=project.id), **params)
    assert (answer.status_code, answer.json()) == (400, {"error": error})


def test_order_by_and_sort_order_projects(gl: gitlab.Gitlab) -> None:
    for name in ("beta", "alpha", "gamma"):
        gl.projects.create({"name": name, "namespace": "sorted"})
    listed = gl.projects.list(order_by="name", sort="asc", get_all=True)
    assert [p.name for p in listed] == ["alpha", "beta", "gamma"]
    listed = gl.projects.list(order_by="id", sort="asc", get_all=True)
    assert [p.name for p in listed] == ["beta", "alpha", "gamma"]


# ---- 4. owner -----------------------------------------------------------------------


def test_owner_on_a_project_in_a_user_namespace(gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab) -> None:
    """`owner` (UserBasic) is shown unless the project belongs to a group
    (lib/api/entities/project.rb: `unless: ->(project, _) { project.group }`)."""
    mine = dev_gl.projects.create({"name": "mine"})
    assert mine.owner["username"] == "developer" and mine.owner["id"] == 2
    assert mine.namespace["kind"] == "user" and mine.namespace["full_path"] == "developer"
    assert gl.projects.get(mine.id).owner["username"] == "developer"
    rooted = gl.projects.create({"name": "rooted"})
    assert rooted.path_with_namespace == "root/rooted" and rooted.owner["username"] == "root"
    grouped = gl.projects.create({"name": "grouped", "namespace": "apps"})
    assert "owner" not in grouped.attributes and grouped.namespace["kind"] == "group"


# ---- 5. python-gitlab's flow --------------------------------------------------------


def _flow(gl: gitlab.Gitlab, name: str, namespace: str | None) -> gitlab.v4.objects.Project:
    data = {"name": name, **({"namespace": namespace} if namespace else {})}
    project = gl.projects.create(data)
    project.files.create({**FILE, "branch": "main"})
    project.branches.create({"branch": "feature", "ref": "main"})
    project.files.create(
        {"file_path": "f.txt", "content": "f\n", "branch": "feature", "commit_message": "f"}
    )
    return project


def test_python_gitlab_flow_as_the_admin(gl: gitlab.Gitlab) -> None:
    project = _flow(gl, "flow", "apps")
    mr = project.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "Feature"}
    )
    mr.merge()
    assert project.mergerequests.get(mr.iid).state == "merged"
    assert project.files.raw(file_path="f.txt", ref="main") == b"f\n"
    mr.delete()
    assert _error(lambda: project.mergerequests.get(mr.iid))[0] == 404


def test_python_gitlab_flow_as_a_developer(gl: gitlab.Gitlab, dev_gl: gitlab.Gitlab) -> None:
    """In their own project the developer is Owner and does it all; in a group project,
    GitLab refuses the first commit on main (Developer), the merge into protected main
    (401, doc/api/merge_requests.md#merge-a-merge-request) and the delete (403, "Only
    for administrators and project owners", #delete-a-merge-request)."""
    own = _flow(dev_gl, "flow", None)
    mr = own.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "Feature"}
    )
    mr.merge()
    mr.delete()
    group = gl.projects.create({"name": "shared", "namespace": "apps"})
    mine = dev_gl.projects.get(group.id)
    assert _error(lambda: mine.files.create({**FILE, "branch": "main"})) == (400, PUSH_REFUSED)
    group.files.create({**FILE, "branch": "main"})
    mine.branches.create({"branch": "feature", "ref": "main"})
    mine.files.create(
        {"file_path": "f.txt", "content": "f\n", "branch": "feature", "commit_message": "f"}
    )
    mr = mine.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "Feature"}
    )
    assert _error(mr.merge) == (401, "401 Unauthorized")
    assert _error(mr.delete) == (403, "403 Forbidden")
    group.mergerequests.get(mr.iid).merge()
    assert group.files.raw(file_path="f.txt", ref="main") == b"f\n"


def test_a_files_metadata_is_in_its_headers(project: Project) -> None:
    """lib/api/files.rb: the file's fields, but its content, as X-Gitlab-* headers of the
    JSON answer, the raw one and HEAD (python-gitlab's files.head reads them)."""
    path = next(e["path"] for e in project.repository_tree(ref="main") if e["type"] == "blob")
    fields = project.files.get(path, ref="main").asdict()
    headers = project.files.head(path, ref="main")
    assert headers["X-Gitlab-Blob-Id"] == fields["blob_id"]
    assert headers["X-Gitlab-Last-Commit-Id"] == fields["last_commit_id"]
    assert headers["X-Gitlab-File-Path"] == path and "X-Gitlab-Content" not in headers
