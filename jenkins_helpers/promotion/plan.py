"""Planning: apply app versions to a clone of the target environment, check, and stage.

For each app it writes the app layer (`services/apps/<app>.cue`) and sets the image
in env.cue with the structural editor, so every env-owned setting stays as it is.
Then it renders and validates the environment as it would be after the merge and
stages the result. Nothing here talks to GitLab: `publish` proposes what it staged.

When the change is confined to the changed apps (their app files, and their entries
in env.cue, each app's alone: `_scope`), only those apps are evaluated, rendered and
validated, so a promotion costs the same in a repository of 10 apps or 1000; the
other apps' manifests are left as they are (and checked to be). Anything else, the
platform layer for one, renders and validates the whole environment.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jenkins_helpers import git
from jenkins_helpers.cue import CueError
from jenkins_helpers.cuesrc import editor, literals
from jenkins_helpers.deployrepo import batches, checks, layout, render
from jenkins_helpers.deployrepo.checkout import require_env
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.files import write_atomically
from jenkins_helpers.promotion.model import AppVersion, ImageRef, Setting

# Turns a CUE error of the new state into the message the user should see.
Explain = Callable[[CueError, Environment], UserError]


@dataclass(frozen=True)
class AppChange:
    """One app's part of a plan: its image before and after, its app-layer diff, what stayed."""

    app: str
    image: ImageRef
    old_image: ImageRef | None  # None: the app is new in the environment
    app_file: str  # services/apps/<app>.cue
    app_layer_diff: str  # empty when the app layer did not change
    app_layer_sha256: str
    kept: tuple[Setting, ...]


@dataclass(frozen=True)
class Plan:
    """A change staged in a clone of the target branch, rendered and validated."""

    env: Environment
    apps: tuple[AppChange, ...]
    changes: tuple[git.FileChange, ...]
    warnings: tuple[str, ...]


def apply_versions(
    tree: Path, env: Environment, versions: Sequence[AppVersion], *, explain: Explain | None = None
) -> Plan:
    """Apply `versions` in `tree` (a checkout of `env`'s branch), check them, and stage.

    Raises UserError, with nothing staged, when the environment would not evaluate
    or validate afterwards; `explain` words CUE errors for the caller's user.
    """
    require_env(tree, env)
    env_file = tree / layout.ENV_FILE
    old_env = env_file.read_text("utf-8")
    olds = {
        v.app: _image_in(tree, env, v.app)  # what ran: the app layer may compute its repository
        or _old_image(old_env, _read(tree / layout.app_file(v.app)), v)
        for v in versions
    }
    for version in versions:
        write_atomically(tree / layout.app_file(version.app), version.app_file)
    editor.edit_file(env_file, [e for v in versions for e in image_edits(v.app, v.image)])
    # The manifests are still HEAD's: what they had before, of the apps it validates.
    scope = _scope(tree, [v.app for v in versions])
    before = _errors(_findings(tree, env, scope))
    files = _evaluate(tree, env, scope, explain or _default_explain)
    for version in versions:
        _check_image(files, env, version)
    warnings = _blocking(_findings(tree, env, scope), before, env, versions)
    changes = tuple(git.stage_all(tree))
    _check_confined(changes, env, scope)
    _check_staged(tree, env, versions, files)
    changed = {c.path for c in changes}
    apps = tuple(
        AppChange(
            app=v.app,
            image=v.image,
            old_image=olds[v.app],
            app_file=layout.app_file(v.app),
            app_layer_diff=git.staged_diff(tree, [layout.app_file(v.app)])
            if layout.app_file(v.app) in changed
            else "",
            app_layer_sha256=hashlib.sha256(v.app_file.encode("utf-8")).hexdigest(),
            kept=kept_settings(old_env, v.app),
        )
        for v in versions
    )
    return Plan(env, apps, changes, tuple(warnings))


@dataclass(frozen=True)
class PlatformPlan:
    """The platform layer of a source revision, staged in a clone of the target."""

    env: Environment
    files: tuple[str, ...]  # platform files that changed
    diff: str  # their unified diff
    changes: tuple[git.FileChange, ...]  # everything staged, manifests included
    warnings: tuple[str, ...]


def apply_platform(
    tree: Path,
    env: Environment,
    source_rev: str,
    paths: Sequence[str],
    *,
    explain: Explain | None = None,
) -> PlatformPlan:
    """Make `paths` in `tree` (a checkout of `env`) exactly `source_rev`'s; check, stage.

    `paths` are the platform layer's (and, from main, changed app layers). Every app
    of the environment is rendered again: a platform change may touch them all.
    """
    require_env(tree, env)
    git.unsparse(tree)
    before = _errors(_findings(tree, env))
    files = git.changed_paths(tree, "HEAD", source_rev, paths)
    git.take_paths(tree, source_rev, paths)
    _evaluate(tree, env, None, explain or _default_explain)
    warnings = _blocking(_findings(tree, env), before, env, [])
    changes = tuple(git.stage_all(tree))
    return PlatformPlan(env, tuple(files), git.staged_diff(tree, files), changes, tuple(warnings))


