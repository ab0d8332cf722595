"""`set` and `rollback`: one app's entry in one environment, changed by MR.

`set` is the operator's tool for a hotfix (D1: an image or a ConfigMap fix straight
to prod) and for a third-party bump (D4: postgres 17 in dev, then the chain carries
it). Values go through the structural editor, so nothing else in env.cue moves.
A new image cascades like a build unless `--no-promote`; env-only values never do.

`rollback` puts an app's image in one environment back to an earlier tag (E4):
only that app's tag and digest change, and the MR is `[no-promote]`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jenkins_helpers import git, gitlab, inputs
from jenkins_helpers.cue import get_engine
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.promotion import naming, target
from jenkins_helpers.promotion.model import ImageRef, Outcome
from jenkins_helpers.promotion.plan import (
    EditPlan,
    SettingChange,
    apply_edits,
    image_edits,
    literals_dotted,
)
from jenkins_helpers.promotion.proposal import operation_change
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject, Target
from jenkins_helpers.promotion.trailer import Unit

# How far back `rollback --to previous` looks in the environment branch's history.
HISTORY_DEPTH = 200
# Below `apps."<app>".env`: the image, which only --image-tag, promote and rollback change.
IMAGE_PATH = ("deployment", "image")


@dataclass(frozen=True, kw_only=True)
class EditResult(Outcome):
    """What `set` or `rollback` did."""

    project: str
    env: str
    app: str
    image: str | None  # the image after the change
    old_image: str | None
    settings: list[dict[str, Any]] = field(default_factory=list)
    promotes: bool = False  # whether merging it cascades to the next environment
    warnings: list[str] = field(default_factory=list)


def set_values(
    *,
    env: str,
    app: str,
    project: str,
    gitlab_url: str | None,
    image_tag: str | None = None,
    digest: str | None = None,
    values: Sequence[str] = (),
    promote: bool = True,
    dry_run: bool = False,
) -> EditResult:
    """Propose `app`'s new image tag and/or env values (`path=value`) in `env`."""
    env = inputs.environment_name(env)
    app = inputs.app_name(app)
    project = inputs.project_path(project)
    tag = inputs.image_tag(image_tag) if image_tag is not None else None
    digest = inputs.image_digest(digest) if digest is not None else None
    if digest is not None and tag is None:
        raise BadInput("--digest needs --image-tag", "give the tag the digest belongs to")
    edits = [parse_setting(v) for v in values]
    if tag is None and not edits:
        raise BadInput("nothing to set", "give --image-tag and/or --set PATH=VALUE")
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        environment = deployment.settings.environment(env)
        with deployment.checkout(environment.branch) as clone:
            _require_app(clone, app)
            if tag is not None:
                edits += [(path[3:], v) for path, v in image_edits(app, ImageRef("-", tag, digest))]
            plan = apply_edits(clone.tree, environment, app, edits)
            plan = with_inherited(clone.tree, plan, [path for path, _ in edits])
            moved = promote and tag is not None and plan.image is not None
            unit: Unit = "settings"
            what = _what(plan)
            title = f"Set {app} {what} in {env}" + ("" if moved else f" {naming.NO_PROMOTE_MARK}")
            change = operation_change(plan, title, "set", unit, moved)
            return _result(deployment, clone, plan, change, moved, dry_run)


def rollback(
    *,
    env: str,
    app: str,
    to: str,
    project: str,
    gitlab_url: str | None,
    dry_run: bool = False,
) -> EditResult:
    """Propose `app`'s image in `env` back at tag `to` (or `previous`: the tag before)."""
    env = inputs.environment_name(env)
    app = inputs.app_name(app)
    project = inputs.project_path(project)
    wanted = None if to == "previous" else inputs.image_tag(to)
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        environment = deployment.settings.environment(env)
        with deployment.checkout(environment.branch) as clone:
            _require_app(clone, app)
            current = _image(clone, "HEAD", app)
            old = _earlier(clone, app, current) if wanted is None else (wanted, None)
            if old[0] == current[0] and old[1] == current[1]:
                raise BadInput(
                    f"{app} already runs {old[0]} in {env}",
                    "name another tag, or `previous` for the one it ran before",
                )
            edits = [(p[3:], v) for p, v in image_edits(app, ImageRef("-", old[0], old[1]))]
            plan = apply_edits(clone.tree, environment, app, edits)
            title = f"Roll back {app} to {old[0]} in {env} {naming.NO_PROMOTE_MARK}"
            change = operation_change(plan, title, "rollback", "rollback", False)
            return _result(deployment, clone, plan, change, False, dry_run)


def with_inherited(tree: Path, plan: EditPlan, paths: Sequence[editor.CuePath]) -> EditPlan:
    """`plan` with the effective before-value of each setting env.cue did not set: the
    value of the last layer below it that sets it (app layer, environment defaults,
    platform defaults; docs/ARCHITECTURE.md, Layers), so the MR shows what the
    environment ran instead of "-". Read from CUE's export of those layers, which a
    `set` does not change (it edits only the app's env.cue entry)."""
    wanted = {literals_dotted(p): tuple(p) for p in paths if p and p[:2] != IMAGE_PATH}
    if all(s.before is not None or s.path not in wanted for s in plan.settings):
        return plan
    layers = _layers(tree, plan.app)
    settings = tuple(
        _inherit(s, wanted[s.path], layers) if s.before is None and s.path in wanted else s
        for s in plan.settings
    )
    return replace(plan, settings=settings)


