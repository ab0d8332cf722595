"""Promotion planning: apply an app's new version to a checkout of its target environment.

In a fresh clone of the environment branch it writes the app layer, sets the image
in env.cue, renders and validates the environment as it would be after the merge,
and stages the result. Nothing here talks to GitLab: `commands/promote.py` decides
what to publish from the returned Plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jenkins_helpers import git
from jenkins_helpers.cue import CueError, get_engine
from jenkins_helpers.cuesrc import applayer, editor
from jenkins_helpers.cuesrc.applayer import AppLayer
from jenkins_helpers.deployrepo import checks, render
from jenkins_helpers.deployrepo.checkout import APPS_DIR, ENV_FILE, env_name_of
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion_mr import ImageRef, Setting

IMAGE_FIELDS = ("tag", "digest")


@dataclass(frozen=True)
class Request:
    """One app version to promote into one environment."""

    app: str
    image: ImageRef
    env: Environment
    layer: AppLayer
    origin: str  # the app repository (URL or path)
    commit: str | None  # its commit, when it is a git repository


@dataclass
class Plan:
    """The staged change in the clone, and what the MR description needs to show it."""

    request: Request
    changes: list[git.FileChange]
    app_file: str  # services/apps/<app>.cue
    app_layer_diff: str
    app_layer_sha256: str
    old_image: ImageRef | None
    kept: list[Setting]
    warnings: list[str] = field(default_factory=list)

    @property
    def changed_files(self) -> list[str]:
        return [c.path for c in self.changes]


def prepare(tree: Path, req: Request) -> Plan:
    """Apply `req` in `tree` (a checkout of the env branch), check it, and stage it."""
    found = env_name_of(tree)
    if found != req.env.name:
        raise UserError(
            f"branch {req.env.branch!r} holds env.cue of {found!r}, not of {req.env.name!r}",
            "check the branches in gitops.yaml",
        )
    env_file = tree / ENV_FILE
    old_env = env_file.read_text("utf-8")
    before = _errors(_findings(tree, req.env))
    app_file = f"{APPS_DIR}/{req.app}.cue"
    old_app = tree / app_file
    old_image = _old_image(old_env, old_app.read_text("utf-8") if old_app.is_file() else "", req)
    text = applayer.app_file_text(req.layer, req.origin, req.commit)
    (tree / app_file).parent.mkdir(parents=True, exist_ok=True)
    (tree / app_file).write_text(text, "utf-8")
    editor.edit_file(env_file, image_edits(req.app, req.image))
    files = _evaluate(tree, req)
    _check_image(files, req)
    findings = _findings(tree, req.env)
    warnings = _blocking(findings, before, req)
    changes = git.stage_all(tree)
    return Plan(
        request=req,
        changes=changes,
        app_file=app_file,
        app_layer_diff=git.staged_diff(tree, [app_file]) if app_file in _paths(changes) else "",
        app_layer_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        old_image=old_image,
        kept=kept_settings(old_env, req.app),
        warnings=warnings,
    )


def image_edits(app: str, image: ImageRef) -> list[tuple[editor.CuePath, Any]]:
    """env.cue edits for the image: the tag, and the digest (removed when none is given)."""
    base = ("apps", app, "env", "deployment", "image")
    return [
        ((*base, "tag"), image.tag),
        ((*base, "digest"), image.digest if image.digest else editor.DELETE),
    ]


def _paths(changes: list[git.FileChange]) -> set[str]:
    return {c.path for c in changes}


def _evaluate(tree: Path, req: Request) -> dict[str, str]:
    """Render the environment (one CUE export) and vet it; CUE errors name the app's file."""
    try:
        result = render.render(tree, req.env.name)
        get_engine().vet([render.CUE_PACKAGE], cwd=tree, concrete=True)
    except CueError as e:
        raise UserError(
            f"{req.app}'s app layer does not evaluate with the platform layer of "
            f"{req.env.name}:\n{applayer.map_positions(e.message, req.layer)}",
            f"fix {req.layer.shown}; if it needs a platform change, promote that to "
            f"{req.env.name} first",
        ) from e
    return result.files


