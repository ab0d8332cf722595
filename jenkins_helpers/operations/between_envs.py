"""`promote-env`: what one environment (or main) has and the next lacks, one MR per unit.

Units: each app whose app layer or image differs (its env-only settings never
move), and the platform layer when its files differ. From main (the platform
team's branch) to the first environment, main's platform and app layers travel
together as one `sync` unit. Each unit is applied on the target's own head, so
every MR is independent and carries exactly one unit; a unit that would not
evaluate or validate on the target opens no MR and says why (`blocked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from jenkins_helpers import deployed, git, gitlab, inputs, semver
from jenkins_helpers.cue import CueError
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import Environment, Settings
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.promotion import groups, naming, proposal, sources, target
from jenkins_helpers.promotion.model import AppVersion, ImageRef, Outcome
from jenkins_helpers.promotion.plan import Explain, apply_platform, apply_versions
from jenkins_helpers.promotion.provenance import Upstream
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject, Target
from jenkins_helpers.promotion.trailer import Provenance, Trailer, Unit


@dataclass(frozen=True, kw_only=True)
class UnitResult(Outcome):
    """What happened to one unit: its MR, or why none was opened (`blocked`)."""

    unit: str  # the app's name, `platform`, or `main` (the sync unit)
    kind: Unit
    tag: str | None = None
    reason: str | None = None  # why it is blocked
    changes: list[git.FileChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EnvPromotion:
    """What `promote-env` did; the CLI prints it, the webhook records it."""

    project: str
    source: str
    target: str
    source_commit: str
    dry_run: bool
    skipped: list[str] = field(default_factory=list)
    units: list[UnitResult] = field(default_factory=list)
    runner: str | None = None  # where it ran, when not here: a Jenkins build's URL

    @property
    def blocked(self) -> list[UnitResult]:
        return [u for u in self.units if u.status == "blocked"]


@dataclass(frozen=True)
class Selection:
    """Which units to move; None: every unit that differs. With `group`, `apps` move
    together, as one unit, in one MR (a coordinated release)."""

    apps: tuple[str, ...] | None = None
    platform: bool | None = None
    group: str | None = None

    @classmethod
    def from_trailer(cls, trailer: Trailer) -> Selection:
        """The units a trusted trailer says its MR carries: a group's apps as one unit;
        else its apps and, as written, whether it moves the platform layer (False stays
        False: from main, None would add the platform layer the MR did not carry)."""
        if trailer.unit == "group":
            return cls(tuple(sorted(trailer.apps)), None, trailer.group)
        return cls(tuple(sorted(trailer.apps)), trailer.platform)


def promote_env(
    *,
    source: str,
    target_env: str,
    project: str,
    gitlab_url: str | None,
    apps: Sequence[str] | None = None,
    platform: bool | None = None,
    group: str | None = None,
    skip_env: bool = False,
    dry_run: bool = False,
) -> EnvPromotion:
    """Check the inputs, connect, and promote from `source` to `target_env`."""
    source = inputs.branch_name(source)
    target_env = inputs.environment_name(target_env)
    project = inputs.project_path(project)
    group = inputs.group_name(group) if group is not None else None
    if group is not None and (apps or platform):
        raise BadInput("--group moves its own apps", "leave out --apps and --platform")
    selection = Selection(tuple(inputs.app_name(a) for a in apps) if apps else None, platform)
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        if group is not None:
            selection = Selection(groups.members(deployment, group, source), None, group)
        return promote_between(
            deployment, source, target_env, selection, skip_env=skip_env, dry_run=dry_run
        )


def promote_between(
    deployment: DeploymentProject,
    source: str,
    target_env: str,
    selection: Selection,
    *,
    skip_env: bool = False,
    dry_run: bool = False,
) -> EnvPromotion:
    """Promote the selected units from `source` (an environment or main) to `target_env`."""
    settings = deployment.settings
    to = settings.environment(target_env)
    from_main = source == settings.main_branch
    skipped = [] if from_main else _skipped(settings, settings.environment(source), to, skip_env)
    source_branch = settings.main_branch if from_main else settings.environment(source).branch
    # A sparse clone: the named apps' files, or none (each app unit narrows it to its
    # app); the planner fills it in when it must. From main, the whole branch.
    sparse = None if from_main else (selection.apps or ())
    with deployment.checkout(to.branch, sparse) as clone:
        commit = git.fetch_branch(clone.tree, source_branch, clone.auth)
        upstream = None if from_main else Upstream(deployment, settings.environment(source))
        route = _Route(deployment, clone, to, source, commit, tuple(skipped), dry_run, upstream)
        if from_main:
            units = _sync(route, selection)
        elif selection.group:
            units = [_group_unit(route, selection.group, selection.apps or ())]
        else:
            units = _units(route, selection)
    return EnvPromotion(deployment.project.path, source, to.name, commit, dry_run, skipped, units)


def _skipped(settings: Settings, source: Environment, to: Environment, skip: bool) -> list[str]:
    """The environments between source and target; refused unless `--skip-env` says so."""
    names = settings.names
    start, end = names.index(source.name), names.index(to.name)
    if end <= start:
        raise BadInput(
            f"{source.name} -> {to.name} goes backwards: promotion order is {' -> '.join(names)}",
            "to undo a change in an environment, use `gitops-helper revert` or `rollback`",
        )
    skipped = names[start + 1 : end]
    if skipped and not skip:
        raise BadInput(
            f"{source.name} -> {to.name} skips {', '.join(skipped)}",
            "pass --skip-env to promote past it (the MR is labelled and its trailer says so)",
        )
    if skip and not skipped:
        raise BadInput(f"--skip-env: {source.name} -> {to.name} skips nothing")
    return skipped


@dataclass(frozen=True)
class _Route:
    """One promotion run: where from (a fetched commit), where to (a clone of its branch)."""

    deployment: DeploymentProject
    clone: Target
    to: Environment
    source: str
    commit: str
    skipped: tuple[str, ...]
    dry_run: bool
    upstream: Upstream | None  # where the source's images came from; None from main

    def links(
        self, unknown: dict[str, str] | None = None, apps: Sequence[str] = ()
    ) -> proposal.Links:
        """With `argocd:`, what runs of `apps` in the source environment (deployed.py)."""
        argocd = self.deployment.settings.argocd
        running = (
            deployed.running(argocd, self.source, apps) if argocd and self.upstream and apps else {}
        )
        return proposal.Links(self.deployment.project.web_url, unknown or {}, running)


def _units(route: _Route, selection: Selection) -> list[UnitResult]:
    """The platform unit and every app unit that differ (as selected), each as its own MR.

    No selection: everything that differs. `--apps`: those apps. `--platform`: the
    platform layer (alone, or with the apps given).
    """
    tree, files = route.clone.tree, route.clone.files
    deployed = sources.apps_at(files, route.commit)
    unknown = sorted(set(selection.apps or ()) - set(deployed))
    if unknown:
        raise BadInput(
            f"{', '.join(unknown)}: not deployed in {route.source}",
            f"apps of {route.source}: {', '.join(deployed) or 'none'}",
        )
    everything = selection.apps is None and selection.platform is None
    apps = deployed if everything else list(selection.apps or ())
    platform_differs = bool(git.changed_paths(tree, "HEAD", route.commit, layout.PLATFORM_PATHS))
    results = []
    if platform_differs and (everything or selection.platform):
        results.append(_platform_unit(route))
    elif selection.platform:
        results.append(_nothing(route, "platform"))
    held = groups.in_flight(route.deployment, route.to.branch)
    for app in apps:
        version = sources.from_revision(files, route.commit, app)
        if version is None or sources.from_revision(files, "HEAD", app) == version:
            if not everything:
                results.append(_nothing(route, app))
            continue
        if app in held:
            results.append(
                _unopened(route, app, "app", "blocked", held[app], tag=version.image.tag)
            )
            continue
        back = _backwards(
            route.to.name, route.source, sources.from_revision(files, "HEAD", app), version
        )
        if back is not None:
            results.append(_unopened(route, app, "app", "noop", back, tag=version.image.tag))
            continue
        results.append(_app_unit(route, version, platform_differs))
    return results


def _backwards(
    target: str, source: str, here: AppVersion | None, version: AppVersion
) -> str | None:
    """Why moving `version` from `source` onto `target`, which runs `here`, would take it
    back to an older version (by SemVer, when both tags are versions); None if it would
    not. Going back is an operator's explicit act (`rollback`, `revert`, `set`), never a
    promotion's."""
    if here is None or not semver.older(version.image.tag, here.image.tag):
        return None
    return (
        f"{target} runs {version.app} {here.image.tag}, newer than {source}'s "
        f"{version.image.tag}: a promotion never goes back (to go back, use "
        f"`gitops-helper rollback --env {target} --app {version.app}`)"
    )


