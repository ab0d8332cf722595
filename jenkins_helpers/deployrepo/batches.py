"""Evaluating apps in batches: bounded memory, time linear in the number of apps.

One `cue export -e objects ./services/apps` evaluates every app at once. Its memory
grows with the number of apps (CUE v0.4 under WASM runs out of its 2 GiB at 1000
apps, the v0.17 binary needs 1.15 GB there), and under current CUE so does its time
per app. But apps are independent given the shared declarations (platform layer,
`environment`, the wiring in deployments.cue): an app's objects depend on those and
on the app's own entries only. So a batch of apps is evaluated in a temporary
mirror of the repository that holds no other app's entries, batches run in
parallel on the engine's workers, and their objects are merged.

An app's entries are read from the source, never guessed: top-level fields
`apps: "<app>": ...` (or the fields of a top-level `apps: {...}`) in the files of
the package. When that is not clear-cut (an entry that mentions `apps`, an alias, a
comprehension inside `apps: {...}`, a file that cannot be parsed or that would be cut
while it imports packages), `plan` returns None and the caller evaluates the
package in one export, as before.

The mirror: real directories from the repository root down to the package, every
other entry a symlink to the original. A package file with entries of apps outside
the batch is left out when it holds nothing else, else copied with those entries
blanked: spaces, newlines kept, so every line:column CUE reports is the original's
and an error only needs the mirror's path replaced by the repository's.
"""

from __future__ import annotations

import contextlib
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
from typing import Any

from jenkins_helpers.cue import CueError
from jenkins_helpers.cuesrc import tokens
from jenkins_helpers.deployrepo import layout

APPS = "apps"
_ALIAS = re.compile(r"[A-Za-z_$#][\w$#]*\s*=(?!=)")  # `X=label:` declares an alias
_LABEL = re.compile(r"(?:apps|\"apps\")\s*:")  # the top-level `apps` label itself


class Unsplittable(Exception):
    """A batch's objects name something other than its apps: the package's `objects`
    are not keyed by app, so batches cannot be merged; evaluate the package whole."""


@dataclass(frozen=True)
class _Entry:
    app: str
    start: int
    end: int  # after the field and a comma right after it


@dataclass(frozen=True)
class _SourceFile:
    text: str
    entries: tuple[_Entry, ...]
    alone: bool  # only a package clause, imports and entries: can be left out whole
    imports: bool

    @property
    def apps(self) -> frozenset[str]:
        return frozenset(entry.app for entry in self.entries)


@dataclass(frozen=True)
class Partition:
    """The package's files that hold app entries, and the apps they name."""

    chain: tuple[str, ...]  # directories from the repository root to the package ("" is the root)
    files: dict[str, _SourceFile]  # relative path -> a package file with entries
    apps: tuple[str, ...]  # every app with an entry, sorted
    in_package_dir: frozenset[str]  # apps with an entry in the package's own directory


@dataclass(frozen=True)
class Batch:
    apps: frozenset[str]  # evaluated together
    wanted: frozenset[str]  # whose objects are kept (the others only keep CUE company)


def package_files(repo: Path) -> int:
    """How many .cue files the package's own directory holds (an app has one)."""
    directory = repo / layout.APPS_DIR
    return sum(1 for p in directory.glob("*.cue")) if directory.is_dir() else 0


def partition(repo: Path) -> Partition | None:
    """Who owns which declarations of the package, or None if that is not clear-cut."""
    parts = layout.APPS_DIR.split("/")
    # CUE adds the files of the same package in every directory up to the module root.
    dirs = ("", *("/".join(parts[: i + 1]) for i in range(len(parts))))
    package: str | None = None
    files: dict[str, _SourceFile] = {}
    in_package_dir: set[str] = set()
    for directory in reversed(dirs):  # the package directory first: it names the package
        for name in _cue_files(repo / directory):
            rel = f"{directory}/{name}" if directory else name
            read = _read(repo / rel)
            if read is None:
                return None
            file_package, source = read
            if package is None:
                package = file_package
            if file_package != package:
                if directory == dirs[-1]:
                    return None  # two packages in one directory: let CUE say so
                continue  # CUE leaves out an ancestor's files of other packages
            if source.imports and source.entries and not (source.alone and len(source.apps) == 1):
                return None  # cut, it could keep an import whose only users were cut out
            if source.entries:
                files[rel] = source
                if directory == dirs[-1]:
                    in_package_dir.update(entry.app for entry in source.entries)
    apps = sorted({entry.app for source in files.values() for entry in source.entries})
    return Partition(dirs, files, tuple(apps), frozenset(in_package_dir))


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


