"""One-file bundles of a CUE package directory, for the WASM engine (see cue.py).

CUE v0.4 under WASM spends about 25 ms of CPU per .cue file in its loader (it runs a
small CUE evaluation of its own to classify every file), so a package of 300 one-app
files costs seconds before evaluation starts. The same declarations in ONE file load
in a fraction of that. `prepare()` builds a temporary mirror of the module in which
the target directory holds a single `gitops_bundle.cue`; everything else in the mirror
is a symlink to the original, and the directories leading from the module root to the
target are real directories so CUE still finds cue.mod and the ancestor directories'
files of the package.

A bundle is made only when it is provably the same package: every file in the
directory declares the same package and has nothing but plain fields after its
package clause (no imports, top-level lets or aliases, attributes, embeddings or
comprehensions, all of which are scoped to their file or would change closedness).
Each file keeps its exact lines and columns in the bundle (its package clause is
blanked with spaces), so `Bundle.translate` can map every position CUE reports back
to the original file and line.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from jenkins_helpers.cue.cache import module_root
from jenkins_helpers.cuesrc import tokens

BUNDLE_NAME = "gitops_bundle.cue"
MIN_FILES = 8  # below this the loader's per-file cost does not matter
# `path/gitops_bundle.cue:12:3` as CUE prints it (relative to the cwd, or absolute).
_POSITION = re.compile(r"(?P<dir>[^\s\"'()]*?)" + re.escape(BUNDLE_NAME) + r":(?P<line>\d+)")


@dataclass(frozen=True)
class _Part:
    name: str  # the original file's name in the target directory
    first_line: int  # the bundle line holding the file's line 1
    package_line: int  # the file's line with its package clause


class Bundle:
    """A temporary module mirror holding the bundle; a context manager that removes it."""

    def __init__(self, module_root: Path, cwd: Path, target_dir: Path, parts: list[_Part]):
        self.module_root = module_root
        self.temp = Path(tempfile.mkdtemp(prefix="gitops-cue-bundle-")).resolve()
        self.cwd = self.temp / cwd.relative_to(module_root)  # where CUE runs
        self.target_dir = self.temp / target_dir.relative_to(module_root)
        self._parts = parts
        self._starts = [part.first_line for part in parts]

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Delete the mirror (symlinks only, never what they point to)."""
        shutil.rmtree(self.temp, ignore_errors=True)

    def translate(self, text: str) -> str:
        """CUE's output with bundle positions mapped to the original files and lines."""
        text = _POSITION.sub(self._original_position, text)
        return text.replace(str(self.temp), str(self.module_root))

    def _original_position(self, match: re.Match[str]) -> str:
        where = os.path.normpath(os.path.join(self.cwd, match["dir"] or "."))
        if where != str(self.target_dir):
            return match[0]  # a file of the same name elsewhere
        line = int(match["line"])
        index = bisect.bisect_right(self._starts, line) - 1
        if index < 0:  # the bundle's own package clause: blame the first file's
            return f"{match['dir']}{self._parts[0].name}:{self._parts[0].package_line}"
        part = self._parts[index]
        return f"{match['dir']}{part.name}:{line - part.first_line + 1}"


def prepare(args: list[str], cwd: Path) -> Bundle | None:
    """A bundle to run `cue <args>` in instead of `cwd`, or None to run it as it is."""
    target = _single_target(args)
    if target is None:
        return None
    root = module_root(cwd)
    target_dir = Path(os.path.normpath(cwd / target))
    if root is None or not target_dir.is_dir() or target_dir.resolve() != target_dir:
        return None
    try:
        plan = _plan(target_dir)
        if plan is None:
            return None
        text, parts = plan
        bundle = Bundle(root, cwd, target_dir, parts)
    except OSError:
        return None  # unreadable files: let CUE itself report them
    try:
        _mirror(root, target_dir, bundle.temp, {part.name for part in parts})
        (bundle.target_dir / BUNDLE_NAME).write_bytes(text.encode())
    except OSError:
        bundle.remove()
        return None  # e.g. no symlinks on this file system: evaluate the usual way
    except BaseException:
        bundle.remove()
        raise
    return bundle


