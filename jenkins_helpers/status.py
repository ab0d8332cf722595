"""The status board: every app in every environment, what is on its way, what diverged.

"What runs where, and why does prod differ from stage?" is spread over one env.cue
per environment branch and a trail of merge requests. The board reads it through
the API, without a clone: one env.cue per environment branch, one listing of the
tool's open MRs, one listing of recent merges per branch (main included). Each
difference between neighbouring environments names its cause: the promotion pending,
a change stuck on its way (nothing open carries it on), or the MR that made one of
them differ on purpose (a hotfix, a rollback, a revert, a skipped environment).
Rendered manifests are compared only when asked (`check_manifests`): that needs a
clone and a CUE evaluation per environment. With `argocd:` in gitops.yaml, each cell
also holds what Argo CD reports runs there, and its drift (deployed.py): one list of
Applications and one branch head per environment.

`gitops-helper status` prints the board; the webhook serves it at `GET /`.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from jenkins_helpers import deployed as argo
from jenkins_helpers.argocd import AppState, ArgoCD
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout, render
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.forge import MergeRequest
from jenkins_helpers.promotion import naming, trust
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import PROMOTIONS

RECENT = 50  # merged MRs read per branch: enough to explain the last few changes of each app
TOOL_LABEL = "gitops"  # every MR the tool opens carries it

CellState = Literal["deployed", "onboarded", "absent"]
# off: no `argocd:` in gitops.yaml; read; unreadable: a warning says why
ArgoRead = Literal["off", "read", "unreadable"]
# ahead: a change of its own; behind: lacks the neighbour's version; back: went back
Kind = Literal["ahead", "behind", "back"]
Cause = Literal[
    "hotfix",  # not meant to travel: a `[no-promote]` set, a person's `[no-promote]` MR
    "pending",  # a promotion open into the environment carries the neighbour's version
    "stuck",  # a change meant to travel on, and no MR carries it: reconcile
    "revert",
    "rollback",
    "skip",  # a promotion that skipped environments
    "build",  # a build promoted straight to a later environment
    "set",  # a `set` meant to travel on, made in this environment
    "edit",  # a person's MR meant to travel on, made in this environment
    "promotion",  # from another environment than the neighbour, skipping none
    "onboard",
    "decommission",
]


@dataclass(frozen=True)
class MergeRequestRef:
    """A merge request as the board shows it: a link, and what it concerns."""

    iid: int
    title: str
    url: str
    state: str  # opened, merged
    kind: str  # the trailer's unit (app, settings, rollback, group...); `other` without one
    env: str | None  # the environment it targets; None: main or another branch
    target_branch: str
    apps: tuple[str, ...]  # the apps it concerns
    group: str | None = None
    source_env: str | None = None
    skipped: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)  # image tags it brings, per app
    merged_at: str | None = None
    promotes: bool = True  # whether its merge travels on: not `[no-promote]`, not a revert


@dataclass(frozen=True)
class Cell:
    """One app in one environment."""

    env: str
    state: CellState  # deployed (has an image tag), onboarded (an entry, no image yet), absent
    tag: str | None = None
    digest: str | None = None
    replicas: int | None = None  # when env.cue sets a plain number
    pending: tuple[int, ...] = ()  # open MRs into this environment concerning the app
    diverged: tuple[str, ...] = ()  # kinds of its divergences: ahead, behind, back
    deployed: argo.Deployed | None = None  # what Argo CD reports; None: not read, or none


@dataclass(frozen=True)
class Row:
    """One app across the environments, in promotion order."""

    app: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class EnvColumn:
    """One environment: its branch, what is pending for it as a whole, its manifests."""

    name: str
    branch: str
    pending: tuple[int, ...] = ()  # open MRs into it that concern no one app (platform, sync)
    stale: tuple[str, ...] | None = None  # stale or hand-edited manifests; None: not checked
    problem: str | None = None  # env.cue unreadable, or the manifest check failed


@dataclass(frozen=True)
class Divergence:
    """Why an app differs between two neighbouring environments (the causes:
    docs/WEBHOOK.md, "Status board")."""

    app: str
    env: str  # the environment that diverged (whose change, or lack of one, explains it)
    other: str  # the neighbour it is compared with
    kind: Kind
    cause: Cause
    text: str  # e.g. `prod ahead of stage: hotfix !12`, `stage reverted !20`
    mr_iid: int | None = None
    mr_url: str | None = None


@dataclass(frozen=True)
class Decommission:
    """An app being removed: where it still is, and the MRs removing it."""

    app: str
    remaining: tuple[str, ...]  # environments (and the main branch) that still have it
    mrs: tuple[MergeRequestRef, ...]


@dataclass(frozen=True)
class Board:
    """Apps x environments with pending MRs, divergences, decommissions, stale manifests."""

    project: str
    generated_at: str  # ISO 8601, UTC
    environments: tuple[EnvColumn, ...]  # promotion order
    rows: tuple[Row, ...]
    pending: tuple[MergeRequestRef, ...]
    divergences: tuple[Divergence, ...]
    decommissions: tuple[Decommission, ...]
    manifests_checked: bool = False
    warnings: tuple[str, ...] = ()
    argocd: ArgoRead = "off"
    # why Argo CD could not be read: may name its URL, so the web board shows no more
    # than that it could not (webhook/board.py)
    argocd_problem: str | None = None
    heads: dict[str, str] = field(default_factory=dict)  # env -> its branch head (argocd)

    @property
    def drift(self) -> list[tuple[str, Cell]]:
        """Every (app, cell) whose Application drifted, in table order."""
        return [(r.app, c) for r in self.rows for c in r.cells if c.deployed and c.deployed.drift]

    def merge_request(self, iid: int) -> MergeRequestRef | None:
        """A pending MR by its iid."""
        return next((mr for mr in self.pending if mr.iid == iid), None)

    def divergences_at(self, app: str, env: str) -> list[Divergence]:
        """The divergences of `app` explained by `env`."""
        return [d for d in self.divergences if d.app == app and d.env == env]


@dataclass(frozen=True)
class _Entry:
    """An app's env.cue entry, as far as the board shows it."""

    tag: str | None
    digest: str | None
    replicas: int | None