@dataclass(frozen=True)
class SettingChange:
    """One env.cue value an edit changes (None: absent before, or removed)."""

    path: str
    before: Any
    after: Any
    # The effective value before, when env.cue did not set it, and the layer it came
    # from (edits.py fills them in for the MR: `set` on an inherited value).
    inherited: Any = None
    inherited_from: str | None = None


@dataclass(frozen=True)
class EditPlan:
    """Edits to one app's env.cue entry (and app file), staged in a clone of `env`."""

    env: Environment
    app: str
    settings: tuple[SettingChange, ...]
    image: ImageRef | None  # the app's image after the edit (None: it has none)
    old_image: ImageRef | None
    changes: tuple[git.FileChange, ...]
    warnings: tuple[str, ...]


def apply_edits(
    tree: Path,
    env: Environment,
    app: str,
    edits: Sequence[tuple[literals.CuePath, Any]],
    *,
    files: dict[str, str | None] | None = None,
) -> EditPlan:
    """Set (or, with DELETE, remove) values of `app`'s env.cue entry, write or delete
    `files`, then render, validate and stage: what `set`, `rollback`, `onboard` and
    `decommission` change. Paths in `edits` are below `apps."<app>".env` (empty: the
    whole entry)."""
    require_env(tree, env)
    env_file = tree / layout.ENV_FILE
    old_env = env_file.read_text("utf-8")
    ran = _image_in(tree, env, app)  # the manifests are still HEAD's
    entry = ("apps", app, "env")
    for path, text in (files or {}).items():
        target = tree / path
        if text is None:
            target.unlink(missing_ok=True)
        else:
            write_atomically(target, text)
    editor.edit_file(env_file, [((*entry, *path), value) for path, value in edits])
    new_env = env_file.read_text("utf-8")
    scope = _scope(tree, [app])
    before = _errors(_findings(tree, env, scope))  # the manifests are still HEAD's
    _evaluate(tree, env, scope, _default_explain)
    image = _image_in(tree, env, app)
    warnings = _blocking(_findings(tree, env, scope), before, env, [], own=(app,))
    changes = tuple(git.stage_all(tree))
    _check_confined(changes, env, scope)
    settings = tuple(
        change
        for path, _ in edits
        if (
            change := SettingChange(
                literals_dotted(path),
                _get(old_env, (*entry, *path)),
                _get(new_env, (*entry, *path)),
            )
        ).before
        is not None
        or change.after is not None
    )
    return EditPlan(
        env,
        app,
        settings,
        image,
        ran or _image_in_text(old_env, app, image),
        changes,
        tuple(warnings),
    )


def _get(text: str, path: tuple[str, ...]) -> Any:
    try:
        return editor.get_value(text, path)
    except editor.EditError:
        return "(an expression)"


def literals_dotted(path: tuple[str, ...]) -> str:
    """`resources.limits.cpu`, or `(the whole entry)` for the empty path."""
    return ".".join(path) if path else "(the whole entry)"


def _image_in(tree: Path, env: Environment, app: str) -> ImageRef | None:
    """The image the rendered Deployment of `app` runs, or None when it renders none."""
    path = tree / layout.deployment_file(env.name, app)
    image = render.deployment_image(path.read_text()) if path.is_file() else None
    return ImageRef.parse(image) if image is not None else None


def _image_in_text(env_text: str, app: str, after: ImageRef | None) -> ImageRef | None:
    """The image env.cue named for `app` before (the repository is the one after)."""
    image = _get(env_text, ("apps", app, "env", "deployment", "image"))
    if not isinstance(image, dict) or not image.get("tag"):
        return None
    repository = after.repository if after else "-"
    return ImageRef(repository, str(image["tag"]), image.get("digest") or None)


def image_edits(app: str, image: ImageRef) -> list[tuple[literals.CuePath, Any]]:
    """env.cue edits for the image: the tag, and the digest (removed when none is given)."""
    base = ("apps", app, "env", "deployment", "image")
    return [
        ((*base, "tag"), image.tag),
        ((*base, "digest"), image.digest if image.digest else editor.DELETE),
    ]


def _read(path: Path) -> str:
    return path.read_text("utf-8") if path.is_file() else ""


