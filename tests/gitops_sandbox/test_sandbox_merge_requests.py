"""Merge requests through python-gitlab: create, filters, update, conflicts, real merges."""

from __future__ import annotations

from pathlib import Path

import git
import gitlab
import pytest
from gitlab.v4.objects import Project

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.sandbox_testing import commit_files


def _branch_with_change(
    sandbox: Sandbox, project: Project, workdir: Path, branch: str, base: str, files: dict[str, str]
) -> str:
    """Push a new branch `branch` off `base` carrying `files`; return its head sha."""
    with git.Repo.clone_from(
        sandbox.clone_url(project.path_with_namespace), workdir / branch.replace("/", "_")
    ) as repo:
        repo.git.checkout("-b", branch, f"origin/{base}")
        sha = commit_files(Path(repo.working_tree_dir or ""), files, f"change on {branch}")
        repo.git.push("origin", branch)
    return sha


def test_create_get_and_duplicate_409(sandbox: Sandbox, project: Project, tmp_path: Path) -> None:
    sha = _branch_with_change(
        sandbox, project, tmp_path, "promote/x", "dev", {"envs/dev/env.cue": "replicas: 2\n"}
    )
    mr = project.mergerequests.create(
        {
            "source_branch": "promote/x",
            "target_branch": "dev",
            "title": "Scale dev",
            "description": "replicas 1 -> 2",
            "labels": "promotion,env::dev",
        }
    )
    assert (mr.iid, mr.state, mr.sha) == (1, "opened", sha)
    assert mr.labels == ["env::dev", "promotion"]  # GitLab sorts them by title
    assert mr.web_url == f"{sandbox.url}/platform/k8s-deployments/-/merge_requests/1"
    # GitLab checks mergeability asynchronously (test_sandbox_mr_fidelity.py)
    assert mr.detailed_merge_status == "preparing" and mr.has_conflicts is False
    assert mr.author["username"] == "root" and mr.merge_commit_sha is None
    assert mr.references["full"] == "platform/k8s-deployments!1"
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.mergerequests.create(
            {"source_branch": "promote/x", "target_branch": "dev", "title": "again"}
        )
    assert err.value.response_code == 409
    assert err.value.error_message == [
        "Another open merge request already exists for this source branch: !1"
    ]
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.mergerequests.create(
            {"source_branch": "nope", "target_branch": "dev", "title": "x"}
        )
    assert err.value.response_code == 422
    got = project.mergerequests.get(1)
    assert got.title == "Scale dev" and got.diff_refs["head_sha"] == sha
    changes = got.changes()["changes"]
    assert [c["new_path"] for c in changes] == ["envs/dev/env.cue"]
    assert "-replicas: 1\n+replicas: 2" in changes[0]["diff"]
    assert [c.title for c in got.commits()] == ["change on promote/x"]
    (version,) = got.diffs.list(get_all=True)
    detailed = got.diffs.get(version.id)
    assert detailed.head_commit_sha == sha
    assert [d["new_path"] for d in detailed.diffs] == ["envs/dev/env.cue"]


def test_list_filters_update_close_reopen_notes(project: Project) -> None:
    for name in ("a", "b", "c"):
        project.branches.create({"branch": f"feat-{name}", "ref": "main"})
    project.mergerequests.create(
        {
            "source_branch": "feat-a",
            "target_branch": "dev",
            "title": "Alpha",
            "labels": ["promotion"],
        }
    )
    project.mergerequests.create(
        {
            "source_branch": "feat-b",
            "target_branch": "stage",
            "title": "Beta",
            "labels": ["promotion", "skip-stage"],
        }
    )
    third = project.mergerequests.create(
        {"source_branch": "feat-c", "target_branch": "dev", "title": "Gamma"}
    )

    def titles(**filters: object) -> list[str]:
        return [m.title for m in project.mergerequests.list(get_all=True, **filters)]

    assert titles() == ["Gamma", "Beta", "Alpha"]
    assert titles(target_branch="dev") == ["Gamma", "Alpha"]
    assert titles(source_branch="feat-b") == ["Beta"]
    assert titles(labels=["promotion", "skip-stage"]) == ["Beta"]
    assert titles(search="amm") == ["Gamma"]
    third.title = "Gamma 2"
    third.labels = ["later"]
    third.save()
    third.state_event = "close"
    third.save()
    assert project.mergerequests.get(third.iid).state == "closed"
    assert titles(state="opened") == ["Beta", "Alpha"]
    assert titles(state="closed", labels="later") == ["Gamma 2"]
    third.state_event = "reopen"
    third.save()
    assert third.state == "opened"
    third.notes.create({"body": "first"})
    third.notes.create({"body": "second"})
    assert [n.body for n in third.notes.list(get_all=True)] == ["second", "first"]
    assert project.mergerequests.get(third.iid).user_notes_count == 2


