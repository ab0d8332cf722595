"""Rendering: the CUE objects of an environment, written as one YAML file per object.

`manifests/<env>/<app>/<kind>-<name>.yaml` is what ArgoCD syncs. The files must be
byte-for-byte reproducible, so a stale or hand-edited manifest shows up as a diff.

  GITOPS_RENDER_BATCH  apps per CUE evaluation (default 200). A package with more app
                       files is evaluated in batches of apps, in parallel on the
                       engine's workers (batches.py): the same objects, in memory
                       bounded by the batch and time linear in the number of apps.
                       0 evaluates every app in one export.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jenkins_helpers import inputs
from jenkins_helpers.cue import CueEngine, CueError, get_engine
from jenkins_helpers.deployrepo import batches, layout, suggest
from jenkins_helpers.errors import BadInput, UserError

_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# Measured (docs/PERFORMANCE.md): a batch costs a fixed ~0.5 s of CPU under WASM
# (loading the platform layer); 200 apps made the least CPU there (10-15% less than
# 100), cost the binary nothing, and keep a node worker near 0.55 GiB, a cue 0.3 GB.
DEFAULT_BATCH = 200


@dataclass(frozen=True)
class RenderResult:
    env: str
    files: dict[str, str]  # path relative to the repo -> YAML text
    written: list[str]  # created or changed files
    removed: list[str]  # files of objects or apps that no longer exist

    @property
    def changed(self) -> list[str]:
        return sorted(self.written + self.removed)


Objects = dict[str, list[dict[str, Any]]]


def evaluate(repo: Path, engine: CueEngine | None = None) -> Objects:
    """Every app's Kubernetes objects in the checked-out environment.

    One CUE export, or above GITOPS_RENDER_BATCH app files one per batch of apps.
    """
    return _merged(_in_parts(repo, engine, None, _same))


def evaluate_apps(repo: Path, apps: Collection[str], engine: CueEngine | None = None) -> Objects:
    """The objects of `apps` only, without evaluating the environment's other apps.

    An app that is not deployed here (no env.cue entry) or does not exist has no
    objects, so it is absent from the result. CUE errors in the other apps go
    unnoticed: `evaluate` sees everything.
    """
    return _merged(_in_parts(repo, engine, set(apps), _same))


def batch_size() -> int:
    """GITOPS_RENDER_BATCH (see the module docstring)."""
    raw = os.environ.get("GITOPS_RENDER_BATCH", "").strip() or str(DEFAULT_BATCH)
    if not (raw.isascii() and raw.isdigit()):  # "²" is a digit int() cannot read
        raise BadInput(
            f"GITOPS_RENDER_BATCH must be a number of apps, got {raw!r}",
            hint=f"unset it (default {DEFAULT_BATCH}), or 0 for one CUE evaluation",
        )
    return int(raw)


T = TypeVar("T")


def _same(objects: Objects) -> Objects:
    return objects


def _merged(parts: list[dict[str, T]]) -> dict[str, T]:
    merged: dict[str, T] = {}
    for part in parts:
        merged.update(part)
    return merged


def _in_parts(
    repo: Path,
    engine: CueEngine | None,
    wanted: set[str] | None,
    convert: Callable[[Objects], T],
    *,
    vet: bool = False,
) -> list[T]:
    """`convert` of the objects of `wanted` (None: all) apps, one part per CUE evaluation.

    The whole package in one export when it holds at most GITOPS_RENDER_BATCH app
    files (wanted apps: always in batches), else batch by batch (batches.py), unless
    it cannot be split. `convert` runs as each batch arrives, while others evaluate.
    `vet`: also `cue vet -c` what each evaluation evaluates (the batch's apps).
    """
    engine = engine or get_engine()
    size: float = batch_size()
    if wanted is not None:
        size = size or math.inf  # 0: the wanted apps in one evaluation
    try:
        part = None
        if wanted is not None or (size and batches.package_files(repo) > size):
            part = batches.partition(repo)
        if part is not None:
            try:
                if wanted is not None:
                    part.check_others(wanted)
                plan = batches.plan(part, wanted, size, engine.concurrency)
                return batches.run(
                    part,
                    plan,
                    lambda mirror: _export(mirror, engine, repo, vet=vet),
                    convert,
                    engine.concurrency,
                )
            except batches.Unsplittable:
                pass  # evaluate the package whole, below
        objects = _export(repo, engine, repo, vet=vet)
        return [convert({a: o for a, o in objects.items() if wanted is None or a in wanted})]
    except CueError as e:
        raise suggest.explained(e, repo) from e


def _export(cwd: Path, engine: CueEngine, repo: Path, *, vet: bool = False) -> Objects:
    """`cue export -e objects ./services/apps` in `cwd` (the repository or a mirror of it).

    `vet`: `cue vet -c` the package there first (what checks.vet does for the whole).
    """
    if vet:
        engine.vet([layout.CUE_PACKAGE], cwd=cwd, concrete=True)
    objects = engine.export([layout.CUE_PACKAGE], cwd=cwd, expression="objects")
    if not isinstance(objects, dict):
        raise UserError(f"CUE `objects` in {repo} is not a struct of apps")
    return objects


def manifest_files(env: str, objects: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The manifest files for `objects`: relative path -> YAML text."""
    files: dict[str, str] = {}
    for app in sorted(objects):
        inputs.app_name(app)  # it becomes a directory name: no path tricks
        for obj in objects[app]:
            path = _file_name(env, app, obj)
            if path in files:
                raise UserError(f"two objects of app {app!r} would both be written to {path}")
            files[path] = to_yaml(obj)
    return files


def _file_name(env: str, app: str, obj: dict[str, Any]) -> str:
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(kind, str) or not isinstance(name, str) or not _OBJECT_NAME.match(name):
        raise UserError(
            f"app {app!r} has an object without a valid kind and metadata.name: {obj!r:.200}"
        )
    return layout.manifest_file(env, app, kind, name)


class _ManifestDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting every string YAML 1.1 or 1.2 would read as another type."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# libyaml's emitter (PyYAML built with it): about 5x faster, 0.6 s instead of 3 s for
# 4000 objects. It writes what the pure one writes except where the two differ
# (characters outside the BMP, control characters, folding of lines longer than
# the width), so it is used only for objects where they cannot differ (`_plain`).
_FastDumper: type[yaml.CSafeDumper] | None = None
if hasattr(yaml, "CSafeDumper"):

    class _CManifestDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    _FastDumper = _CManifestDumper

# PyYAML already quotes yes/no/on/off/true/false and numbers. YAML 1.1 also reads
# y/n as booleans, and YAML 1.2 reads 1e3 as a number: quote those too.
for _dumper in (_ManifestDumper, _FastDumper):
    if _dumper is not None:
        _dumper.add_implicit_resolver(
            "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN")
        )
        _dumper.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)$"),
            list("-+.0123456789"),
        )
