"""Evaluating apps in batches: bounded memory, time linear in the number of apps.

One `cue export -e objects ./services/apps` evaluates every app at once. Its memory
grows with the number of apps (CUE v0.4 under WASM runs out of its 2 GiB at 1000
apps, the v0.17 binary needs 1.15 GB there), and under current CUE so does its time
per app. But apps are independent given the shared declarations (platform layer,
`environment`, the wiring in deployments.cue): an app's objects depend on those and
on the app's own entries only. So a batch of apps is evaluated in a temporary
mirror of the repository that holds no other app's entries; batches run in
parallel on the engine's workers, and the results are merged in app order.

An app's entries are read from the source, never guessed. The package directory
(services/apps) must hold one file per app, `<app>.cue`, with that app's entries
only (what the tool itself writes, layout.app_file); its files are parsed by the
batch that needs them, so parsing overlaps the evaluation of other batches. In the
directories above (env.cue), an entry is a top-level field `apps: "<app>": ...` or
a field of a top-level `apps: {...}`. When any of that does not hold (a shared
file among the app files, an entry that mentions `apps`, an alias, a
comprehension inside `apps: {...}`, a file that does not parse), the package
cannot be split and the caller evaluates it in one export, as before: `partition`
returns None, or `run` raises Unsplittable.

The mirror: real directories from the repository root down to the package, every
other entry a symlink to the original, the package directory only the batch's app
files. A file above it with entries of apps outside the batch (env.cue) is copied
with those entries blanked: spaces, newlines kept, so every line:column CUE reports
is the original's and an error only needs the mirror's path replaced by the
repository's.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jenkins_helpers.cue import CueError
from jenkins_helpers.cuesrc import tokens
from jenkins_helpers.deployrepo import layout

T = TypeVar("T")
APPS = "apps"
_ALIAS = re.compile(r"[A-Za-z_$#][\w$#]*\s*=(?!=)")  # `X=label:` declares an alias
_LABEL = re.compile(r"(?:apps|\"apps\")\s*:")  # the top-level `apps` label itself


class Unsplittable(Exception):
    """The package cannot be evaluated in batches (module docstring): evaluate it whole."""


@dataclass(frozen=True)
class _Entry:
    app: str
    start: int
    end: int  # after the field and a comma right after it


@dataclass(frozen=True)
class _SourceFile:
    package: str
    text: str
    entries: tuple[_Entry, ...]
    alone: bool  # only a package clause, imports and entries: no shared declarations
    imports: bool

    @property
    def apps(self) -> frozenset[str]:
        return frozenset(entry.app for entry in self.entries)


@dataclass(frozen=True)
class Batch:
    apps: frozenset[str]  # evaluated together
    wanted: frozenset[str]  # whose objects are kept (the others only keep CUE company)


class Partition:
    """Which declarations of the package belong to which app (see the module docstring)."""

    def __init__(
        self, repo: Path, chain: tuple[str, ...], package: str, above: dict[str, _SourceFile]
    ) -> None:
        self.repo = repo
        self.chain = chain  # directories from the repository root to the package
        self.package = package
        self.above = above  # relative path -> a file above the package dir with entries
        self.package_dir = chain[-1]
        stems = [name[: -len(".cue")] for name in _cue_files(repo / self.package_dir)]
        # An app with its file in the package dir (an app layer, if the file holds what
        # the convention says); the others only have entries above (in env.cue).
        self.with_file = frozenset(stems)
        named = {entry.app for source in above.values() for entry in source.entries}
        self.apps = tuple(sorted(self.with_file | named))

    def app_file(self, app: str) -> _SourceFile:
        """`<app>.cue` of the package dir, parsed; Unsplittable unless it is app's alone."""
        source = _read(self.repo / self.package_dir / f"{app}.cue")
        if source is None or source.package != self.package:
            raise Unsplittable(f"{app}.cue cannot be read as {app}'s")
        if not source.alone or not source.apps <= {app}:
            raise Unsplittable(f"{app}.cue holds more than the entries of {app}")
        return source

    def check_others(self, wanted: Collection[str]) -> None:
        """Unsplittable if an app file outside `wanted` may hold entries of a wanted app.

        Cheap: a file in which no wanted name occurs (as text) holds none of theirs.
        """
        for stem in sorted(self.with_file - set(wanted)):
            text = (self.repo / self.package_dir / f"{stem}.cue").read_text(errors="replace")
            if any(app in text for app in wanted):
                self.app_file(stem)