def _group_unit(route: _Route, group: str, apps: Sequence[str]) -> UnitResult:
    """Every member that differs, in one MR: no environment renders one without the others."""
    tree, files = route.clone.tree, route.clone.files
    versions = []
    for app in apps:
        version = sources.from_revision(files, route.commit, app)
        if version is None:
            reason = f"{app} of group {group} has no image in {route.source}"
            return _unopened(route, group, "group", "blocked", reason)
        here = sources.from_revision(files, "HEAD", app)
        back = _backwards(route.to.name, route.source, here, version)
        if back is not None:
            return _unopened(route, group, "group", "noop", back)
        if here != version:
            versions.append(version)
    if not versions:
        return _unopened(route, group, "group", "noop", "the target already has the group")
    git.reset_to(tree, route.to.branch)
    try:
        plan = apply_versions(tree, route.to, versions)
    except UserError as e:
        return _unopened(route, group, "group", "blocked", e.message)
    known, unknown = _provenance(route, {a.app: a.image for a in plan.apps})
    trailer = _trailer(route, "group", {a.app: a.image for a in plan.apps}, provenance=known)
    change = proposal.group_change(
        plan, replace(trailer, group=group), group, None, route.links(unknown, list(apps))
    )
    outcome = publish(route.clone, change, dry_run=route.dry_run)
    outcome = groups.supersede(route.deployment, outcome, route.to.branch, group, apps)
    return _result(outcome, change, group, "group", None, plan.warnings)