@dataclass
class _Reading:
    """What GitLab said, read once."""

    entries: dict[str, dict[str, _Entry]] = field(default_factory=dict)  # env -> app -> entry
    problems: dict[str, str] = field(default_factory=dict)  # env -> why env.cue was unreadable
    open_mrs: list[MergeRequestRef] = field(default_factory=list)
    merged: dict[str, list[MergeRequestRef]] = field(default_factory=dict)  # newest first
    by_merge_commit: dict[str, MergeRequestRef] = field(default_factory=dict)
    reverts: dict[int, str] = field(default_factory=dict)  # a revert's iid -> the commit undone
    warnings: list[str] = field(default_factory=list)
    argocd: ArgoRead = "off"
    argocd_problem: str | None = None
    unwatched: frozenset[str] = frozenset()  # environments gitops.yaml turns Argo CD off for
    applications: dict[str, AppState] = field(default_factory=dict)  # by name
    heads: dict[str, str] = field(default_factory=dict)  # env -> branch head


def board(
    deployment: DeploymentProject,
    *,
    check_manifests: bool = False,
    recent: int = RECENT,
    argocd: ArgoCD | None = None,
) -> Board:
    """The status board of the deployment project (docs/WEBHOOK.md, "Status board");
    with `argocd:` in gitops.yaml, Argo CD's Applications beside it (read through
    `argocd`, or a client of those settings)."""
    envs = deployment.settings.environments
    reading = _read(deployment, recent)
    _read_argocd(deployment, reading, argocd)
    apps = sorted({app for entries in reading.entries.values() for app in entries})
    divergences = _divergences(reading, envs, apps)
    columns = tuple(
        EnvColumn(
            env.name,
            env.branch,
            tuple(mr.iid for mr in reading.open_mrs if mr.env == env.name and not mr.apps),
            problem=reading.problems.get(env.name),
        )
        for env in envs
    )
    if check_manifests:
        columns = tuple(
            _check_manifests(deployment, env, c) for env, c in zip(envs, columns, strict=True)
        )
    return Board(
        project=deployment.project.path,
        generated_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        environments=columns,
        rows=tuple(
            Row(app, tuple(_cell(reading, env.name, app, divergences) for env in envs))
            for app in apps
        ),
        pending=tuple(sorted(reading.open_mrs, key=lambda mr: mr.iid)),
        divergences=tuple(divergences),
        decommissions=tuple(_decommissions(deployment, reading)),
        manifests_checked=check_manifests,
        warnings=tuple(reading.warnings),
        argocd=reading.argocd,
        argocd_problem=reading.argocd_problem,
        heads=reading.heads,
    )