def package_files(repo: Path) -> int:
    """How many .cue files the package's own directory holds (an app has one)."""
    return len(_cue_files(repo / layout.APPS_DIR))


def partition(repo: Path) -> Partition | None:
    """The package's files above its directory parsed, or None if not clear-cut."""
    parts = layout.APPS_DIR.split("/")
    # CUE adds the files of the same package in every directory up to the module root.
    chain = ("", *("/".join(parts[: i + 1]) for i in range(len(parts))))
    names = _cue_files(repo / chain[-1])
    first = _read(repo / chain[-1] / names[0]) if names else None
    if first is None:
        return None
    above: dict[str, _SourceFile] = {}
    for directory in chain[:-1]:
        for name in _cue_files(repo / directory):
            rel = f"{directory}/{name}" if directory else name
            source = _read(repo / rel)
            if source is None:
                return None
            if source.package != first.package or not source.entries:
                continue  # CUE leaves out other packages; no entries: the same for all
            if source.imports:
                return None  # if cut, an import could lose its only users: CUE rejects that
            above[rel] = source
    return Partition(repo, chain, first.package, above)


def _cue_files(directory: Path) -> list[str]:
    """The names of the .cue files CUE loads from `directory` (no `_tool`, `_test`, hidden)."""
    if not directory.is_dir():
        return []
    return sorted(
        name
        for name in os.listdir(directory)
        if name.endswith(".cue")
        and name[0] not in "._"
        and not name.endswith(("_tool.cue", "_test.cue"))
    )


def without_entries(text: str, apps: Collection[str], package: str) -> str | None:
    """`text` (a file of `package`) with the entries of `apps` cut out; None if not clear-cut.

    Two versions of a file differ only within these apps' entries when this is the
    same for both: what the promotion planner checks of env.cue.
    """
    source = _parse(text)
    if source is None or source.package != package:
        return None
    kept, at = [], 0
    for entry in source.entries:
        if entry.app in apps:
            kept.append(source.text[at : entry.start])
            at = entry.end
    kept.append(source.text[at:])
    return "\0".join(kept)


def holds_own_entries(text: str, app: str, package: str) -> bool:
    """Whether `text` is an app file of `package` holding `app`'s entries alone."""
    source = _parse(text)
    return (
        source is not None and source.package == package and source.alone and source.apps <= {app}
    )


def _read(path: Path) -> _SourceFile | None:
    """A package file's package name and entries, or None when it is not clear-cut."""
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError):
        return None
    return _parse(text)


@functools.lru_cache(maxsize=16)  # env.cue is read by partition, without_entries, the mirror
def _parse(text: str) -> _SourceFile | None:
    try:
        return _source_file(text)
    except tokens.CueSyntaxError:  # parsing, or reading a struct (tokens.Struct)
        return None


def _source_file(text: str) -> _SourceFile | None:
    tree = tokens.parse(text)
    package = None
    entries: list[_Entry] = []
    alone = True
    imports = False
    for decl in tree.decls:
        if isinstance(decl, tokens.Other):
            if decl.kind == "package":
                words = text[decl.start : decl.end].split()
                package = words[1] if len(words) == 2 else None
            elif decl.kind == "import":
                imports = True
            else:
                alone = False  # let, embedding, comprehension, attribute
            continue
        if decl.label != APPS or decl.hidden:
            alone = False
            continue
        found = _entries(text, decl)
        if found is None:
            return None
        shared, own = found
        alone = alone and not shared
        entries.extend(own)
    if package is None:
        return None
    return _SourceFile(package, text, tuple(entries), alone, imports)