def _nothing(route: _Route, unit: str) -> UnitResult:
    kind: Unit = "platform" if unit == "platform" else "app"
    return _unopened(route, unit, kind, "noop", "the target already has it")


def _unopened(
    route: _Route,
    unit: str,
    kind: Unit,
    status: Literal["noop", "blocked"],
    reason: str,
    *,
    tag: str | None = None,
) -> UnitResult:
    """A unit that opens no MR, and why."""
    return UnitResult(
        status=status, dry_run=route.dry_run, unit=unit, kind=kind, tag=tag, reason=reason
    )


def _app_unit(route: _Route, version: AppVersion, platform_differs: bool) -> UnitResult:
    tree = route.clone.tree
    git.reset_to(tree, route.to.branch)
    git.narrow(tree, layout.sparse_patterns([version.app]))
    explain = _needs_platform(route, version) if platform_differs else None
    try:
        plan = apply_versions(tree, route.to, [version], explain=explain)
    except UserError as e:
        return _unopened(route, version.app, "app", "blocked", e.message, tag=version.image.tag)
    (app,) = plan.apps
    known, unknown = _provenance(route, {app.app: app.image})
    trailer = _trailer(route, "app", {app.app: app.image}, provenance=known)
    if app.app in known:  # the build's fields, as the first environment's MR has them
        origin = known[app.app]
        trailer = replace(
            trailer,
            app_repo=origin.app_repo,
            app_commit=origin.app_commit,
            build_url=origin.build_url,
        )
    lines = [f"From: {route.source} at {route.commit}"]
    lines += [f"Build: {trailer.build_url}"] if trailer.build_url else []
    change = proposal.app_change(plan, trailer, lines, None, route.links(unknown, [app.app]))
    return _published(route, change, version.app, "app", version.image.tag, plan.warnings)


def _platform_unit(route: _Route) -> UnitResult:
    tree = route.clone.tree
    git.reset_to(tree, route.to.branch)
    try:
        plan = apply_platform(tree, route.to, route.commit, layout.PLATFORM_PATHS)
    except UserError as e:
        return _unopened(route, "platform", "platform", "blocked", e.message)
    trailer = _trailer(route, "platform", {}, platform=True)
    title = naming.platform_title(route.to.name, route.source)
    change = proposal.platform_change(plan, trailer, title, "platform", route.links())
    return _published(route, change, "platform", "platform", None, plan.warnings)