def _single_target(args: list[str]) -> str | None:
    """The one `./dir` target of an export or vet, or None for anything else."""
    if not args or args[0] not in ("export", "vet"):
        return None
    targets: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("--out", "-e"):
            next(rest, None)
        elif arg.startswith("-"):
            if arg not in ("-c", "-c=false"):
                return None
        else:
            targets.append(arg)
    if len(targets) != 1 or ":" in targets[0]:  # `dir:pkg` picks one of several packages
        return None
    # CUE takes anything else as an import path; `../x` would leave the mirrored tree.
    return targets[0] if targets[0] == "." or targets[0].startswith("./") else None


def _plan(target_dir: Path) -> tuple[str, list[_Part]] | None:
    """The bundle's text and where each file starts in it, or None if not equivalent."""
    names = []
    for entry in os.scandir(target_dir):
        if not entry.name.endswith(".cue") or entry.name[0] in "._":
            continue  # CUE ignores these
        if not entry.is_file() or entry.name.endswith(("_tool.cue", "_test.cue")):
            return None
        names.append(entry.name)
    if len(names) < MIN_FILES:
        return None
    package = None
    chunks: list[str] = []
    parts: list[_Part] = []
    line = 2  # line 1 is the bundle's package clause
    for name in sorted(names):
        try:
            source = (target_dir / name).read_bytes().decode()
        except UnicodeDecodeError:
            return None
        parsed = _body(source)
        if parsed is None:
            return None
        file_package, body, package_line = parsed
        if package not in (None, file_package):
            return None
        package = file_package
        if not body.endswith("\n"):
            body += "\n"
        chunks.append(body)
        parts.append(_Part(name, line, package_line))
        line += body.count("\n")
    return f"package {package}\n" + "".join(chunks), parts


def _body(source: str) -> tuple[str, str, int] | None:
    """(package name, source with its package clause blanked, clause line) or None."""
    if source.startswith("\ufeff"):
        return None
    try:
        parsed = tokens.parse(source)
    except tokens.CueSyntaxError:
        return None  # let CUE report it against the real file
    if not parsed.decls or not isinstance(parsed.decls[0], tokens.Other):
        return None
    clause = parsed.decls[0]
    words = _words(source[clause.start : clause.end])
    if clause.kind != "package" or len(words) != 2 or words[1].kind != "ident":
        return None
    name = words[1].text
    if name == "_" or name.startswith("#"):
        return None
    for decl in parsed.decls[1:]:
        if not isinstance(decl, tokens.Field):
            return None  # import, let, attribute, embedding, comprehension, `...`
        # The label up to the value: `X=label:` declares an alias scoped to its file.
        label = _words(source[decl.start : decl.value.start])
        if len(label) > 1 and label[1].is_punct("="):
            return None
    blank = " " * len(source[clause.start : clause.end].encode())
    body = source[: clause.start] + blank + source[clause.end :]
    return name, body, source.count("\n", 0, clause.start) + 1


def _words(source: str) -> list[tokens.Token]:
    """The tokens of `source` other than comments, newlines and the end."""
    return [t for t in tokens.tokenize(source) if t.kind not in ("comment", "newline", "eof")]


def _mirror(module_root: Path, target_dir: Path, temp: Path, bundled: set[str]) -> None:
    """Symlink the module into `temp`, with real directories down to the target."""
    chain = [module_root]
    for part in target_dir.relative_to(module_root).parts:
        chain.append(chain[-1] / part)
    for depth, directory in enumerate(chain):
        mirror = temp / directory.relative_to(module_root)
        mirror.mkdir(exist_ok=True)
        below = chain[depth + 1].name if depth + 1 < len(chain) else None
        for entry in os.scandir(directory):
            if entry.name == below or (directory == target_dir and entry.name in bundled):
                continue
            os.symlink(entry.path, mirror / entry.name)