def _cell(reading: _Reading, env: str, app: str, divergences: Sequence[Divergence]) -> Cell:
    entry = reading.entries[env].get(app)
    pending = tuple(mr.iid for mr in reading.open_mrs if mr.env == env and app in mr.apps)
    diverged = tuple(sorted({d.kind for d in divergences if d.app == app and d.env == env}))
    running = _deployed(reading, env, app, entry)
    if entry is None:
        return Cell(env, "absent", pending=pending, diverged=diverged, deployed=running)
    return Cell(
        env,
        "deployed" if entry.tag else "onboarded",
        entry.tag,
        entry.digest,
        entry.replicas,
        pending,
        diverged,
        running,
    )


def _deployed(reading: _Reading, env: str, app: str, entry: _Entry | None) -> argo.Deployed | None:
    """What Argo CD reports for `app` in `env`; an app with an image there must have an
    Application, unless gitops.yaml turns Argo CD off for `env`."""
    if reading.argocd != "read":
        return None
    expected = entry is not None and entry.tag is not None and env not in reading.unwatched
    return argo.deployed(reading.applications, env, app, reading.heads.get(env), expected=expected)


def _read_argocd(deployment: DeploymentProject, reading: _Reading, given: ArgoCD | None) -> None:
    """One list of Applications, then each environment's branch head (in that order: a
    merge between the two reads shows as `behind`, never the other way round)."""
    settings = deployment.settings.argocd
    if settings is None:
        return
    reading.unwatched = settings.off
    try:
        reading.applications = argo.read(settings, given)
    except UserError as e:
        reading.argocd, reading.argocd_problem = "unreadable", argo.problem(e)
        return
    gl, path = deployment.gl, deployment.project.path
    for env in deployment.settings.environments:
        head = gl.branch_head(path, env.branch)
        if head:
            reading.heads[env.name] = head
    reading.argocd = "read"


# --- reading GitLab: one env.cue per environment, one listing per branch, one of open MRs --


def _read(deployment: DeploymentProject, recent: int) -> _Reading:
    gl, path, settings = deployment.gl, deployment.project.path, deployment.settings
    env_of = {e.branch: e.name for e in settings.environments}
    reading = _Reading()
    for env in settings.environments:
        text = gl.file_text(path, layout.ENV_FILE, env.branch) or ""
        try:
            reading.entries[env.name] = _entries(text, env.name, reading.warnings)
        except editor.EditError as e:
            reading.entries[env.name] = {}
            reading.problems[env.name] = f"{layout.ENV_FILE} cannot be read: {e.message}"
    merged = {
        branch: gl.merge_requests(
            path, labels=(), target_branch=branch, state="merged", newest=recent
        )
        for branch in (settings.main_branch, *env_of)
    }
    opened = gl.merge_requests(path, labels=(TOOL_LABEL,), target_branch=None)
    _read_mrs(deployment, reading, merged, opened)
    return reading


def _read_mrs(
    deployment: DeploymentProject,
    reading: _Reading,
    merged: dict[str, list[MergeRequest]],
    opened: list[MergeRequest],
) -> None:
    """The board's view of the recent merges per branch and of the tool's open MRs."""
    env_of = {e.branch: e.name for e in deployment.settings.environments}
    for branch, found in merged.items():
        newest = sorted(found, key=lambda mr: mr.merged_at or "", reverse=True)
        reading.merged[branch] = [_ref(deployment, mr, env_of, reading) for mr in newest]
    reading.open_mrs = [_ref(deployment, mr, env_of, reading, pending=True) for mr in opened]
    _resolve_reverts(reading)