def _sync(route: _Route, selection: Selection) -> list[UnitResult]:
    """main -> an environment: the platform layer and the app layers asked for, as one MR.

    Only the apps named (by --apps, or by the webhook from the files a merge into main
    touched): a first-party app's layer comes from its own repository through
    `promote`, and main's catalog copy of it must not overwrite that.
    """
    tree = route.clone.tree
    on_main = sources.app_files_at(tree, route.commit)
    unknown = sorted(set(selection.apps or ()) - set(on_main))
    if unknown:
        raise BadInput(
            f"{', '.join(unknown)}: no app layer on {route.source}",
            f"app layers on {route.source}: {', '.join(on_main) or 'none'}",
        )
    wanted = [layout.app_file(app) for app in selection.apps or ()]
    app_files = git.changed_paths(tree, "HEAD", route.commit, wanted) if wanted else []
    platform_files = (
        git.changed_paths(tree, "HEAD", route.commit, layout.PLATFORM_PATHS)
        if selection.platform is not False
        else []
    )
    if not app_files and not platform_files:
        return [_unopened(route, "main", "sync", "noop", "the target already has main's layers")]
    try:
        paths = [*(layout.PLATFORM_PATHS if platform_files else ()), *app_files]
        plan = apply_platform(tree, route.to, route.commit, paths)
    except UserError as e:
        return [_unopened(route, "main", "sync", "blocked", e.message)]
    deployed = set(sources.apps_at(route.clone.files, "HEAD"))
    moved = {
        v.app: v.image
        for path in app_files
        if (app := path.removeprefix(layout.APPS_DIR + "/").removesuffix(".cue")) in deployed
        and (v := sources.from_revision(route.clone.files, "HEAD", app)) is not None
    }
    trailer = _trailer(route, "sync", moved, platform=bool(platform_files))
    title = naming.sync_title(route.to.name, route.source)
    change = proposal.platform_change(plan, trailer, title, "sync", route.links())
    return [_published(route, change, "main", "sync", None, plan.warnings)]


def _trailer(
    route: _Route,
    unit: Unit,
    apps: dict[str, ImageRef],
    *,
    platform: bool = False,
    provenance: dict[str, Provenance] | None = None,
) -> Trailer:
    return Trailer(
        target_env=route.to.name,
        apps=apps,
        unit=unit,
        source_env=route.source,
        source_commit=route.commit,
        platform=platform,
        skipped=route.skipped,
        provenance=provenance or {},
    )


def _provenance(
    route: _Route, apps: dict[str, ImageRef]
) -> tuple[dict[str, Provenance], dict[str, str]]:
    """Each app's provenance in the source (from its trusted merged MR), and for the
    others why it is unknown; nothing from main (a sync has no build behind it)."""
    if route.upstream is None:
        return {}, {}
    found = {app: route.upstream.of(app, image) for app, image in apps.items()}
    known = {a: p for a, p in found.items() if isinstance(p, Provenance)}
    return known, {a: p for a, p in found.items() if isinstance(p, str)}


def _published(
    route: _Route, change: Change, unit: str, kind: Unit, tag: str | None, warnings: Sequence[str]
) -> UnitResult:
    outcome = publish(route.clone, change, dry_run=route.dry_run)
    return _result(outcome, change, unit, kind, tag, warnings)


def _result(
    outcome: Outcome,
    change: Change,
    unit: str,
    kind: Unit,
    tag: str | None,
    warnings: Sequence[str],
) -> UnitResult:
    return UnitResult.of(
        outcome,
        unit=unit,
        kind=kind,
        tag=tag,
        changes=list(change.files),
        warnings=list(warnings),
    )


def _needs_platform(route: _Route, version: AppVersion) -> Explain:
    """A CUE error while the platforms differ: the app needs what the target lacks."""

    def explain(error: CueError, env: Environment) -> UserError:
        return UserError(
            f"{version.app} {version.image.tag} needs platform changes not yet in {env.name}:"
            f"\n{error.message}",
            f"promote the platform layer first: gitops-helper promote-env --from "
            f"{route.source} --to {env.name} --platform",
        )

    return explain
