"""An app repository's `deployment/app.cue`: checked, then copied as the app layer.

The file is the app team's, but it is evaluated inside the deployment repository,
where one stray declaration could change another app, an environment or the
platform. So before it is merged it must declare nothing but
`apps: "<app>": app: ...` under `package deployments`; this is decided on its
syntax tree (cuetokens), which knows strings, comments and label chains, never by
pattern matching on lines. Whether its values fit the platform's schema is CUE's
job, once it sits in the deployment repo as `services/apps/<app>.cue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import inputs
from jenkins_helpers.cuesrc import editor, literals
from jenkins_helpers.cuesrc.tokens import (
    CueSyntaxError,
    Expr,
    Field,
    ListLit,
    Other,
    Struct,
    parse,
    read_all,
)
from jenkins_helpers.cuesrc.tokens import position as _position
from jenkins_helpers.errors import BadInput

APP_FILE = "deployment/app.cue"
PACKAGE = "deployments"
# What an app layer is under: `apps: "<app>": app:`; the app fills the two blanks.
_LAYER_LABELS = ("apps", None, "app")
_HINT = (
    'deployment/app.cue holds only `package deployments` and `apps: "<app>": app: {...}`; '
    "environment settings belong in the deployment repo's env.cue, other apps in their repos"
)
# How many of `_HEADER`'s lines come before the copied file (CUE positions shift by this).
HEADER_LINES = 3


@dataclass(frozen=True)
class AppLayer:
    """A checked `deployment/app.cue`: its text, and where it is shown in messages."""

    app: str
    shown: str  # the path as the user gave it, e.g. `deployment/app.cue`
    source: str
    repository: str | None  # `deployment: image: repository:` when written as a literal


def read(app_repo: Path, app: str) -> AppLayer:
    """Read and check `<app_repo>/deployment/app.cue` (BadInput when it is not app-layer-only)."""
    shown = str(app_repo / APP_FILE)
    if not app_repo.is_dir():
        raise BadInput(
            f"app repository {str(app_repo)!r} is not a directory",
            "pass --app-repo DIR, the checkout holding deployment/app.cue",
        )
    path = inputs.repo_path(app_repo, APP_FILE)
    try:
        source = path.read_bytes().decode("utf-8")
    except FileNotFoundError as e:
        raise BadInput(
            f"{APP_FILE} not found in {app_repo.resolve()} (the app repository, --app-repo)",
            "run the step in the app's checkout, or pass --app-repo DIR (gitopsPromote: "
            "appRepoDir); the app layer lives in deployment/app.cue",
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read {shown}: {e}") from e
    check(source, app, shown)
    return AppLayer(app, shown, source, _repository(source, app, shown))


def check(source: str, app: str, shown: str) -> None:
    """Raise BadInput naming every declaration (file:line:col) outside `app`'s app layer."""
    try:
        tree = parse(source)
        read_all(tree)  # the app layer's own structs too: CUE would refuse the file
    except CueSyntaxError as e:
        raise BadInput(
            f"{shown}:{_position(source, e.offset)}: {e.message}",
            "fix the syntax; `gitops-helper cue vet FILE` shows CUE's own message",
        ) from e
    problems: list[str] = []
    packages = [d for d in tree.decls if isinstance(d, Other) and d.kind == "package"]
    if [source[d.start : d.end].split() for d in packages] != [["package", PACKAGE]]:
        where = _position(source, packages[0].start) if packages else "1:1"
        problems.append(f"{shown}:{where}: the file must start with `package {PACKAGE}`")
    _same_app(tree.decls, app, shown)
    found = _walk_decls(tree.decls, (), app, source, shown, problems)
    if not found and not problems:
        problems.append(f'{shown}: defines nothing under apps."{app}".app')
    if problems:
        raise BadInput(
            f'{shown} may define only the app layer of {app} (apps: "{app}": app: {{...}}):\n  '
            + "\n  ".join(problems),
            _HINT,
        )


def _same_app(decls: list[Field | Other], app: str, shown: str) -> None:
    """A file that defines exactly one other app is a misspelt --app, not an intrusion."""
    named = set()
    for decl in decls:
        if isinstance(decl, Field) and decl.label == "apps":
            value = decl.value
            fields = [value] if isinstance(value, Field) else getattr(value, "decls", [])
            named |= {f.label for f in fields if isinstance(f, Field) and f.label}
    if len(named) == 1 and app not in named:
        (other,) = named
        raise BadInput(
            f"{shown} defines the app layer of {other!r}, but the app promoted is {app!r}: "
            "the names differ",
            f"promote it as --app {other} (gitopsPromote: app: '{other}'), or rename it in {shown}",
        )


