"""Edit env.cue by CUE path, changing only the bytes of the targeted value (docs/ARCHITECTURE.md).

env.cue is written by people and by the tool, and two merge requests editing two
apps must merge cleanly in git. So an edit replaces exactly the value's tokens, or
inserts one field, and keeps every other byte: comments, alignment, other apps. What
cannot be edited safely (a value that is an expression, a path defined in several
places, a file that does not parse) is refused with an EditError, never guessed.
The caller re-evaluates the result with CUE.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jenkins_helpers.cuesrc.literals import (
    CuePath,
    CueTextError,
    EditError,
    format_value,
    inline_value,
    label_chain,
    label_text,
    literal_value,
    same_value,
    unify,
)
from jenkins_helpers.cuesrc.tokens import (
    CueFile,
    CueSyntaxError,
    Expr,
    Field,
    Node,
    Other,
    Struct,
    parse,
    position,
    string_value,
    tokenize,
)
from jenkins_helpers.files import write_atomically

__all__ = [
    "DELETE",
    "CuePath",
    "EditError",
    "child_labels",
    "delete_path",
    "dotted",
    "edit_file",
    "get_value",
    "parse_path",
    "set_value",
]


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()  # edit_file: remove the field instead of setting it


@dataclass
class _Hit:
    field: Field  # the field at the end of the path
    unit: Field  # the outermost field of its label chain: the declaration to delete


def dotted(path: CuePath) -> str:
    """The path as CUE selector text, for messages: apps."example-app".env."""
    return ".".join(label_text(part) for part in path)


def parse_path(text: str) -> CuePath:
    """Turn `apps."example-app".env` into ("apps", "example-app", "env")."""
    try:
        tokens = [t for t in tokenize(text) if t.kind != "eof"]
    except CueSyntaxError as e:
        raise EditError(f"bad CUE path {text!r}: {e.message}") from e
    parts = []
    for n, tok in enumerate(tokens):
        if n % 2:
            ok = tok.is_punct(".")
        else:
            ok = tok.kind == "ident" or (tok.kind == "string" and not tok.interpolated)
            if ok:
                parts.append(tok.text if tok.kind == "ident" else _path_string(tok.text))
        if not ok:
            raise EditError(
                f"bad CUE path {text!r} at {tok.text!r}",
                hint='write labels separated by dots; quote the others: apps."my-app".env',
            )
    if not parts or len(tokens) % 2 == 0:
        raise EditError(f"bad CUE path {text!r}", hint='e.g. apps."my-app".env.replicas')
    return tuple(parts)


def _path_string(text: str) -> str:
    try:
        return string_value(text)
    except ValueError as e:
        raise EditError(f"bad CUE path label {text}: {e}") from e


@contextlib.contextmanager
def _reading(source: str) -> Iterator[None]:
    """Word a syntax error in `source` for the user: one the parse finds, or one inside a
    struct, found when the struct is first read (tokens.Struct)."""
    try:
        yield
    except CueSyntaxError as e:
        raise CueTextError(
            f"{position(source, e.offset)}: {e.message}",
            hint="fix the file (`gitops-helper cue fmt FILE` shows CUE's own message), then retry",
        ) from e


# --- finding a path ------------------------------------------------------------------


def _find(tree: CueFile, path: CuePath) -> tuple[list[_Hit], list[Field]]:
    """Every declaration of `path`, and the fields whose expression may hide it."""
    hits: list[_Hit] = []
    blocked: list[Field] = []
    _find_in(_candidates(tree, path), path, hits, blocked)
    return hits, blocked


def _candidates(tree: CueFile, path: CuePath) -> list[Field | Other]:
    """The top-level declarations that may hold `path`, in file order: for a path of two
    labels or more, those whose label chain starts with them or does not go on."""
    if len(path) < 2:
        return tree.decls
    chains = tree.chains
    found = heapq.merge(chains.get((path[0], path[1]), []), chains.get((path[0], None), []))
    return [tree.decls[n] for n in found]


def _find_in(
    decls: list[Field | Other], path: CuePath, hits: list[_Hit], blocked: list[Field]
) -> None:
    for decl in decls:
        if isinstance(decl, Field) and decl.label == path[0] and not decl.marker:
            _descend(decl, decl, path[1:], hits, blocked)


def _descend(
    field: Field, unit: Field, rest: CuePath, hits: list[_Hit], blocked: list[Field]
) -> None:
    """Follow `rest` below `field`; a label chain keeps `unit`, a struct starts anew."""
    if not rest:
        hits.append(_Hit(field, unit))
        return
    value = field.value
    if isinstance(value, Field):
        if value.label == rest[0] and not value.marker:
            _descend(value, unit, rest[1:], hits, blocked)
    elif isinstance(value, Struct):
        _find_in(value.decls, rest, hits, blocked)
    elif isinstance(value, Expr) and not _is_literal(value):
        blocked.append(field)


def _is_literal(node: Node) -> bool:
    try:
        literal_value(node, "")
    except EditError:
        return False
    return True


def _where(source: str, fields: list[Field]) -> str:
    return ", ".join(position(source, f.start) for f in fields)


def _blocked_error(source: str, blocked: list[Field]) -> EditError:
    return EditError(
        f"cannot look inside the expression at {_where(source, blocked)}",
        hint="only literal structs can be edited; change this field by hand",
    )


# --- public read API ---------------------------------------------------------------------


def get_value(source: str, path: CuePath) -> Any | None:
    """The literal value at `path` (merged over all its declarations); None if absent."""
    with _about(path), _reading(source):
        _check_path(path)
        tree = parse(source)
        hits, blocked = _find(tree, path)
        if not hits:
            if blocked:
                raise _blocked_error(source, blocked)
            return None
        value = literal_value(hits[0].field.value, source)
        for hit in hits[1:]:
            value = unify(value, literal_value(hit.field.value, source), source, hit.field.start)
        return value


def child_labels(source: str, path: CuePath) -> list[str]:
    """The labels declared directly below `path` (e.g. the apps of env.cue), in file order."""
    with _about(path), _reading(source):
        _check_path(path)
        hits, blocked = _find(parse(source), path)
        if blocked:
            raise _blocked_error(source, blocked)
    labels: list[str] = []
    for hit in hits:
        value = hit.field.value
        fields = [value] if isinstance(value, Field) else getattr(value, "decls", [])
        for child in fields:
            if isinstance(child, Field) and child.label and child.label not in labels:
                labels.append(child.label)
    return labels


def _check_path(path: CuePath) -> None:
    if not path or not all(isinstance(part, str) for part in path):
        raise EditError(f"bad CUE path {path!r}: expected a non-empty tuple of labels")


# --- text helpers ---------------------------------------------------------------------------


def _line_start(source: str, offset: int) -> int:
    return source.rfind("\n", 0, offset) + 1


def _next_line(source: str, offset: int) -> int:
    """Offset of the line after the one holding `offset` (len(source) on the last line)."""
    end = source.find("\n", offset)
    return len(source) if end < 0 else end + 1


def _indent(source: str, offset: int) -> int:
    start = _line_start(source, offset)
    line = source[start:offset]
    return len(line) - len(line.lstrip("\t"))


def _is_blank(source: str, line_start: int) -> bool:
    if line_start >= len(source):
        return False
    return not source[line_start : _next_line(source, line_start)].strip()


def _prev_line(source: str, line_start: int) -> int:
    return _line_start(source, line_start - 1)


def _doc_start(tree: CueFile, offset: int) -> int:
    """Start of the comment lines directly above `offset`'s line (CUE's doc comment)."""
    start = _line_start(tree.source, offset)
    while start > 0:
        above = _prev_line(tree.source, start)
        text = tree.source[above:start]
        if above + len(text) - len(text.lstrip()) not in tree.comments:
            break
        start = above
    return start


def _insert_block(source: str, pos: int, block: str) -> str:
    """Insert a top-level block at line start `pos` with one blank line on each side."""
    if pos == len(source) and source and not source.endswith("\n"):
        source += "\n"
        pos += 1
    before = "" if pos == 0 or _is_blank(source, _prev_line(source, pos)) else "\n"
    after = "" if pos == len(source) or _is_blank(source, pos) else "\n"
    return source[:pos] + before + block + "\n" + after + source[pos:]


@contextlib.contextmanager
def _about(path: CuePath) -> Iterator[None]:
    """Prefix any EditError raised inside with the path it concerns."""
    try:
        yield
    except CueTextError:
        raise  # about the whole file, whatever path was asked for
    except EditError as e:
        raise EditError(f"{dotted(path)}: {e.message}", e.hint) from e


# --- setting ------------------------------------------------------------------------------


def set_value(source: str, path: CuePath, value: Any) -> str:
    """Set the field at `path` to the literal `value`, adding it (and parents) if missing."""
    with _about(path), _reading(source):
        _check_path(path)
        format_value(value, 0)  # refuse an unwritable value before looking at the file
        tree = parse(source)
        hits, blocked = _find(tree, path)
        if len(hits) > 1:
            raise EditError(
                f"set in {len(hits)} places ({_where(source, [h.field for h in hits])})",
                hint="keep one declaration of it, then retry",
            )
        if hits:
            return _replace(source, hits[0].field, value)
        if blocked:
            raise _blocked_error(source, blocked)
        return _insert(tree, path, value)


def _replace(source: str, field: Field, value: Any) -> str:
    node = field.value
    if same_value(literal_value(node, source), value):
        return source
    text = format_value(value, _indent(source, field.start))
    return source[: node.start] + text + source[node.end :]


def _insert(tree: CueFile, path: CuePath, value: Any) -> str:
    """Add a missing field below the deepest part of its path that exists."""
    source = tree.source
    if path[0] == "apps" and len(path) > 1 and _find(tree, path[:2]) == ([], []):
        return _insert_app(tree, path, value)
    for depth in range(len(path) - 1, 0, -1):
        hits, blocked = _find(tree, path[:depth])
        if hits:
            node = _container(source, path[:depth], hits)
            if isinstance(node, Struct):
                return _insert_into_struct(source, node, path[depth:], value)
            # A label chain `image: tag: "1.0.0"` becomes `image: {tag: "1.0.0", new: 1}`.
            added = f", {label_chain(path[depth:])}: {inline_value(value)}}}"
            chain = source[node.start : node.end]
            return f"{source[: node.start]}{{{chain}{added}{source[node.end :]}"
        if blocked:
            raise _blocked_error(source, blocked)
    return _insert_block(source, len(source), f"{label_chain(path)}: {format_value(value, 0)}")


def _container(source: str, prefix: CuePath, hits: list[_Hit]) -> Struct | Field:
    """The struct (preferred) or label chain where a new field below `prefix` goes."""
    for kind in (Struct, Field):
        for hit in hits:
            if isinstance(hit.field.value, kind):
                return hit.field.value
    field = hits[0].field
    if isinstance(field.value, Expr) and not _is_literal(field.value):
        raise _blocked_error(source, [field])
    raise EditError(
        f"cannot add a field below {dotted(prefix)} at {position(source, field.start)}: "
        "its value is not a struct",
        hint="delete it first if it should become a struct",
    )


def _insert_into_struct(source: str, struct: Struct, rest: CuePath, value: Any) -> str:
    """Add a line before a closing `}` on its own line, else `, field` inside `{...}`."""
    close = struct.end - 1
    line = _line_start(source, close)
    if line <= struct.start or source[line:close].strip():
        text = f"{label_chain(rest)}: {inline_value(value)}"
        if struct.decls:
            end = struct.decls[-1].end
            return f"{source[:end]}, {text}{source[end:]}"
        return source[: struct.start + 1] + text + source[struct.start + 1 :]
    prefix = source[line:close] + "\t"
    if struct.decls:
        last = struct.decls[-1]
        before = source[_line_start(source, last.start) : last.start]
        prefix = prefix if before.strip() else before
    depth = prefix.count("\t")
    text = f"{prefix}{label_chain(rest)}: {format_value(value, depth)}\n"
    return source[:line] + text + source[line:]


def _insert_app(tree: CueFile, path: CuePath, value: Any) -> str:
    """A new `apps: "<name>": env: {...}` block, placed in order among the app blocks."""
    rest = path[3:]
    body = format_value(value, 0)
    if rest:
        body = f"{{\n\t{label_chain(rest)}: {format_value(value, 1)}\n}}"
    blocks = [
        d
        for d in tree.decls
        if isinstance(d, Field) and d.label == "apps" and isinstance(d.value, Field)
    ]
    later = [d for d in blocks if isinstance(d.value, Field) and (d.value.label or "") > path[1]]
    if later:
        pos = _doc_start(tree, later[0].start)
    else:
        pos = _next_line(tree.source, blocks[-1].end) if blocks else len(tree.source)
    return _insert_block(tree.source, pos, f"{label_chain(path[:3])}: {body}")


# --- deleting -----------------------------------------------------------------------------


def delete_path(source: str, path: CuePath) -> str:
    """Remove every declaration of `path` with its doc comment and now-empty label chain."""
    with _about(path):
        _check_path(path)
        deleted = False
        while True:
            with _reading(source):
                tree = parse(source)
                hits, blocked = _find(tree, path)
                if not hits:
                    if blocked and not deleted:
                        raise _blocked_error(source, blocked)
                    return source
                source, deleted = _delete(tree, hits[-1].unit), True


def _delete(tree: CueFile, unit: Field) -> str:
    source = tree.source
    start = _line_start(source, unit.start)
    end = _line_rest(tree, unit.end)
    if end is not None and not source[start : unit.start].strip():
        return _drop_lines(source, _doc_start(tree, unit.start), end)
    end = _skip_spaces(source, unit.end)
    if source[end : end + 1] == ",":  # `a: 1, b: 2` -> `b: 2`
        return source[: unit.start] + source[_skip_spaces(source, end + 1) :]
    start = len(source[: unit.start].rstrip(" \t"))
    if source[start - 1 : start] == ",":  # `a: 1, b: 2` -> `a: 1`
        return source[: start - 1] + source[unit.end :]
    return source[: unit.start] + source[unit.end :]


def _skip_spaces(source: str, offset: int) -> int:
    while source[offset : offset + 1] in (" ", "\t", "\r"):
        offset += 1
    return offset


def _line_rest(tree: CueFile, offset: int) -> int | None:
    """End of the line if only a comma, spaces and a comment follow `offset`, else None."""
    source = tree.source
    offset = _skip_spaces(source, offset)
    if source[offset : offset + 1] == ",":
        offset = _skip_spaces(source, offset + 1)
    if offset in tree.comments or source[offset : offset + 1] == "\n" or offset == len(source):
        return _next_line(source, offset)
    return None


def _drop_lines(source: str, start: int, end: int) -> str:
    """Remove whole lines [start, end) and one of the blank lines that surrounded them."""
    prev_blank = start > 0 and _is_blank(source, _prev_line(source, start))
    opens = start == 0 or source[_prev_line(source, start) : start].rstrip().endswith("{")
    closes = end == len(source) or source[end:].lstrip(" \t").startswith("}")
    if _is_blank(source, end) and (prev_blank or opens):
        end = _next_line(source, end)
    elif prev_blank and closes:
        start = _prev_line(source, start)
    return source[:start] + source[end:]


# --- files --------------------------------------------------------------------------------


def edit_file(path: Path, edits: Sequence[tuple[CuePath, Any]]) -> bool:
    """Apply `edits` (a value or DELETE per path); write only if the text changed.

    Callers re-evaluate the result with CUE: the editor keeps bytes, CUE judges values.
    """
    path = Path(path)
    try:
        old = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EditError(f"cannot read {path}: {e}") from e
    new = old
    try:
        for cue_path, value in edits:
            new = delete_path(new, cue_path) if value is DELETE else set_value(new, cue_path, value)
    except CueTextError as e:
        raise e.in_file(str(path)) from e
    except EditError as e:
        raise EditError(f"{path}: {e.message}", e.hint) from e
    if new == old:
        return False
    write_atomically(path, new)
    return True