def _entries(text: str, decl: tokens.Field) -> tuple[bool, list[_Entry]] | None:
    """(whether `decl` also holds shared parts, the app entries it holds); None: unclear."""
    if decl.marker or not _LABEL.match(text, decl.start):
        return None  # `apps?:`, or an alias `X=apps:` that other fields may use
    value = decl.value
    if isinstance(value, tokens.Field):  # a label chain: `apps: "<app>": ...`
        if _is_pattern(text, value):
            return True, []
        entry = _entry(text, value, decl.start, decl.end)
        return None if entry is None else (False, [entry])
    if not isinstance(value, tokens.Struct):
        return None  # `apps: x & {...}`: cannot tell who owns what
    entries: list[_Entry] = []
    shared = False
    for inner in value.decls:
        if not isinstance(inner, tokens.Field):
            return None  # a comprehension or embedding inside apps: {...}
        if _is_pattern(text, inner):
            shared = True
            continue
        entry = _entry(text, inner, inner.start, inner.end)
        if entry is None:
            return None
        entries.append(entry)
    return shared, entries


def _is_pattern(text: str, field: tokens.Field) -> bool:
    """`[string]: {...}`: a constraint on every app, so shared by all of them."""
    return field.label is None and text.startswith("[", field.start)


def _entry(text: str, field: tokens.Field, start: int, end: int) -> _Entry | None:
    """The entry of `field` (labelled with an app name) from `start` to `end`, or None."""
    if field.label is None or field.hidden or field.marker or _ALIAS.match(text, field.start):
        return None
    if _mentions_apps(text, field.value):
        return None  # refers to another app's layers (or its own, through `apps`)
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] == ",":
        end = after + 1  # blanking `a: {...},` must not leave a stray comma
    return _Entry(field.label, start, end)


def _mentions_apps(text: str, node: tokens.Node) -> bool:
    """Whether an identifier `apps` occurs in `node` (a false alarm only costs batching).

    Looked for in the text first: most entries never say `apps`, and their structs
    are then never parsed.
    """
    if APPS not in text[node.start : node.end]:
        return False
    if isinstance(node, tokens.Expr):
        return any(t.kind == "ident" and t.text == APPS for t in node.tokens)
    if isinstance(node, tokens.Field):
        label = text[node.start : node.value.start]
        return (node.label is None and _tokens_mention_apps(label)) or _mentions_apps(
            text, node.value
        )
    if isinstance(node, tokens.Struct):
        return any(_mentions_apps(text, decl) for decl in node.decls)
    if isinstance(node, tokens.ListLit):
        return any(_mentions_apps(text, item) for item in node.items)
    return _tokens_mention_apps(text[node.start : node.end])  # comprehensions and the like


def _tokens_mention_apps(source: str) -> bool:
    try:
        return any(t.kind == "ident" and t.text == APPS for t in tokens.tokenize(source))
    except tokens.CueSyntaxError:
        return True


def plan(part: Partition, wanted: Collection[str] | None, size: float, workers: int) -> list[Batch]:
    """Batches of at most about `size` apps, as many as fit the workers evenly.

    Every batch holds an app with a file in the package directory: the package
    deploys nothing without an app layer (deployments.cue), so an env.cue entry
    without one must meet one to fail as it does in one export.
    """
    apps = [app for app in part.apps if wanted is None or app in wanted]
    if not apps:
        return []
    count = math.ceil(len(apps) / size)
    if count > 1:  # several rounds anyway: keep every worker busy in each
        count = min(len(apps), workers * math.ceil(count / workers))
    bounds = [round(i * len(apps) / count) for i in range(count + 1)]
    companion = min(part.with_file, default=None)
    batches = []
    for low, high in itertools.pairwise(bounds):
        chosen = frozenset(apps[low:high])
        company = chosen
        if companion is not None and not chosen & part.with_file:
            company = chosen | {companion}
        batches.append(Batch(company, chosen))
    return batches