def _entries(text: str, env: str, warnings: list[str]) -> dict[str, _Entry]:
    found = {}
    for app in editor.child_labels(text, ("apps",)):
        try:
            image = editor.get_value(text, ("apps", app, "env", "deployment", "image"))
            replicas = editor.get_value(text, ("apps", app, "env", "replicas"))
        except editor.EditError as e:
            warnings.append(f"{env}: the entry of {app} cannot be read: {e.message}")
            image, replicas = None, None
        image = image if isinstance(image, dict) else {}
        found[app] = _Entry(
            _text(image.get("tag")),
            _text(image.get("digest")),
            replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None,
        )
    return found


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value) else None


def _ref(
    deployment: DeploymentProject,
    mr: MergeRequest,
    env_of: dict[str, str],
    reading: _Reading,
    *,
    pending: bool = False,
) -> MergeRequestRef:
    """The board's view of an MR, from its trailer if the tool opened it (else from its
    labels: anybody can write a trailer, and nobody sees it). A `pending` (open) MR's
    trailer counts only while its head commit carries it: an edited description must
    not make a stuck change look pending."""
    if pending:
        trailer, ignored = trust.read_proposal(deployment, mr)
    else:
        trailer, ignored = trust.read_own(deployment, mr)
    if ignored and ignored != trust.NOT_OURS:  # unreadable, or edited: worth a warning
        reading.warnings.append(f"!{mr.iid}: {ignored}")
    labelled = {label.split("::", 1)[1] for label in mr.labels if label.startswith("app::")}
    group = next((lb.split("::", 1)[1] for lb in mr.labels if lb.startswith("group::")), None)
    ref = MergeRequestRef(
        iid=mr.iid,
        title=mr.title,
        url=mr.url,
        state=mr.state,
        kind=trailer.unit if trailer else "other",
        env=env_of.get(mr.target_branch),
        target_branch=mr.target_branch,
        apps=tuple(sorted(labelled)),
        group=group,
        merged_at=mr.merged_at,
        promotes=naming.no_promote_reason(mr.title, mr.description, mr.labels) is None,
    )
    if mr.merge_commit_sha:
        reading.by_merge_commit[mr.merge_commit_sha] = ref
    if trailer is None:
        return ref
    if trailer.unit == "revert" and trailer.source_commit:
        reading.reverts[mr.iid] = trailer.source_commit
    apps = labelled | set(trailer.apps) | ({trailer.app} if trailer.app else set())
    return replace(
        ref,
        env=trailer.target_env,
        apps=tuple(sorted(apps)),
        group=trailer.group or group,
        source_env=trailer.source_env,
        skipped=trailer.skipped,
        tags={app: image.tag for app, image in trailer.apps.items()},
    )


def _resolve_reverts(reading: _Reading) -> None:
    """A revert's trailer names the merge commit it undoes, not the apps: take them from
    the reverted MR, when it is among the recent merges."""

    def resolved(mr: MergeRequestRef) -> MergeRequestRef:
        undone = reading.by_merge_commit.get(reading.reverts.get(mr.iid, ""))
        return replace(mr, apps=undone.apps) if undone and not mr.apps else mr

    for branch, merged in reading.merged.items():
        reading.merged[branch] = [resolved(mr) for mr in merged]
    reading.open_mrs = [resolved(mr) for mr in reading.open_mrs]


# --- divergences between neighbouring environments --------------------------------------
# Pure over a _Reading (tests/promotion/test_status_causes.py). The causes and what to do
# about each: docs/WEBHOOK.md, "Status board".


def _divergences(
    reading: _Reading, envs: Sequence[Environment], apps: Iterable[str]
) -> list[Divergence]:
    """Every divergence between neighbouring environments, the stuck ones first (they call
    for action), then by app and promotion order; one per change (an MR explains its
    environment against both neighbours)."""
    found: list[Divergence] = []
    for app in apps:
        for before, env in itertools.pairwise(envs):
            seen = _pair(reading, app, before, env)
            if seen is not None and not any(
                (d.env, d.kind, d.mr_iid) == (seen.env, seen.kind, seen.mr_iid)
                for d in found
                if d.app == app
            ):
                found.append(seen)
    return sorted(found, key=lambda d: d.cause != "stuck")  # stable: keeps the order else