def _layers(tree: Path, app: str) -> list[tuple[str, Any]]:
    """The layers below env.cue's entry, least specific first: (name, exported value)."""
    engine = get_engine()
    app_layer, env_defaults = engine.export(
        [layout.CUE_PACKAGE],
        cwd=tree,
        expression=f'[apps."{inputs.app_name(app)}".app, environment.defaults]',
    )
    platform = engine.export(["./platform"], cwd=tree, expression="defaults")
    return [
        ("platform defaults", platform),
        ("the app layer", app_layer),
        ("environment.defaults", env_defaults),
    ]


def _inherit(
    setting: SettingChange, path: tuple[str, ...], layers: list[tuple[str, Any]]
) -> SettingChange:
    """`setting` with the value of the last layer that sets `path` (structs merged key
    by key, as the platform merges them), if one does."""
    found = [(name, v) for name, layer in layers if (v := _at(layer, path)) is not None]
    if not found:
        return setting
    name, value = found[-1]
    if isinstance(value, dict):
        merged: dict[str, Any] = {}
        for _, v in found:
            merged |= v if isinstance(v, dict) else {}
        value = merged
    if value in ({}, []):
        return setting
    return replace(setting, inherited=value, inherited_from=name)


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def parse_setting(text: str) -> tuple[editor.CuePath, Any]:
    """`path=value` below the app's env entry: `replicas=2`, `debug=true`,
    `configMap.data."cache-ttl"="600"`; the value is JSON when it reads as JSON, else
    a string; `path=` with nothing after removes the value."""
    path_text, sep, raw = text.partition("=")
    if not sep or not path_text.strip():
        raise BadInput(
            f"--set {inputs.show(text)}: expected PATH=VALUE",
            'e.g. --set replicas=2 or --set \'configMap.data."cache-ttl"="600"\'',
        )
    try:
        path = editor.parse_path(path_text.strip())
    except editor.EditError as e:
        raise BadInput(f"--set {inputs.show(text)}: {e.message}", e.hint) from e
    if path[: len(IMAGE_PATH)] == IMAGE_PATH or IMAGE_PATH[: len(path)] == path:
        raise BadInput(
            f"--set {inputs.show(path_text.strip())}: cannot change deployment.image, "
            "nor replace or remove what holds it",
            "the image changes by promote and rollback; for a hotfix, give --image-tag "
            "(and --digest)",
        )
    if raw == "":
        return path, editor.DELETE
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return path, value


def _require_app(clone: Target, app: str) -> None:
    text = (clone.tree / layout.ENV_FILE).read_text()
    if app not in editor.child_labels(text, ("apps",)):
        raise BadInput(
            f"{app} has no entry in {clone.branch}'s env.cue",
            "onboard it first (gitops-helper onboard), or check the app's name",
        )


def _image(clone: Target, rev: str, app: str) -> tuple[str, str | None]:
    text = clone.files.text(rev, layout.ENV_FILE) or ""
    image = editor.get_value(text, ("apps", app, "env", "deployment", "image")) or {}
    tag = image.get("tag") if isinstance(image, dict) else None
    if not tag:
        raise UserError(f"{app} has no image in {clone.branch} at {rev}")
    return str(tag), image.get("digest") or None


def _earlier(clone: Target, app: str, current: tuple[str, str | None]) -> tuple[str, str | None]:
    """The tag (and digest) the app ran before `current`, from the branch's history."""
    git.deepen(clone.tree, HISTORY_DEPTH, clone.auth)
    for commit in git.first_parents(clone.tree, "HEAD", HISTORY_DEPTH):
        try:
            found = _image(clone, commit, app)
        except UserError:
            continue
        if found != current:
            return found
    raise UserError(
        f"no earlier image of {app} in {clone.branch}'s last {HISTORY_DEPTH} commits",
        "name the tag to roll back to: --to 1.0.41",
    )


def _what(plan: EditPlan) -> str:
    parts = [f"{s.path}={json.dumps(s.after)}" for s in plan.settings]
    image = [p for p in parts if p.startswith("deployment.image.tag=")]
    if image and plan.image is not None:
        others = [p for p in parts if not p.startswith("deployment.image.")]
        return ", ".join([f"image {plan.image.tag}", *others])
    return ", ".join(parts)


def _result(
    deployment: DeploymentProject,
    clone: Target,
    plan: EditPlan,
    change: Change,
    moved: bool,
    dry_run: bool,
) -> EditResult:
    outcome = publish(clone, change, dry_run=dry_run)
    return EditResult.of(
        outcome,
        project=deployment.project.path,
        env=plan.env.name,
        app=plan.app,
        image=plan.image.ref if plan.image else None,
        old_image=plan.old_image.ref if plan.old_image else None,
        settings=[{"path": s.path, "before": s.before, "after": s.after} for s in plan.settings],
        promotes=moved,
        warnings=list(plan.warnings),
    )
