"""`revert`: undo an environment's merge, by an MR holding its git revert (D3).

The revert is a real `git revert -m 1` of the merge commit, so the environment's
history keeps both the change and its undoing (the audit trail), and after the
merge it renders exactly as before the change. The MR is `[no-promote]`: nothing
cascades. Open promotions from this environment that carry the reverted units
are closed with a note, so the bad change cannot travel on meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jenkins_helpers import git, gitlab, inputs
from jenkins_helpers.deployrepo import render
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.promotion import naming, target, trust
from jenkins_helpers.promotion.model import Outcome
from jenkins_helpers.promotion.plan import errors_now, new_problems
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer

HISTORY_DEPTH = 100
_SEE_MR = re.compile(r"See merge request \S+!(\d+)")


@dataclass(frozen=True, kw_only=True)
class RevertResult(Outcome):
    """What `revert` did."""

    project: str
    env: str
    commit: str  # the merge commit reverted
    reverted_mr: int | None  # the MR that merge came from, when known
    closed: list[int] = field(default_factory=list)  # downstream MRs closed


def revert(
    *, env: str, commit: str, project: str, gitlab_url: str | None, dry_run: bool = False
) -> RevertResult:
    """Propose the revert of `commit` (a merge into `env`'s branch, or `last`)."""
    env = inputs.environment_name(env)
    project = inputs.project_path(project)
    if commit != "last" and not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise BadInput(
            f"--commit {inputs.show(commit)}: expected a commit id or `last`",
            "e.g. --commit last, or the merge commit's id from the environment branch",
        )
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        environment = deployment.settings.environment(env)
        with deployment.checkout(environment.branch) as clone:
            git.deepen(clone.tree, HISTORY_DEPTH, clone.auth)
            sha = _merge_commit(clone.tree, commit, environment)
            merged = _merged_mr(deployment, clone.tree, sha)
            before = errors_now(clone.tree, environment)
            git.revert_merge(clone.tree, sha)
            render.render(clone.tree, environment.name)
            warnings = new_problems(clone.tree, environment, before)
            change = _change(environment, sha, merged, tuple(git.stage_all(clone.tree)), warnings)
            outcome = publish(clone, change, dry_run=dry_run)
        closed = (
            []
            if dry_run or outcome.mr_iid is None
            else _close_downstream(deployment, environment, merged, outcome.mr_iid)
        )
    return RevertResult.of(
        outcome,
        dry_run=dry_run,
        project=deployment.project.path,
        env=env,
        commit=sha,
        reverted_mr=merged[0] if merged else None,
        closed=closed,
    )


def _merge_commit(tree: Path, commit: str, env: Environment) -> str:
    merges = git.first_parents(tree, "HEAD", HISTORY_DEPTH, merges_only=True)
    if commit == "last":
        if not merges:
            raise UserError(
                f"{env.branch} has no merge to revert in its last {HISTORY_DEPTH} commits"
            )
        return merges[0]
    found = [m for m in merges if m.startswith(commit)]
    if len(found) != 1:
        raise BadInput(
            f"{commit} is not one merge into {env.branch} (among its last {HISTORY_DEPTH})",
            "give a merge commit of the environment branch, or `last`",
        )
    return found[0]


def _merged_mr(
    deployment: DeploymentProject, tree: Path, sha: str
) -> tuple[int, str, Trailer | None] | None:
    """The MR a merge commit came from (GitLab writes `See merge request group/p!iid`)."""
    match = _SEE_MR.search(git.message(tree, sha))
    if not match:
        return None
    mr = deployment.gl.merge_request(deployment.project.path, int(match.group(1)))
    return mr.iid, mr.title, trust.own_trailer(deployment, mr)


def _change(
    env: Environment,
    sha: str,
    merged: tuple[int, str, Trailer | None] | None,
    files: tuple[git.FileChange, ...],
    warnings: list[str],
) -> Change:
    what = f'"{merged[1]}"' if merged else sha[:12]
    title = f"Revert {what} in {env.name}"
    source = f"!{merged[0]} ({merged[1]})" if merged else "a merge"
    trailer = Trailer(target_env=env.name, apps={}, unit="revert", source_commit=sha)
    text = (
        f"Reverts {source}, merge commit `{sha}`, in **{env.name}**: after this merge "
        f"{env.name} renders exactly as before it. {naming.NO_PROMOTE_MARK}: nothing is "
        "promoted further.\n\n"
        + "".join(f"- {w}\n" for w in warnings)
        + f"\n{trailer.to_comment()}\n"
    )
    return Change(
        source_branch=f"revert/{env.name}/{sha[:12]}",
        title=title,
        description=text,
        labels=("gitops", "revert", f"env::{env.name}", f"commit::{sha[:12]}", naming.NO_PROMOTE),
        identity=("revert", f"env::{env.name}", f"commit::{sha[:12]}"),
        commit_message=f"{title}\n\nThis reverts commit {sha}.\n",
        files=files,
    )


def _close_downstream(
    deployment: DeploymentProject,
    env: Environment,
    merged: tuple[int, str, Trailer | None] | None,
    revert_iid: int,
) -> list[int]:
    """Close open promotions from `env` carrying what the reverted MR carried."""
    names = deployment.settings.names
    if merged is None or merged[2] is None or names.index(env.name) + 1 >= len(names):
        return []
    carried = merged[2]
    units = set(carried.apps) | ({"platform"} if carried.platform else set())
    following = deployment.settings.environment(names[names.index(env.name) + 1])
    gl, path = deployment.gl, deployment.project.path
    closed = []
    for mr in gl.merge_requests(path, labels=("promotion",), target_branch=following.branch):
        trailer = trust.own_trailer(deployment, mr)
        if trailer is None or trailer.source_env != env.name:
            continue
        if units & (set(trailer.apps) | ({"platform"} if trailer.platform else set())):
            note = (
                f"Closed by gitops-helper: what this merge request carries was reverted in "
                f"{env.name} by !{revert_iid}."
            )
            gl.close_merge_request(path, mr.iid, note)
            closed.append(mr.iid)
    return closed