def _pair(reading: _Reading, app: str, before: Environment, env: Environment) -> Divergence | None:
    """Why `app` differs between `before` and the environment after it, if it does.

    A promotion open into `env` carrying `before`'s version: `pending`. Else the newest
    merge into `env` that changed the app, unless it was the promotion from `before`:
    `env`'s own change (a hotfix, a rollback, a revert, a skip...), unless a change into
    `before` that travels on is newer. Else the newest merge into `before` that changed
    the app: its own change if it does not travel (a hotfix, rollback or revert there),
    else `stuck`, since nothing carries it into `env`.
    """
    here = reading.entries[env.name].get(app)
    there = reading.entries[before.name].get(app)
    if here is None:
        return None  # not in this environment: nothing runs here to compare
    if there is not None and (here.tag, here.digest) == (there.tag, there.digest):
        return None
    latest = _latest(reading, env.branch, app)
    own = latest if here.tag and latest and not _promoted_from(latest, before.name) else None
    if there is None or there.tag is None:
        # Nothing to catch up with: only a change of its own explains it (a skip).
        return _own(app, env.name, before.name, own) if own is not None else None
    carrying = _open_promotions(reading, env.name, app)
    pending = next((mr for mr in carrying if mr.tags[app] == there.tag), None)
    if pending is not None:
        text = f"{env.name} behind {before.name}: !{pending.iid} pending ({app} {there.tag})"
        return Divergence(
            app, env.name, before.name, "behind", "pending", text, pending.iid, pending.url
        )
    earlier = _latest(reading, before.branch, app)
    travels = earlier is not None and _travels(earlier, app)
    if own is not None and not (travels and earlier and _when(earlier) > _when(own)):
        return _own(app, env.name, before.name, own)
    if earlier is not None and not travels:
        return _own(app, before.name, env.name, earlier)
    return _stuck(app, before.name, env.name, there.tag, earlier, carrying)


def _latest(reading: _Reading, branch: str, app: str) -> MergeRequestRef | None:
    """The newest recent merge into `branch` that changed `app`'s image (or its entry)."""
    return next((mr for mr in reading.merged.get(branch, []) if _moves_image(mr, app)), None)


def _moves_image(mr: MergeRequestRef, app: str) -> bool:
    if app not in mr.apps:
        return False
    if mr.kind in PROMOTIONS:
        return app in mr.tags
    if mr.kind == "settings":  # `set`: only an image change is a divergence
        return app in mr.tags or mr.title.startswith(f"Set {app} image ")
    return True  # rollback, revert, onboard, decommission, a hand-made MR labelled app::


def _promoted_from(mr: MergeRequestRef, before: str) -> bool:
    return mr.kind in PROMOTIONS and mr.source_env == before and not mr.skipped


def _travels(mr: MergeRequestRef, app: str) -> bool:
    """Whether the merge of `mr` carries `app` on to the next environment, as the cascade
    reads it: not `[no-promote]` (nor labelled so, nor a revert), and the app among what
    the tool's trailer moves; a person's MR (or one whose trailer is not trusted) by
    what it changed, which the board knows by its `app::` label."""
    if not mr.promotes:
        return False
    return app in (mr.apps if mr.kind == "other" else mr.tags)


def _when(mr: MergeRequestRef) -> str:
    return mr.merged_at or ""  # ISO 8601 as GitLab writes it: ordered as text (reconcile.py)


def _open_promotions(reading: _Reading, env: str, app: str) -> list[MergeRequestRef]:
    """The tool's open promotions into `env` carrying `app`, newest first."""
    found = (
        mr for mr in reading.open_mrs if mr.env == env and mr.kind in PROMOTIONS and app in mr.tags
    )
    return sorted(found, key=lambda mr: -mr.iid)