def _walk_decls(
    decls: list[Field | Other],
    path: tuple[str, ...],
    app: str,
    source: str,
    shown: str,
    problems: list[str],
) -> bool:
    """Check declarations at `path` (above the app layer); True if the app layer was found."""
    found = False
    for decl in decls:
        where = f"{shown}:{_position(source, decl.start)}"
        if isinstance(decl, Field):
            found |= _walk_field(decl, path, app, source, shown, problems)
        elif decl.kind != "package" or path:
            what = {"embed": "an embedded value", "ellipsis": "`...`"}.get(decl.kind, decl.kind)
            inside = f" inside {editor.dotted(path)}" if path else ""
            problems.append(f"{where}: {what}{inside} is not allowed")
    return found


def _walk_field(
    field: Field, path: tuple[str, ...], app: str, source: str, shown: str, problems: list[str]
) -> bool:
    where = f"{shown}:{_position(source, field.start)}"
    expected = _LAYER_LABELS[len(path)] or app
    if field.label is None:
        problems.append(f"{where}: a computed or pattern label at {_at(path)} is not allowed")
        return False
    here = (*path, field.label)
    if field.hidden or field.marker or field.label != expected:
        kind = ("definition " if field.label.startswith("#") else "hidden field ") * field.hidden
        problems.append(f"{where}: defines {kind}{editor.dotted(here)}{field.marker}")
        return False
    if len(here) == len(_LAYER_LABELS):
        return True  # the app layer itself: its content is CUE's (and the schema's) to judge
    value = field.value
    if isinstance(value, Field):
        return _walk_field(value, here, app, source, shown, problems)
    if isinstance(value, Struct):
        return _walk_decls(value.decls, here, app, source, shown, problems)
    kind = "a list" if isinstance(value, ListLit) else "an expression"
    if isinstance(value, Expr | ListLit):
        problems.append(f"{where}: {editor.dotted(here)} is {kind}, expected a struct")
    return False


def _at(path: tuple[str, ...]) -> str:
    return editor.dotted(path) if path else "the top level"


def _repository(source: str, app: str, shown: str) -> str | None:
    """The image repository the app layer names, when it is a plain literal.

    The app layer is where an app's repository is set (the environments set tags),
    so a file without one is refused here rather than by a puzzling CUE error.
    """
    try:
        value = editor.get_value(source, ("apps", app, "app", "deployment", "image", "repository"))
    except literals.EditError:
        return None  # an expression: CUE decides, and the render check sees the result
    if value is None:
        raise BadInput(
            f"{shown} does not set the app's image repository",
            f'add `deployment: image: repository: "registry.example.com/{app}"` '
            f'inside apps: "{app}": app: {{...}}',
        )
    return value if isinstance(value, str) else None


def check_repository(layer: AppLayer, image: str) -> None:
    """Refuse promoting an image the app layer would not deploy (another repository)."""
    if layer.repository is not None and layer.repository != image:
        raise BadInput(
            f"{layer.shown} deploys image repository {layer.repository!r}, "
            f"but the pipeline promotes {image!r}",
            "make `deployment: image: repository:` in deployment/app.cue match --image",
        )


def app_file_text(layer: AppLayer, origin: str, commit: str | None) -> str:
    """`services/apps/<app>.cue`: a header naming the source, then the file unchanged."""
    at = f"commit {commit}" if commit else "no commit (not a git repository)"
    header = (
        f"// App layer of {layer.app}: deployment/app.cue of {_one_line(origin)}\n"
        f"// at {at}, copied by `gitops-helper promote`.\n"
        "// Edit it there, not here: every promotion replaces this file.\n"
    )
    body = layer.source if layer.source.endswith("\n") else layer.source + "\n"
    return header + body


def without_header(app_file: str) -> str:
    """An app file's content below the header `app_file_text` writes (all of it when it
    has none): two builds that differ only in where they came from have equal ones."""
    lines = app_file.splitlines(keepends=True)
    if lines and lines[0].startswith("// App layer of ") and len(lines) >= HEADER_LINES:
        return "".join(lines[HEADER_LINES:])
    return app_file


def _one_line(text: str) -> str:
    return " ".join(text.split())


def map_positions(message: str, layer: AppLayer) -> str:
    """Point CUE's `services/apps/<app>.cue:L:C` positions at the app repo's own file."""
    pattern = re.compile(rf"(?:\./)?services/apps/{re.escape(layer.app)}\.cue:(\d+)(?::(\d+))?")

    def repl(match: re.Match[str]) -> str:
        line = int(match.group(1)) - HEADER_LINES
        if line < 1:
            return match.group(0)
        column = f":{match.group(2)}" if match.group(2) else ""
        return f"{layer.shown}:{line}{column}"

    return pattern.sub(repl, message)