def _default_explain(error: CueError, env: Environment) -> UserError:
    return UserError(
        f"{env.name} would not evaluate after this promotion:\n{error.message}",
        f"if the apps need a platform change, promote the platform layer to {env.name} first",
    )


def _scope(tree: Path, apps: Collection[str]) -> frozenset[str] | None:
    """`apps`, when the work tree differs from HEAD only in what is theirs alone; else None,
    and then a sparse work tree is filled in: the whole environment gets rendered.

    Theirs alone: their app files, which hold (before and after) their own entries
    only, and their entries in env.cue, outside which env.cue is as it was (up to
    blank lines). Then no other app's objects can have changed (batches.py: apps
    are independent given the shared declarations), and rendering these apps is
    rendering the change. The platform layer, `environment:` or any other file
    changed: None, render everything.
    """
    scope = _confined_to(tree, apps)
    if scope is None:
        git.unsparse(tree)
    return scope


def _confined_to(tree: Path, apps: Collection[str]) -> frozenset[str] | None:
    part = batches.partition(tree)
    if part is None:
        return None
    allowed = {layout.ENV_FILE, *(layout.app_file(app) for app in apps)}
    if not set(git.dirty_paths(tree)) <= allowed:
        return None
    for app in apps:
        path = layout.app_file(app)
        for text in (git.file_at(tree, "HEAD", path), _read(tree / path) or None):
            if text is not None and not batches.holds_own_entries(text, app, part.package):
                return None
    if not _others_hold_none_of(tree, apps, part.package):
        return None
    old, new = git.file_at(tree, "HEAD", layout.ENV_FILE), _read(tree / layout.ENV_FILE)
    if old is None:
        return None
    outside = [batches.without_entries(text, apps, part.package) for text in (old, new)]
    if outside[0] is None or outside[1] is None or _blank(outside[0]) != _blank(outside[1]):
        return None
    return frozenset(apps)


def _others_hold_none_of(tree: Path, apps: Collection[str], package: str) -> bool:
    """No other app file holds entries of `apps`. Read at HEAD, where the other files are
    as in the work tree (`_scope` checked), checked out or not (a sparse clone)."""
    for path in git.files_containing(tree, "HEAD", sorted(apps), layout.APPS_DIR):
        stem = Path(path).stem
        if stem not in apps and not batches.holds_own_entries(
            git.file_at(tree, "HEAD", path) or "", stem, package
        ):
            return False
    return True


def _blank(text: str) -> str:
    """`text` without blank lines or trailing blanks: an entry added or removed adds some."""
    return re.sub(r"[ \t]*\n\s*", "\n", text).strip()


def _check_confined(
    changes: Sequence[git.FileChange], env: Environment, scope: frozenset[str] | None
) -> None:
    """After a render of `scope`'s apps only: nothing but theirs changed (a guard)."""
    if scope is None:
        return
    mine = tuple(f"{layout.app_manifests(env.name, app)}/" for app in scope)
    files = {layout.ENV_FILE, *(layout.app_file(app) for app in scope)}
    others = [c.path for c in changes if c.path not in files and not c.path.startswith(mine)]
    if others:
        raise UserError(
            f"a change of {', '.join(sorted(scope))} in {env.name} changed other files too: "
            + ", ".join(others[:5]),
            "this is a bug of gitops-helper; please report it with the environment's branch",
        )


def _check_staged(
    tree: Path, env: Environment, versions: Sequence[AppVersion], files: dict[str, str]
) -> None:
    """Each app's layer and Deployment are staged as written (a guard): git leaves files a
    sparse checkout does not cover out of the index without a word."""
    for version in versions:
        deployment = layout.deployment_file(env.name, version.app)
        for path, text in (
            (layout.app_file(version.app), version.app_file),
            (deployment, files[deployment]),
        ):
            if git.tracked_text(tree, path) != text:
                raise UserError(
                    f"{path} was written but is not staged as written",
                    "this is a bug of gitops-helper; please report it with the command run",
                )


def _evaluate(
    tree: Path, env: Environment, scope: frozenset[str] | None, explain: Explain
) -> dict[str, str]:
    """Render and vet the environment, or only the apps of `scope` (see `_scope`)."""
    try:
        if scope is None:
            result = render.render(tree, env.name)
            checks.vet(tree)
        else:
            result = render.render_apps(tree, env.name, scope, vet=True)
    except CueError as e:
        raise explain(e, env) from e
    return result.files


