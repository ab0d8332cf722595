"""Merge requests: create, update, close/reopen, merge with a real git merge commit.

GitLab's rules as the API documents them: one open MR per source/target pair
(409), merge refused with 401 when the caller may not merge into the target
branch, 405 unless the MR is open and not a draft, 422 when git cannot merge it,
409 when `sha` is not the source head; deleting needs the Owner role (403) and
answers 204. Who opened, edited, closed and merged an MR is kept on it
(`author_id`, `updated_by_id`, `closed_by_id`, `merge_user_id`), and who added or
removed which label as resource label events.
Mergeability is computed from the branches (`git merge-tree`) and shown as GitLab's
asynchronous check shows it (`mergeability.shown`): a single GET requests a check,
a merge checks synchronously.
Every state change emits the merge request webhook event.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from gitops_sandbox import events, gitrepo, mergeability, mr_params, projects, shapes, users
from gitops_sandbox.context import Services
from gitops_sandbox.errors import ApiError, GitError, missing, not_found, unauthorized
from gitops_sandbox.hook_payloads import label_attrs
from gitops_sandbox.mr_params import labels_param, to_bool
from gitops_sandbox.push_events import emit_push
from gitops_sandbox.state import now_iso
from gitops_sandbox.users import User


def find(data: dict[str, Any], project_id: int, iid: int) -> dict[str, Any]:
    """The MR `!iid` of a project, or GitLab's 404."""
    for mr in data["merge_requests"].values():
        if mr["project_id"] == project_id and mr["iid"] == iid:
            return mr
    raise not_found()