def test_merge_makes_a_real_merge_commit(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    source_sha = _branch_with_change(
        sandbox, project, tmp_path, "promote/y", "dev", {"envs/dev/env.cue": "replicas: 5\n"}
    )
    dev_before = project.branches.get("dev").commit["id"]
    mr = project.mergerequests.create(
        {"source_branch": "promote/y", "target_branch": "dev", "title": "Five replicas"}
    )
    mr.merge(should_remove_source_branch=True)
    assert mr.state == "merged" and mr.merged_at
    merged = project.mergerequests.get(mr.iid)
    assert merged.merge_commit_sha == project.branches.get("dev").commit["id"]
    assert merged.should_remove_source_branch is True
    assert merged.detailed_merge_status == "not_open"
    assert "promote/y" not in [b.name for b in project.branches.list(get_all=True)]
    with git.Repo.clone_from(
        sandbox.clone_url(project.path_with_namespace), tmp_path / "fresh", branch="dev"
    ) as fresh:
        head = fresh.head.commit
        assert head.hexsha == merged.merge_commit_sha
        assert [p.hexsha for p in head.parents] == [dev_before, source_sha]
        assert "See merge request platform/k8s-deployments!1" in str(head.message)
        log = fresh.git.log("--format=%H", "dev").split()
        assert merged.merge_commit_sha in log and source_sha in log
        assert (
            Path(fresh.working_tree_dir or "") / "envs/dev/env.cue"
        ).read_text() == "replicas: 5\n"
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        mr.merge()
    assert err.value.response_code == 405
    assert err.value.error_message == "405 Method Not Allowed"


def test_conflicting_merge_is_refused_422(
    sandbox: Sandbox, project: Project, tmp_path: Path
) -> None:
    _branch_with_change(sandbox, project, tmp_path, "one", "dev", {"envs/dev/env.cue": "x: 1\n"})
    _branch_with_change(sandbox, project, tmp_path, "two", "dev", {"envs/dev/env.cue": "x: 2\n"})
    first = project.mergerequests.create(
        {"source_branch": "one", "target_branch": "dev", "title": "one"}
    )
    second = project.mergerequests.create(
        {"source_branch": "two", "target_branch": "dev", "title": "two"}
    )
    assert second.has_conflicts is False
    first.merge()
    dev_head = project.branches.get("dev").commit["id"]
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        second.merge()
    assert (err.value.response_code, err.value.error_message) == (422, "Branch cannot be merged")
    assert project.branches.get("dev").commit["id"] == dev_head
    second = project.mergerequests.get(second.iid)  # the merge checked it synchronously
    assert second.has_conflicts is True
    assert second.detailed_merge_status == "conflict"
    assert second.merge_status == "cannot_be_merged"
    second.state_event = "close"
    second.save()
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        second.merge()
    assert err.value.response_code == 405


def test_merge_with_stale_sha_is_409(project: Project) -> None:
    project.branches.create({"branch": "stale", "ref": "main"})
    mr = project.mergerequests.create(
        {"source_branch": "stale", "target_branch": "dev", "title": "stale"}
    )
    with pytest.raises(gitlab.GitlabMRClosedError) as err:
        mr.merge(sha="0" * 40)
    assert err.value.response_code == 409


def test_pagination_over_many_merge_requests(project: Project) -> None:
    for i in range(22):
        project.branches.create({"branch": f"mr-{i:02d}", "ref": "main"})
        project.mergerequests.create(
            {"source_branch": f"mr-{i:02d}", "target_branch": "dev", "title": f"MR {i:02d}"}
        )
    everything = project.mergerequests.list(state="opened", get_all=True)
    assert len(everything) == 22
    assert [m.title for m in everything][:2] == ["MR 21", "MR 20"]
    assert len({m.iid for m in everything}) == 22
    lazily = list(project.mergerequests.list(state="opened", iterator=True, per_page=5))
    assert [m.iid for m in lazily] == [m.iid for m in everything]


def test_parameters_outside_gitlabs_values_are_400(gl: gitlab.Gitlab, project: Project) -> None:
    project.branches.create({"branch": "checked", "ref": "main"})
    mr = project.mergerequests.create(
        {"source_branch": "checked", "target_branch": "dev", "title": "checked"}
    )
    with pytest.raises(gitlab.GitlabListError) as err:
        project.mergerequests.list(state="bogus", get_all=True)
    assert (err.value.response_code, err.value.error_message) == (
        400,
        "state does not have a valid value",
    )
    path = f"/projects/{project.id}/merge_requests/{mr.iid}"
    with pytest.raises(gitlab.GitlabHttpError) as err:
        gl.http_put(path, post_data={})
    assert err.value.response_code == 400
    assert "at least one parameter must be provided" in str(err.value.error_message)
    with pytest.raises(gitlab.GitlabHttpError) as err:
        gl.http_put(path, post_data={"state_event": "merge"})
    assert err.value.error_message == "state_event does not have a valid value"
    assert project.mergerequests.get(mr.iid).state == "opened"