def _check_image(files: dict[str, str], env: Environment, version: AppVersion) -> None:
    """The rendered Deployment must run exactly the promoted image: repository, tag, digest.

    The app layer is CUE and could compute its repository; only the rendered
    result says what would really run, so that is what is compared.
    """
    path = layout.deployment_file(env.name, version.app)
    image = render.deployment_image(files[path]) if path in files else None
    if image is None:
        raise UserError(f"rendering {env.name} produced no Deployment for {version.app} ({path})")
    if image != version.image.ref:
        raise UserError(
            f"{version.app} in {env.name} would run {image!r}, "
            f"not the promoted {version.image.ref!r}",
            f"the app layer or {env.name}'s env.cue sets `deployment: image:` to something "
            "else; make the app layer's repository the promoted one",
        )


def errors_now(tree: Path, env: Environment) -> set[tuple[str, str, str]]:
    """The validation errors `env`'s manifests in `tree` have (before a change)."""
    return _errors(_findings(tree, env))


def new_problems(
    tree: Path, env: Environment, before: set[tuple[str, str, str]], own: Sequence[str] = ()
) -> list[str]:
    """Validate `env` after a change: raise on errors it brings, return the warnings."""
    return _blocking(_findings(tree, env), before, env, [], own=own)


def _findings(
    tree: Path, env: Environment, scope: frozenset[str] | None = None
) -> list[checks.Finding]:
    if not (tree / layout.env_manifests(env.name)).is_dir():
        return []
    if scope is not None:
        return checks.check_app_manifests(tree, env, scope)
    return checks.check_manifests(tree, env)


def _errors(findings: list[checks.Finding]) -> set[tuple[str, str, str]]:
    return {(f.path, f.rule, f.message) for f in findings if f.severity == "error"}


def _blocking(
    findings: list[checks.Finding],
    before: set[tuple[str, str, str]],
    env: Environment,
    versions: Sequence[AppVersion],
    *,
    own: Sequence[str] = (),
) -> list[str]:
    """Raise on errors this promotion brings; return warnings (and errors it only inherits).

    An error that was already on the environment branch, in another app's files,
    does not stop these apps: its owners fix it by their own MR.
    """
    apps = [*(v.app for v in versions), *own]
    mine = tuple(layout.app_manifests(env.name, app) + "/" for app in apps)
    blocking, warnings = [], []
    for f in findings:
        line = f"{f.path}: [{f.rule}] {f.message}"
        inherited = (f.path, f.rule, f.message) in before and not f.path.startswith(mine)
        if f.severity == "error" and not inherited:
            blocking.append(line)
        elif f.path.startswith(mine) or f.severity == "error":
            warnings.append(f"{f.severity}: {line}" + (" (already on the branch)" * inherited))
    if blocking:
        what = ", ".join([*(f"{v.app} {v.image.tag}" for v in versions), *own])
        what = what or "the platform layer"
        raise UserError(
            f"{env.name} would not validate with {what}:\n  " + "\n  ".join(blocking),
            "fix the app layer (deployment/app.cue) or the environment; rules: docs/VALIDATION.md",
        )
    return warnings


def _old_image(env_text: str, app_text: str, version: AppVersion) -> ImageRef | None:
    """The image env.cue and the app layer's literal name for an app the environment does
    not run (no rendered Deployment: an entry without a tag), or None without an entry."""
    base = ("apps", version.app)
    try:
        entry = editor.get_value(env_text, (*base, "env"))
        image = editor.get_value(env_text, (*base, "env", "deployment", "image")) or {}
        repository = editor.get_value(app_text, (*base, "app", "deployment", "image", "repository"))
    except literals.EditError:
        return None
    if entry is None:
        return None
    image = image if isinstance(image, dict) else {}
    tag, digest = image.get("tag"), image.get("digest")
    return ImageRef(
        str(image.get("repository") or repository or version.image.repository),
        str(tag or "-"),
        str(digest) if digest else None,
    )


def kept_settings(env_text: str, app: str) -> tuple[Setting, ...]:
    """The env.cue values the promotion leaves alone: the app's own, then the environment's."""
    scopes = [
        (("apps", app, "env"), f'apps."{app}".env'),
        (("environment", "defaults"), "environment.defaults"),
    ]
    kept: list[Setting] = []
    for path, scope in scopes:
        try:
            value = editor.get_value(env_text, path)
        except literals.EditError:
            continue  # an expression the editor cannot read: not shown, never changed
        for key, leaf in _flatten(value or {}, ()):
            if path[0] == "apps" and key in (
                ("deployment", "image", "tag"),
                ("deployment", "image", "digest"),
            ):
                continue
            kept.append(Setting(".".join(key), leaf, scope))
    return tuple(kept)


def _flatten(value: Any, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Leaves of nested structs as (path, value); lists stay whole."""
    if isinstance(value, dict) and (value or not prefix):
        return [leaf for k, v in value.items() for leaf in _flatten(v, (*prefix, k))]
    return [(prefix, value)]