def of_project(data: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """The project's MRs, newest first (GitLab's default order)."""
    mrs = [m for m in data["merge_requests"].values() if m["project_id"] == project_id]
    return sorted(mrs, key=lambda m: m["id"], reverse=True)


def may_merge(svc: Services, rec: dict[str, Any], mr: dict[str, Any], user: User) -> bool:
    """Whether `user` may merge the MR: may they push or merge into its target branch
    (MergeRequest#can_be_merged_by?, the protections' access levels: projects.py)."""
    with svc.state.read() as data:
        return projects.may_update_branch(data, rec, mr["target_branch"], user)


def to_json(svc: Services, rec: dict[str, Any], mr: dict[str, Any], viewer: User) -> dict[str, Any]:
    """The MR's REST representation for `viewer` (`user.can_merge` is theirs)."""
    return shapes.merge_request(
        svc.base_url,
        mr,
        rec["path_with_namespace"],
        mergeability.shown(svc, rec, mr),
        can_merge=may_merge(svc, rec, mr, viewer),
    )


def request_checks(svc: Services, project_id: int, iids: list[int]) -> None:
    """Start the asynchronous mergeability check of those MRs that are unchecked.

    What presenting an MR does in GitLab (`check_mergeability(async: true)` in
    lib/api/entities/merge_request_basic.rb): a single MR always, a list only with
    `with_merge_status_recheck`. Writes only when a check starts.
    """
    with svc.state.read() as data:
        rec = projects.get(data, project_id)
        due = [m["iid"] for m in of_project(data, project_id) if m["iid"] in iids]
        due = [i for i in due if mergeability.needs_check(svc, rec, find(data, project_id, i))]
    if due:
        with svc.state.transaction() as data:
            rec = projects.get(data, project_id)
            for iid in due:
                mergeability.request_check(svc, rec, find(data, project_id, iid))


def _check_open_duplicate(data: dict[str, Any], mr: dict[str, Any]) -> None:
    for other in of_project(data, mr["project_id"]):
        if (
            other["state"] == "opened"
            and other["id"] != mr.get("id")
            and other["source_branch"] == mr["source_branch"]
            and other["target_branch"] == mr["target_branch"]
        ):
            raise ApiError(
                409,
                {
                    "message": [
                        "Another open merge request already exists for this source branch: "
                        f"!{other['iid']}"
                    ]
                },
            )


def create(svc: Services, ident: str | int, params: dict[str, Any], actor: User) -> dict[str, Any]:
    """Open an MR (`POST /projects/:id/merge_requests`) as `actor`, its author; emit `open`."""
    absent = [k for k in ("source_branch", "target_branch", "title") if not params.get(k)]
    if absent:
        raise missing(*absent)
    with svc.state.transaction() as data:
        rec = projects.get(data, ident)
        source, target = str(params["source_branch"]), str(params["target_branch"])
        if source == target:
            raise ApiError(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        heads = gitrepo.branches(svc.repo_path(rec))
        errors = [
            f'{side} branch "{name}" does not exist'
            for side, name in (("Source", source), ("Target", target))
            if name not in heads
        ]
        if errors:
            raise ApiError(422, {"message": errors})
        now = now_iso()
        mr = {
            "id": 0,
            "iid": rec["next_mr_iid"],
            "project_id": rec["id"],
            "title": str(params["title"]),
            "description": params.get("description"),
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "labels": labels_param(params.get("labels")),
            "force_remove_source_branch": to_bool(params.get("remove_source_branch")),
            "squash": to_bool(params.get("squash")),
            "created_at": now,
            "updated_at": now,
            "last_source_sha": heads[source],
            "user_notes_count": 0,
            "author_id": actor.id,
        }
        _check_open_duplicate(data, mr)
        mr["id"] = svc.state.next_id("merge_request")
        rec["next_mr_iid"] += 1
        data["merge_requests"][str(mr["id"])] = mr
        mergeability.start_preparing(svc, rec, mr)
        _label_events(svc, data, rec, mr, [], mr["labels"], actor, now)
        projects.touch(rec)
        # A new record: every attribute changes from nothing.
        changes = {
            k: {"previous": None, "current": mr[k]}
            for k in ("id", "iid", "title", "description", "source_branch", "target_branch")
        }
        changes["state_id"] = {"previous": None, "current": 1}
        changes["author_id"] = {"previous": None, "current": actor.id}
        changes["created_at"] = {"previous": None, "current": now}
        changes["updated_at"] = {"previous": None, "current": now}
        events.emit_merge_request(svc, data, rec, mr, "open", changes, actor)
        return mr


def update(
    svc: Services, rec: dict[str, Any], iid: int, params: dict[str, Any], actor: User
) -> dict[str, Any]:
    """Edit an MR (`PUT .../merge_requests/:iid`) as `actor`; emits update, close or reopen."""
    mr_params.check_update(params)
    with svc.state.transaction() as data:
        rec = projects.get(data, rec["id"])  # the live record, not a stale copy
        mr = find(data, rec["id"], iid)
        before = {k: mr[k] for k in ("title", "description", "labels", "target_branch")}
        for key in ("title", "description"):
            if key in params and params[key] is not None:
                mr[key] = str(params[key])
        if params.get("target_branch"):
            if params["target_branch"] not in gitrepo.branches(svc.repo_path(rec)):
                raise ApiError(
                    422, {"message": [f'Target branch "{params["target_branch"]}" does not exist']}
                )
            mr["target_branch"] = str(params["target_branch"])
        if "labels" in params:
            mr["labels"] = labels_param(params["labels"])
        removed = set(labels_param(params.get("remove_labels")))
        mr["labels"] = [t for t in mr["labels"] if t not in removed]
        mr["labels"] += [t for t in labels_param(params.get("add_labels")) if t not in mr["labels"]]
        if "remove_source_branch" in params:
            mr["force_remove_source_branch"] = to_bool(params["remove_source_branch"])
        _label_events(svc, data, rec, mr, before["labels"], mr["labels"], actor, now_iso())
        changes: dict[str, Any] = {}
        for key, old in before.items():
            if mr[key] != old:
                changes[key] = {"previous": old, "current": mr[key]}
        if "labels" in changes:
            changes["labels"] = {
                side: [label_attrs(x) for x in projects.labels_for(svc, data, rec["id"], v)]
                for side, v in changes["labels"].items()
            }
        edited = "title" in changes or "description" in changes
        action = _state_event(data, mr, params.get("state_event"), changes, actor)
        if changes or action != "update":
            _touch(mr, changes, actor, edited=edited)
            projects.touch(rec)
            events.emit_merge_request(svc, data, rec, mr, action, changes, actor)
        return mr


def _touch(
    mr: dict[str, Any], changes: dict[str, Any], actor: User, *, edited: bool = False
) -> None:
    """`actor` changed the MR: `updated_at` (and who, when it is new) move, into `changes`.

    GitLab lists only the attributes that changed, each as `{previous, current}`.
    """
    now = now_iso()
    moved: dict[str, Any] = {"updated_at": now, "updated_by_id": actor.id}
    if edited:
        moved.update(last_edited_at=now, last_edited_by_id=actor.id)
    for key, value in moved.items():
        if mr.get(key) != value:
            changes[key] = {"previous": mr.get(key), "current": value}
            mr[key] = value


def _state_event(
    data: dict[str, Any], mr: dict[str, Any], event: Any, changes: dict[str, Any], actor: User
) -> str:
    if event == "close" and mr["state"] == "opened":
        mr["state"], mr["closed_at"], mr["closed_by_id"] = "closed", now_iso(), actor.id
        changes["state_id"] = {"previous": 1, "current": 2}
        return "close"
    if event == "reopen" and mr["state"] == "closed":
        _check_open_duplicate(data, {**mr, "state": "opened"})
        mr["state"], mr["closed_at"], mr["closed_by_id"] = "opened", None, None
        mergeability.forget_check(mr)  # MergeRequests::ReopenService: mark_as_unchecked
        changes["state_id"] = {"previous": 2, "current": 1}
        return "reopen"
    return "update"


def merge(
    svc: Services, rec: dict[str, Any], iid: int, params: dict[str, Any], actor: User
) -> dict[str, Any]:
    """Accept an MR (`PUT .../merge`) as `actor`: a `--no-ff` merge commit on the target branch.

    https://docs.gitlab.com/api/merge_requests/#merge-a-merge-request, in
    lib/api/merge_requests.rb's order: 401 (may not merge), 405 (not open, draft,
    a branch gone: MergeRequest.mergeable_state_checks), then the synchronous
    mergeability check, kept like any check, and 422 `Branch cannot be merged`
    when git cannot merge (mergeable_git_state_checks; older GitLab answered
    406, see docs/SANDBOX.md), 409 when `sha` is not the source head.
    """
    refused: ApiError | None = None
    with svc.state.transaction() as data:
        rec = projects.get(data, rec["id"])  # the live record, not a stale copy
        mr = find(data, rec["id"], iid)
        if not may_merge(svc, rec, mr, actor):
            # https://docs.gitlab.com/api/merge_requests/#merge-a-merge-request: 401
            # "This user does not have permission to accept this merge request";
            # lib/api/merge_requests.rb checks it first (`unauthorized!` unless
            # `can_be_merged_by?`), before the MR's state.
            raise unauthorized()
        status = mergeability.live(svc, rec, mr)
        if mr["state"] != "opened" or status["detailed_merge_status"] in (
            "draft_status",
            "broken_status",
        ):
            raise ApiError(405, {"message": "405 Method Not Allowed"})
        status = mergeability.check_now(svc, rec, mr)  # kept even when refused below
        if status["detailed_merge_status"] != "mergeable":
            refused = ApiError(422, {"message": "Branch cannot be merged"})
        elif params.get("sha") and params["sha"] != status["sha"]:
            refused = ApiError(
                409, {"message": f"SHA does not match HEAD of source branch: {status['sha']}"}
            )
        else:
            _merge(svc, data, rec, mr, status, params, actor)
    if refused is not None:
        raise refused
    return mr


def _merge(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    status: dict[str, Any],
    params: dict[str, Any],
    actor: User,
) -> None:
    """Write the merge commit, move the target, remove the source if asked; emit events."""
    repo = svc.repo_path(rec)
    refs = status["diff_refs"]
    source_sha, target_sha = refs["head_sha"], refs["start_sha"]
    tree, _ = gitrepo.merge_tree(repo, target_sha, source_sha)
    message = params.get("merge_commit_message") or (
        f"Merge branch '{mr['source_branch']}' into '{mr['target_branch']}'\n\n"
        f"{mr['title']}\n\nSee merge request {rec['path_with_namespace']}!{mr['iid']}"
    )
    merge_sha = gitrepo.commit_tree(
        repo,
        str(tree),
        [target_sha, source_sha],
        message.rstrip("\n") + "\n",
        actor.git_identity(),
    )
    try:
        gitrepo.update_ref(repo, mr["target_branch"], merge_sha, target_sha)
    except GitError as e:  # the target moved under us: the merge failed
        raise ApiError(422, {"message": "Branch cannot be merged"}) from e
    changes: dict[str, Any] = {"state_id": {"previous": 1, "current": 3}}
    _touch(mr, changes, actor)
    remove = params.get("should_remove_source_branch")
    mr.update(
        state="merged",
        merged_at=mr["updated_at"],
        merge_commit_sha=merge_sha,
        merged_head_sha=source_sha,
        merged_base_sha=refs["base_sha"],
        merged_start_sha=target_sha,
        last_source_sha=source_sha,
        should_remove_source_branch=None if remove is None else to_bool(remove),
        merge_user_id=actor.id,
    )
    projects.touch(rec)
    emit_push(svc, data, rec, mr["target_branch"], target_sha, merge_sha, actor)
    wants_removal = to_bool(remove) if remove is not None else mr["force_remove_source_branch"]
    if (
        wants_removal
        and not projects.is_protected(data, rec["id"], mr["source_branch"])
        and mr["source_branch"] != rec["default_branch"]
    ):
        gitrepo.delete_branch(repo, mr["source_branch"])
        emit_push(svc, data, rec, mr["source_branch"], source_sha, gitrepo.ZERO_SHA, actor)
    events.emit_merge_request(svc, data, rec, mr, "merge", changes, actor)


def delete(
    svc: Services, rec: dict[str, Any], iid: int, actor: User, unmodified_since: str | None
) -> None:
    """Delete an MR (`DELETE .../merge_requests/:iid`), its notes and label events.

    https://docs.gitlab.com/api/merge_requests/#delete-a-merge-request: "Only for
    administrators and project owners". lib/api/merge_requests.rb: the MR is looked up
    (404), then `authorize!(:destroy_merge_request)` (403 below Owner), then
    `destroy_conditionally!`: 412 when `If-Unmodified-Since` is older than the MR's
    last change (lib/api/helpers.rb `check_unmodified_since!`), else 204. No webhook.
    """
    with svc.state.transaction() as data:
        rec = projects.get(data, rec["id"])
        mr = find(data, rec["id"], iid)
        users.require_access(actor, rec, users.OWNER_ACCESS)
        since = _http_date(unmodified_since)
        if since is not None and _http_date_of(mr["updated_at"]) > since:
            raise ApiError(412, {"message": "412 Precondition Failed"})
        del data["merge_requests"][str(mr["id"])]
        for key in [k for k, n in data["notes"].items() if n["noteable_id"] == mr["id"]]:
            del data["notes"][key]
        events_kept = data.get("label_events", {})
        for key in [k for k, e in events_kept.items() if e["merge_request_id"] == mr["id"]]:
            del events_kept[key]
        projects.touch(rec)


def _http_date(value: str | None) -> float | None:
    """An HTTP date (`If-Unmodified-Since`) as a timestamp; None when absent or unparsable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _http_date_of(iso: str) -> float:
    """A record's ISO 8601 time, to the second (HTTP dates have no fractions)."""
    return float(int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()))


def _label_events(
    svc: Services,
    data: dict[str, Any],
    rec: dict[str, Any],
    mr: dict[str, Any],
    before: list[str],
    after: list[str],
    actor: User,
    at: str,
) -> None:
    """Record who added and removed which labels: GitLab's resource label events
    (ResourceEvents::ChangeLabelsService: the additions, then the removals)."""
    added = [t for t in after if t not in before]
    removed = [t for t in before if t not in after]
    if not added and not removed:
        return
    store = data.setdefault("label_events", {})
    changed = [*((t, "add") for t in added), *((t, "remove") for t in removed)]
    labels = projects.labels_for(svc, data, rec["id"], [t for t, _ in changed])
    for (_, action), label in zip(changed, labels, strict=True):
        event_id = svc.state.next_id("resource_label_event")
        store[str(event_id)] = {
            "id": event_id,
            "merge_request_id": mr["id"],
            "user_id": actor.id,
            "created_at": at,
            "label_id": label["id"],
            "action": action,
        }


def label_events(data: dict[str, Any], mr: dict[str, Any]) -> list[dict[str, Any]]:
    """The MR's resource label events, oldest first."""
    found = [e for e in data.get("label_events", {}).values() if e["merge_request_id"] == mr["id"]]
    return sorted(found, key=lambda e: e["id"])


MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]*)")