def _check_image(files: dict[str, str], req: Request) -> None:
    """The rendered Deployment must run exactly the promoted tag (and digest)."""
    path = f"{render.MANIFESTS_DIR}/{req.env.name}/{req.app}/deployment-{req.app}.yaml"
    if path not in files:
        raise UserError(f"rendering {req.env.name} produced no Deployment for {req.app} ({path})")
    containers = yaml.safe_load(files[path])["spec"]["template"]["spec"]["containers"]
    image = containers[0]["image"]
    wanted = f":{req.image.tag}" + (f"@{req.image.digest}" if req.image.digest else "")
    if not image.endswith(wanted):
        raise UserError(
            f"{req.app} in {req.env.name} would run {image!r}, not the promoted {req.image.ref!r}",
            f"something overrides deployment: image: in {req.env.name}'s env.cue or platform",
        )


def _findings(tree: Path, env: Environment) -> list[checks.Finding]:
    if not (tree / render.MANIFESTS_DIR / env.name).is_dir():
        return []
    manifests = checks.load_manifests(tree, env.name)
    return checks.check_objects(manifests, env=env.name, namespace=env.namespace)


def _errors(findings: list[checks.Finding]) -> set[tuple[str, str, str]]:
    return {(f.path, f.rule, f.message) for f in findings if f.severity == "error"}


def _blocking(
    findings: list[checks.Finding], before: set[tuple[str, str, str]], req: Request
) -> list[str]:
    """Raise on errors this promotion brings; return warnings (and errors it only inherits).

    An error that was already on the environment branch, in another app's files,
    does not stop this app: its owners fix it by their own MR.
    """
    own = f"{render.MANIFESTS_DIR}/{req.env.name}/{req.app}/"
    blocking, warnings = [], []
    for f in findings:
        line = f"{f.path}: [{f.rule}] {f.message}"
        inherited = (f.path, f.rule, f.message) in before and not f.path.startswith(own)
        if f.severity == "error" and not inherited:
            blocking.append(line)
        elif f.path.startswith(own) or f.severity == "error":
            warnings.append(f"{f.severity}: {line}" + (" (already on the branch)" * inherited))
    if blocking:
        raise UserError(
            f"{req.env.name} would not validate with {req.app} {req.image.tag}:\n  "
            + "\n  ".join(blocking),
            "fix the app layer (deployment/app.cue) or the environment; rules: docs/VALIDATION.md",
        )
    return warnings


def _old_image(env_text: str, app_text: str, req: Request) -> ImageRef | None:
    """The image `req.app` had in the environment, or None if it had no entry there."""
    base = ("apps", req.app)
    try:
        entry = editor.get_value(env_text, (*base, "env"))
        image = editor.get_value(env_text, (*base, "env", "deployment", "image")) or {}
        repository = editor.get_value(app_text, (*base, "app", "deployment", "image", "repository"))
    except editor.EditError:
        return None
    if entry is None:
        return None
    image = image if isinstance(image, dict) else {}
    tag, digest = image.get("tag"), image.get("digest")
    return ImageRef(
        str(image.get("repository") or repository or req.image.repository),
        str(tag or "-"),
        str(digest) if digest else None,
    )


def kept_settings(env_text: str, app: str) -> list[Setting]:
    """The env.cue values the promotion leaves alone: the app's own, then the environment's."""
    scopes = [
        (("apps", app, "env"), f'apps."{app}".env'),
        (("environment", "defaults"), "environment.defaults"),
    ]
    kept: list[Setting] = []
    for path, scope in scopes:
        try:
            value = editor.get_value(env_text, path)
        except editor.EditError:
            continue  # an expression the editor cannot read: not shown, never changed
        for key, leaf in _flatten(value or {}, ()):
            if (
                path[0] == "apps"
                and key[:2] == ("deployment", "image")
                and key[2:] in (("tag",), ("digest",))
            ):
                continue
            kept.append(Setting(".".join(key), leaf, scope))
    return kept


def _flatten(value: Any, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Leaves of nested structs as (path, value); lists stay whole."""
    if isinstance(value, dict) and (value or not prefix):
        return [leaf for k, v in value.items() for leaf in _flatten(v, (*prefix, k))]
    return [(prefix, value)]