# Printable ASCII, newline and tab, and short enough that no line reaches the width.
_PLAIN_TEXT = re.compile(r"[\x20-\x7e\n\t]{0,1000}")


def _plain(value: Any) -> bool:
    """Whether both emitters write `value` alike: strings of `_PLAIN_TEXT`, no empty key."""
    if isinstance(value, str):
        return _PLAIN_TEXT.fullmatch(value) is not None
    if isinstance(value, dict):
        return all(key != "" and _plain(key) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return True


# libyaml's parser, when PyYAML has it: ~10x faster at reading a manifest back.
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def deployment_image(text: str) -> str | None:
    """The image a rendered Deployment (its YAML) runs: its first container's; None if
    the text is no such Deployment."""
    try:
        obj = yaml.load(text, Loader=_FastLoader)  # noqa: S506  # a safe loader
        return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def to_yaml(obj: Any) -> str:
    """Deterministic YAML: sorted keys, block style, no aliases."""
    if _FastDumper is not None and isinstance(obj, dict) and _plain(obj):
        return _dump(obj, _FastDumper)
    return _dump(obj, _ManifestDumper)


def _dump(obj: Any, dumper: type[yaml.SafeDumper] | type[yaml.CSafeDumper]) -> str:
    return yaml.dump(
        obj,
        Dumper=dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )


def existing_files(repo: Path, env: str) -> dict[str, str]:
    """The manifest files committed (or present) for `env`: relative path -> text."""
    return _files_under(repo, layout.env_manifests(env))


def _files_under(repo: Path, root: str) -> dict[str, str]:
    """Every file under `root` (relative to `repo`): relative path -> text."""
    top = repo / root
    if not top.is_dir():
        return {}
    return {
        path.relative_to(repo).as_posix(): path.read_text()
        for path in sorted(top.rglob("*"))
        if path.is_file()
    }


def diff_files(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Paths that differ between two manifest sets: changed, missing or extra."""
    return sorted(p for p in expected.keys() | actual.keys() if expected.get(p) != actual.get(p))


def render(repo: Path, env: str, engine: CueEngine | None = None) -> RenderResult:
    """Render `env`'s manifests into `repo` (an environment checkout) and drop stale files.

    A CUE error changes nothing: see _Staging.
    """
    return _render_into(repo, env, existing_files(repo, env), None, engine)


def render_apps(repo: Path, env: str, apps: Collection[str], *, vet: bool = False) -> RenderResult:
    """Render only `apps`' manifests of `env` into `repo`; every other app's stay as they are.

    What a change confined to these apps' app layers and env.cue entries needs (the
    promotion planner checks that it is): their objects (evaluate_apps, without the
    other apps), written under `manifests/<env>/<app>/`, stale files there removed;
    an app without objects any more loses its directory. `vet`: also `cue vet -c`
    what is evaluated. `files` holds these apps' manifests only.
    """
    wanted = set(apps)
    actual: dict[str, str] = {}
    for app in sorted(wanted):
        actual.update(_files_under(repo, layout.app_manifests(env, app)))
    return _render_into(repo, env, actual, wanted, None, vet=vet)


def _render_into(
    repo: Path,
    env: str,
    actual: dict[str, str],
    wanted: set[str] | None,
    engine: CueEngine | None,
    *,
    vet: bool = False,
) -> RenderResult:
    """Render the objects of `wanted` (None: all) apps over `actual`, the manifest files
    they replace: write what differs, delete what is no longer rendered."""
    with _Staging(repo, env, actual) as staging:
        expected = _merged(_in_parts(repo, engine, wanted, staging.add, vet=vet))
        written = staging.commit()
    removed = sorted(actual.keys() - expected.keys())
    for rel in removed:
        (repo / rel).unlink()
    roots = (
        [layout.env_manifests(env)]
        if wanted is None
        else [layout.app_manifests(env, app) for app in sorted(wanted)]
    )
    for root in roots:
        _remove_empty_dirs(repo / root)
    envdir = repo / layout.env_manifests(env)
    if envdir.is_dir() and not any(envdir.iterdir()):
        envdir.rmdir()
    return RenderResult(env, expected, written, removed)


def compare(
    repo: Path, env: str, engine: CueEngine | None = None
) -> tuple[dict[str, str], list[str]]:
    """The manifest files `env` should have, and those stale or hand-edited (nothing written)."""
    expected = _merged(_in_parts(repo, engine, None, lambda objects: manifest_files(env, objects)))
    return expected, diff_files(expected, existing_files(repo, env))


def check(repo: Path, env: str, engine: CueEngine | None = None) -> list[str]:
    """Manifest paths that are stale or hand-edited in `repo` (nothing is written)."""
    return compare(repo, env, engine)[1]


class _Staging:
    """Manifest files written under temporary names as their batch arrives, renamed
    into place by `commit`. Left uncommitted (a CUE error in a later batch, an
    interrupted build), every temporary file and every directory made for them goes.

    Creating 4000 files takes 0.3 s on a quiet disk and seconds on a busy one: this
    way it overlaps the evaluation of the other batches, and a failed render still
    changes nothing. No fsync (unlike files.write_atomically): manifests are derived
    from CUE, and an fsync each made writing 4000 of them take 1.5 to 9 s here. After
    a crash, `render --check` lists a file lost (or a temporary one), and `render`
    mends it.
    """

    def __init__(self, repo: Path, env: str, actual: dict[str, str]) -> None:
        self.repo = repo
        self.env = env
        self.actual = actual  # the files there now: one identical to its new text stays
        self._staged: dict[str, str] = {}  # path relative to the repo -> temporary file
        self._dirs: set[Path] = set()  # directories known to exist
        self._made: set[Path] = set()  # ... of which those made here
        self._lock = threading.Lock()  # batches arrive on the engine's worker threads

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for tmp in self._staged.values():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            self._staged.clear()
            for directory in sorted(self._made, key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):  # kept when anything else is in it
                    directory.rmdir()

    def add(self, objects: Objects) -> dict[str, str]:
        """The manifest files of `objects`; each that differs from `actual` is staged."""
        files = manifest_files(self.env, objects)
        for rel, text in files.items():
            if self.actual.get(rel) != text:
                self._stage(rel, text)
        return files

    def commit(self) -> list[str]:
        """Move every staged file into place; the paths written, sorted."""
        with self._lock:
            written = sorted(self._staged)
            for rel in written:
                os.replace(self._staged.pop(rel), self.repo / rel)
            self._made.clear()  # they hold manifests now
        return written

    def _stage(self, rel: str, text: str) -> None:
        path = self.repo / rel
        self._make_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with self._lock:
            earlier = self._staged.get(rel)  # a package evaluated again, whole (Unsplittable)
            self._staged[rel] = tmp
        if earlier is not None:
            os.unlink(earlier)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a manifest is readable by all

    def _make_dir(self, directory: Path) -> None:
        """Make `directory` and its missing parents, remembering each one made."""
        if directory in self._dirs:
            return
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            with self._lock:
                self._made.add(path)  # before mkdir: an interruption still removes it
            path.mkdir(exist_ok=True)  # another batch's thread may make it first
        with self._lock:
            self._dirs.update(missing)
            self._dirs.add(directory)


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