def participants(data: dict[str, Any], mr: dict[str, Any]) -> list[User]:
    """Who took part: the author, whoever commented, whoever was @mentioned.

    app/models/concerns/issuable.rb: `participant :author`, `:notes_with_associations`
    (each note's author and mentions), `:assignees`, and the users mentioned in
    `attr_mentionable :title, :description`. The sandbox has no assignees, reviewers or
    system notes. Author first, then in order of appearance.
    """
    texts = [mr["title"], mr.get("description") or ""]
    found: list[User] = [users.by_id(mr.get("author_id"))]
    notes = sorted(
        (n for n in data["notes"].values() if n["noteable_id"] == mr["id"]), key=lambda n: n["id"]
    )
    mentioned = [name for text in texts for name in MENTION.findall(text)]
    for note in notes:
        found.append(users.by_id(note.get("author_id")))
        mentioned += MENTION.findall(note["body"])
    by_name = {u.username: u for u in (users.ADMIN, users.DEVELOPER)}
    found += [by_name[name] for name in mentioned if name in by_name]
    return list(dict.fromkeys(found))


def add_note(
    svc: Services, rec: dict[str, Any], iid: int, body: Any, actor: User
) -> dict[str, Any]:
    """Comment on an MR (`POST .../notes`) as `actor`, the note's author."""
    if not body:
        raise missing("body")
    with svc.state.transaction() as data:
        rec = projects.get(data, rec["id"])  # the live record, not a stale copy
        mr = find(data, rec["id"], iid)
        now = now_iso()
        note = {
            "id": svc.state.next_id("note"),
            "project_id": rec["id"],
            "body": str(body),
            "noteable_id": mr["id"],
            "noteable_iid": mr["iid"],
            "created_at": now,
            "updated_at": now,
            "author_id": actor.id,
        }
        data["notes"][str(note["id"])] = note
        mr["user_notes_count"] = mr.get("user_notes_count", 0) + 1
        events.emit_note(svc, data, rec, mr, note)
        return note


def on_push(
    svc: Services, rec: dict[str, Any], updates: dict[str, tuple[str, str]], actor: User
) -> None:
    """After `actor`'s push: push events, and `update` events (with `oldrev`) for open MRs."""
    with svc.state.transaction() as data:
        rec = projects.get(data, rec["id"])  # the live record, not a stale copy
        for branch, (before, after) in sorted(updates.items()):
            emit_push(svc, data, rec, branch, before, after, actor)
            if after == gitrepo.ZERO_SHA:
                continue
            for mr in of_project(data, rec["id"]):
                if mr["state"] == "opened" and mr["source_branch"] == branch:
                    now = now_iso()
                    changes = {"updated_at": {"previous": mr["updated_at"], "current": now}}
                    mr["updated_at"], mr["last_source_sha"] = now, after
                    events.emit_merge_request(
                        svc, data, rec, mr, "update", changes, actor, oldrev=before
                    )
        if any(after != gitrepo.ZERO_SHA for _, after in updates.values()):
            projects.note_content(svc, rec)
        projects.touch(rec)