def _own(app: str, env: str, other: str, mr: MergeRequestRef) -> Divergence:
    """`env` differs from `other` by a change of its own, `mr`."""
    ref = f"!{mr.iid}"
    kind: Kind = "ahead"
    cause: Cause
    if mr.kind in PROMOTIONS and mr.skipped:
        cause, text = "skip", f"{env} skipped {', '.join(mr.skipped)}: {ref}"
        text += f" from {mr.source_env}" if mr.source_env else ""
    elif mr.kind in PROMOTIONS:
        cause, text = _promotion(env, other, mr)
    elif mr.kind == "rollback":
        kind, cause, text = "back", "rollback", f"{env} rolled back {ref}"
    elif mr.kind == "revert":
        kind, cause, text = "back", "revert", f"{env} reverted {ref}"
    elif mr.kind == "onboard":
        cause, text = "onboard", f"{env} ahead of {other}: onboarded {ref}"
    elif mr.kind == "decommission":
        cause, text = "decommission", f"{env} ahead of {other}: decommissioned {ref}"
    elif _travels(mr, app):  # a `set` (or a person's MR) meant to travel on from here
        cause = "set" if mr.kind == "settings" else "edit"
        text = f"{env} ahead of {other}: {'set' if cause == 'set' else 'changed by'} {ref}"
    else:  # a `[no-promote]` set, a person's MR
        cause, text = "hotfix", f"{env} ahead of {other}: hotfix {ref}"
    return Divergence(app, env, other, kind, cause, text, mr.iid, mr.url)


def _promotion(env: str, other: str, mr: MergeRequestRef) -> tuple[Cause, str]:
    if mr.source_env is None:
        return "build", f"{env} ahead of {other}: a build promoted straight to {env} !{mr.iid}"
    return "promotion", f"{env} ahead of {other}: promoted from {mr.source_env} !{mr.iid}"


def _stuck(
    app: str,
    source: str,
    env: str,
    tag: str,
    change: MergeRequestRef | None,
    carrying: Sequence[MergeRequestRef],
) -> Divergence:
    """`env` lacks `source`'s version of `app`, which should travel on, and nothing open
    carries it there (an open MR of an older version does not: reconcile updates it)."""
    what = f"{_noun(change)} ({app} {tag})" if change else f"{app} {tag}"
    where = (
        f"!{carrying[0].iid} into {env} carries {carrying[0].tags[app]}"
        if carrying
        else f"no MR into {env} carries it"
    )
    text = f"{env} behind {source}: {what} is stuck, {where}: run `gitops-helper reconcile`"
    iid, url = (change.iid, change.url) if change else (None, None)
    return Divergence(app, env, source, "behind", "stuck", text, iid, url)


def _noun(mr: MergeRequestRef) -> str:
    """A merged change, in a word or two: `set !83`, `build !12`, `promotion !14`."""
    if mr.kind in PROMOTIONS:
        return f"{'build' if mr.source_env is None else 'promotion'} !{mr.iid}"
    names = {"settings": "set", "onboard": "onboarding"}
    return f"{names[mr.kind]} !{mr.iid}" if mr.kind in names else f"!{mr.iid}"


# --- decommissions and manifests --------------------------------------------------------


def _decommissions(deployment: DeploymentProject, reading: _Reading) -> list[Decommission]:
    """Apps with a decommission MR (open or merged) still in an environment or on main."""
    mrs = [
        mr
        for mr in (*reading.open_mrs, *(m for ms in reading.merged.values() for m in ms))
        if mr.kind == "decommission"
    ]
    if not mrs:
        return []
    main = deployment.settings.main_branch
    on_main = deployment.gl.blob_ids(
        deployment.project.path, main, layout.APPS_DIR, recursive=False
    )
    found = []
    for app in sorted({app for mr in mrs for app in mr.apps}):
        remaining = [env for env, entries in reading.entries.items() if app in entries]
        remaining += [main] if layout.app_file(app) in on_main else []
        if remaining:
            its = tuple(sorted((mr for mr in mrs if app in mr.apps), key=lambda mr: mr.iid))
            found.append(Decommission(app, tuple(remaining), its))
    return found


def _check_manifests(deployment: DeploymentProject, env: Environment, col: EnvColumn) -> EnvColumn:
    """The manifests `env`'s branch should have, compared with those it has (a clone and
    one CUE evaluation)."""
    try:
        with deployment.checkout(env.branch) as clone:
            _, stale = render.compare(clone.tree, env.name)
    except UserError as e:
        problem = f"manifests not checked: {e.message}"
        return replace(col, problem=f"{col.problem}; {problem}" if col.problem else problem)
    return replace(col, stale=tuple(stale))