def run(
    part: Partition,
    batches: list[Batch],
    export: Callable[[Path], dict[str, Any]],
    convert: Callable[[dict[str, Any]], T],
    workers: int,
) -> list[T]:
    """`convert(export(mirror))` of each batch, in batch order.

    `export(directory)` evaluates the package in a mirror, on one of the engine's
    `workers`; `convert` gets the objects of the batch's wanted apps (app -> objects)
    and runs in the batch's thread too. One thread more than workers: while one
    thread prepares a mirror or converts (Python), the workers evaluate the next
    batches. The first failing batch (in app order) fails the whole: its CueError,
    naming the repository.
    """
    repo = part.repo.resolve()

    def one(batch: Batch) -> T:
        with _mirror(part, batch.apps) as root:
            try:
                objects = export(root)
            except CueError as e:
                raise _relocated(e, root, repo) from e
        if not objects.keys() <= batch.apps:  # `objects` not keyed by app
            raise Unsplittable(sorted(objects.keys() - batch.apps)[:3])
        return convert({app: value for app, value in objects.items() if app in batch.wanted})

    with ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="cue-batch") as pool:
        futures = [pool.submit(one, batch) for batch in batches]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()  # after a failure, start no more batches


def _relocated(error: CueError, mirror: Path, repo: Path) -> CueError:
    """The same error, naming the repository instead of the mirror."""

    def fix(text: str) -> str:
        return text.replace(str(mirror), str(repo))

    return type(error)(fix(error.message), fix(error.hint) if error.hint else None)


@contextlib.contextmanager
def _mirror(part: Partition, apps: frozenset[str]) -> Iterator[Path]:
    """A temporary mirror of the repository whose package holds the entries of `apps` only."""
    repo = part.repo
    root = Path(tempfile.mkdtemp(prefix="gitops-render-batch-")).resolve()
    try:
        for app in sorted(apps & part.with_file):
            part.app_file(app)  # Unsplittable unless it holds that app's entries alone
        for depth, directory in enumerate(part.chain):
            target = root / directory
            target.mkdir(exist_ok=True)
            if directory == part.package_dir:
                for app in apps & part.with_file:
                    os.symlink(repo / directory / f"{app}.cue", target / f"{app}.cue")
                names = [n for n in os.listdir(repo / directory) if not n.endswith(".cue")]
            else:
                deeper = part.chain[depth + 1].rsplit("/", 1)[-1]  # mirrored for real
                names = [n for n in os.listdir(repo / directory) if n != deeper]
            for name in names:
                rel = f"{directory}/{name}" if directory else name
                source = part.above.get(rel)
                if source is None or source.apps <= apps:
                    os.symlink(repo / rel, target / name)
                else:
                    (target / name).write_bytes(_blanked(source, apps).encode())
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _blanked(source: _SourceFile, apps: frozenset[str]) -> str:
    """`source` with the entries of apps outside `apps` turned into blank space.

    Newlines stay, and the last line of each blanked entry keeps its length in bytes
    (CUE counts columns in bytes), so everything after it keeps its line and column.
    """
    parts: list[str] = []  # (partition() never lets a file with imports be cut)
    at = 0
    for entry in source.entries:
        if entry.app in apps:
            continue
        cut = source.text[entry.start : entry.end]
        last_line = cut.rsplit("\n", 1)[-1]
        parts += [source.text[at : entry.start], "\n" * cut.count("\n")]
        parts.append(" " * len(last_line.encode()))
        at = entry.end
    parts.append(source.text[at:])
    return "".join(parts)