def _read(path: Path) -> tuple[str, _SourceFile] | None:
    """A package file's package name and entries, or None when it is not clear-cut."""
    try:
        text = path.read_bytes().decode()
        tree = tokens.parse(text)
    except (OSError, UnicodeDecodeError, tokens.CueSyntaxError):
        return None
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
    return package, _SourceFile(text, tuple(entries), alone, imports)


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
    """Whether an identifier `apps` occurs in `node` (a false alarm only costs batching)."""
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

    Every batch holds an app with an entry in the package directory: the package
    deploys nothing without one (deployments.cue), so an env.cue entry without an
    app layer must meet one to fail as it does in one export.
    """
    apps = [app for app in part.apps if wanted is None or app in wanted]
    if not apps:
        return []
    count = math.ceil(len(apps) / size)
    if count > 1:  # several rounds anyway: keep every worker busy in each
        count = min(len(apps), workers * math.ceil(count / workers))
    bounds = [round(i * len(apps) / count) for i in range(count + 1)]
    companion = min(part.in_package_dir, default=None)
    batches = []
    for low, high in itertools.pairwise(bounds):
        chosen = frozenset(apps[low:high])
        company = chosen
        if companion is not None and not chosen & part.in_package_dir:
            company = chosen | {companion}
        batches.append(Batch(company, chosen))
    return batches


def evaluate(
    repo: Path,
    part: Partition,
    batches: list[Batch],
    export: Callable[[Path], dict[str, Any]],
    workers: int,
) -> dict[str, Any]:
    """`export(directory)` of each batch's mirror, in parallel, merged: app -> objects.

    The first failing batch (in app order) fails the whole: its CueError, with the
    mirror's paths replaced by the repository's.
    """
    repo = repo.resolve()

    def run(batch: Batch) -> dict[str, Any]:
        with _mirror(repo, part, batch.apps) as root:
            try:
                objects = export(root)
            except CueError as e:
                raise _relocated(e, root, repo) from e
        if not objects.keys() <= batch.apps:
            raise Unsplittable(sorted(objects.keys() - batch.apps)[:3])
        return {app: value for app, value in objects.items() if app in batch.wanted}

    merged: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cue-batch") as pool:
        futures = [pool.submit(run, batch) for batch in batches]
        try:
            for future in futures:
                merged.update(future.result())
        finally:
            for future in futures:
                future.cancel()  # after a failure, start no more batches
    return merged


def _relocated(error: CueError, mirror: Path, repo: Path) -> CueError:
    """The same error, naming the repository instead of the mirror."""

    def fix(text: str) -> str:
        return text.replace(str(mirror), str(repo))

    return type(error)(fix(error.message), fix(error.hint) if error.hint else None)


@contextlib.contextmanager
def _mirror(repo: Path, part: Partition, apps: frozenset[str]) -> Iterator[Path]:
    """A temporary mirror of `repo` whose package holds the entries of `apps` only."""
    root = Path(tempfile.mkdtemp(prefix="gitops-render-batch-")).resolve()
    try:
        for depth, directory in enumerate(part.chain):
            deeper = part.chain[depth + 1 : depth + 2]
            below = deeper[0].rsplit("/", 1)[-1] if deeper else None  # mirrored for real
            target = root / directory
            target.mkdir(exist_ok=True)
            for name in os.listdir(repo / directory):
                if name == below:
                    continue
                rel = f"{directory}/{name}" if directory else name
                source = part.files.get(rel)
                if source is None or source.apps <= apps:
                    os.symlink(repo / rel, target / name)
                elif source.alone and not source.apps & apps:
                    continue  # nothing in it for this batch
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
