"""From a staged plan to the `Change` that proposes it: branch, title, labels, text, trailer.

One function per unit kind, so every command and the webhook name and describe the
same unit the same way (docs/PROMOTION.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jenkins_helpers.promotion import description, naming
from jenkins_helpers.promotion.plan import AppChange, EditPlan, Plan, PlatformPlan
from jenkins_helpers.promotion.publish import Change
from jenkins_helpers.promotion.trailer import Trailer, Unit


@dataclass(frozen=True)
class Links:
    """What an MR links besides its trailer: the deployment project's web URL (its
    commits) and, per app, why its provenance is unknown (provenance.py)."""

    project_url: str | None = None
    unknown: Mapping[str, str] = field(default_factory=dict)
    running: Mapping[str, str] = field(default_factory=dict)  # app -> what runs in the source


def app_change(
    plan: Plan, trailer: Trailer, lines: list[str], build_url: str | None, links: Links = Links()
) -> Change:
    """The MR of one app unit; `lines` end the commit message (where it came from)."""
    (app,) = plan.apps
    env = plan.env.name
    title = naming.title(app.app, app.image.tag, env)
    return Change(
        source_branch=naming.source_branch(env, app.app),
        title=title,
        description=description.render(_content(plan, app, trailer, build_url, links)),
        labels=naming.labels(app.app, env) + _skipping(trailer),
        identity=naming.identity_labels(app.app, env),
        commit_message=_message(title, [f"Image: {app.image.ref}", *lines]),
        files=plan.changes,
    )


def group_change(
    plan: Plan, trailer: Trailer, group: str, build_url: str | None, links: Links = Links()
) -> Change:
    """The MR of a release group: every member's image and app layer, in one MR."""
    env = plan.env.name
    title = naming.group_title(group, {a.app: a.image.tag for a in plan.apps}, env)
    route = description.route(trailer, build_url, links.project_url)
    text = "\n\n".join(
        [
            f"Promotes the release group **{group}** {route}: "
            "its apps move together, in this one merge request.",
            *(
                description.render(_content(plan, app, trailer, None, links), parts_only=True)
                for app in plan.apps
            ),
            description.manifest_summary(env, plan.changes),
            trailer.to_comment(),
        ]
    )
    return Change(
        source_branch=naming.group_branch(env, group),
        title=title,
        description=text + "\n",
        labels=naming.group_labels(group, [a.app for a in plan.apps], env) + _skipping(trailer),
        identity=("promotion", f"group::{group}", f"env::{env}"),
        commit_message=_message(title, [f"Image: {a.image.ref}" for a in plan.apps]),
        files=plan.changes,
    )


def platform_change(
    plan: PlatformPlan, trailer: Trailer, title: str, unit: str, links: Links = Links()
) -> Change:
    """The MR of the platform layer (`unit` platform) or of main's changes (`unit` sync)."""
    env = plan.env.name
    branch = naming.platform_branch(env) if unit == "platform" else naming.sync_branch(env)
    return Change(
        source_branch=branch,
        title=title,
        description=description.render_platform(
            env, plan.diff, plan.changes, trailer, plan.warnings, links.project_url
        ),
        labels=naming.unit_labels(unit, env) + _skipping(trailer),
        identity=naming.unit_identity(unit, env),
        commit_message=_message(title, [f"Files: {', '.join(plan.files) or '-'}"]),
        files=plan.changes,
    )


def operation_change(
    plan: EditPlan,
    title: str,
    kind: str,
    unit: Unit,
    moves: bool,
    *,
    app_repo: str | None = None,
) -> Change:
    """The MR of an operation on one app in one environment (`set`, `rollback`,
    `onboard`, `decommission`): branch `<kind>/<env>/<app>`; `[no-promote]` unless
    it `moves` the app's new image on."""
    env = plan.env.name
    trailer = Trailer(
        target_env=env,
        apps={plan.app: plan.image} if moves and plan.image else {},
        unit=unit,
        app=plan.app,
        app_repo=app_repo,
    )
    return Change(
        source_branch=f"{kind}/{env}/{plan.app}",
        title=title,
        description=description.render_edit(plan, title, trailer),
        labels=("gitops", kind, f"app::{plan.app}", f"env::{env}")
        + (() if moves else (naming.NO_PROMOTE,)),
        identity=(kind, f"app::{plan.app}", f"env::{env}"),
        commit_message=f"{title}\n",
        files=plan.changes,
    )


def _content(
    plan: Plan, app: AppChange, trailer: Trailer, build_url: str | None, links: Links
) -> description.Content:
    return description.Content(
        app=app.app,
        env=plan.env.name,
        image=app.image,
        old_image=app.old_image,
        app_file=app.app_file,
        app_layer_diff=app.app_layer_diff,
        changes=plan.changes,
        kept=app.kept,
        trailer=trailer,
        build_url=build_url,
        warnings=plan.warnings,
        provenance=trailer.provenance.get(app.app) or links.unknown.get(app.app),
        project_url=links.project_url,
        running=links.running.get(app.app),
    )


def _skipping(trailer: Trailer) -> tuple[str, ...]:
    """`skip-env` on an MR that skips environments (promote-env --skip-env)."""
    return (naming.SKIP_ENV,) if trailer.skipped else ()


def _message(title: str, lines: list[str]) -> str:
    return "\n".join([title, "", *lines]) + "\n"
