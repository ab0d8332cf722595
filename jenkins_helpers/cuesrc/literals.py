"""CUE literal values in source text: read them as Python values, write Python values as CUE.

Only literals: structs, lists, strings, numbers (with CUE's K/Ki... multipliers),
booleans and null. Anything CUE would have to compute (a reference, an
interpolation, an operator) is refused with an EditError rather than guessed.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from jenkins_helpers.cuesrc.tokens import (
    Expr,
    Field,
    ListLit,
    Node,
    Other,
    Struct,
    position,
    string_value,
)
from jenkins_helpers.errors import UserError

_IDENT = re.compile(r"[A-Za-z$][A-Za-z0-9_$]*")
_KEYWORDS = {"true", "false", "null", "if", "for", "in", "let", "import", "package", "_"}
_MULTIPLIERS = {p: 1000**n for n, p in enumerate("KMGTP", 1)}
_MULTIPLIERS |= {p + "i": 1024**n for n, p in enumerate("KMGTP", 1)}
CuePath = tuple[str, ...]


class EditError(UserError):
    """CUE text cannot be read or edited safely as asked; the message names path and position."""


class CueTextError(EditError):
    """The text is not CUE we can read (a syntax error): about the file, not about a path.

    `message` is `line:col: what`, as CUE itself reports positions; `in_file` adds
    the file's name in front, so the user sees `env.cue:16:26: string not terminated`.
    """

    def in_file(self, name: str) -> CueTextError:
        """The same error, prefixed with the file's name."""
        return CueTextError(f"{name}:{self.message}", self.hint)


def literal_value(node: Node, source: str) -> Any:
    """The Python value of a literal node; EditError for anything CUE would compute."""
    if isinstance(node, Field):
        if node.label is None or node.marker == "!":
            raise _notliteral_value(source, node.start, node.end)
        if node.hidden or node.marker == "?":  # not part of the exported value
            return {}
        return {node.label: literal_value(node.value, source)}
    if isinstance(node, Struct):
        result: dict[str, Any] = {}
        for decl in node.decls:
            if not (isinstance(decl, Other) and decl.kind in ("ellipsis", "attribute")):
                result = unify(result, literal_value(decl, source), source, decl.start)
        return result
    if isinstance(node, ListLit):
        return [literal_value(item, source) for item in node.items]
    if isinstance(node, Expr):
        return _scalar(node, source)
    raise _notliteral_value(source, node.start, node.end)


def _scalar(node: Expr, source: str) -> Any:
    toks = node.tokens
    sign = 1
    if len(toks) == 2 and toks[0].is_punct("-", "+") and toks[1].kind == "number":
        sign, toks = (-1 if toks[0].text == "-" else 1), toks[1:]
    if len(toks) != 1:
        raise _notliteral_value(source, node.start, node.end)
    tok = toks[0]
    try:
        if tok.kind == "number":
            return sign * _number(tok.text)
        if tok.kind == "string" and not tok.interpolated and sign == 1:
            return string_value(tok.text)
    except ValueError as e:
        raise EditError(f"cannot read the value at {position(source, tok.start)}: {e}") from e
    constants = {"true": True, "false": False, "null": None}
    if tok.kind == "ident" and tok.text in constants and sign == 1:
        return constants[tok.text]
    raise _notliteral_value(source, node.start, node.end)


def _number(text: str) -> int | float:
    digits = text.replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        return int(digits, 0)
    suffix = next((s for s in ("Ki", "Mi", "Gi", "Ti", "Pi", *"KMGTP") if digits.endswith(s)), "")
    if suffix:
        try:
            scaled = Decimal(digits[: -len(suffix)]) * _MULTIPLIERS[suffix]
        except InvalidOperation as e:
            raise ValueError(f"bad number {text!r}") from e
        return int(scaled)
    if any(c in digits for c in ".eE"):
        return float(digits)
    if len(digits) > 1 and digits[0] == "0":
        raise ValueError(f"bad number {text!r}")
    return int(digits)


def _notliteral_value(source: str, start: int, end: int) -> EditError:
    text = source[start:end]
    shown = text if len(text) <= 40 and "\n" not in text else text[:40].split("\n")[0] + "..."
    return EditError(
        f"the value at {position(source, start)} is not a literal: {shown}",
        hint="the tool only edits literal values; change this one by hand",
    )


def unify(a: Any, b: Any, source: str, offset: int) -> Any:
    """Merge two literal values the way CUE unifies them, or refuse on a conflict."""
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = unify(merged[key], value, source, offset) if key in a else value
        return merged
    if same_value(a, b):
        return a
    raise EditError(f"conflicting values at {position(source, offset)}: {a!r} and {b!r}")


def same_value(a: Any, b: Any) -> bool:
    """Equal as CUE values: 1, 1.0 and true differ; key order does not matter."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def label_text(name: str) -> str:
    """A label as written: quoted unless it is a plain identifier (not hidden, not a keyword)."""
    if not isinstance(name, str):
        raise EditError(f"cannot write the label {name!r} in CUE: labels must be strings")
    if _IDENT.fullmatch(name) and name not in _KEYWORDS:
        return name
    return json.dumps(name, ensure_ascii=False)


def label_chain(labels: CuePath) -> str:
    return ": ".join(label_text(part) for part in labels)


def format_value(value: Any, indent: int) -> str:
    """A CUE literal; a non-empty dict spans lines, indented with tabs and its scalar
    fields' values aligned, like `cue fmt`."""
    if isinstance(value, dict) and value:
        inner = "\t" * (indent + 1)
        fields = [(label_text(k), v, format_value(v, indent + 1)) for k, v in value.items()]
        lines = "".join(f"{inner}{line}\n" for line in _aligned(fields))
        return "{\n" + lines + "\t" * indent + "}"
    return inline_value(value)


def _aligned(fields: list[tuple[str, Any, str]]) -> list[str]:
    """`label: value` lines; each run of scalar fields has its values in one column, as
    `cue fmt` aligns them (a list or struct value ends the run, unaligned)."""
    lines: list[str] = []
    run: list[tuple[str, str]] = []
    for label, value, text in [*fields, ("", [], "")]:
        if not isinstance(value, dict | list | tuple):
            run.append((label, text))
            continue
        width = max((len(lab) for lab, _ in run), default=0)
        lines += [f"{lab}:{' ' * (width - len(lab) + 1)}{t}" for lab, t in run]
        run = []
        lines += [f"{label}: {text}"] if label else []
    return lines


def inline_value(value: Any) -> str:
    """A CUE literal on one line, for lists and for insertions inside one-line structs."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EditError(f"cannot write {value!r} in CUE", hint="use a finite number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inline_value(v) for v in value) + "]"
    if isinstance(value, dict):
        fields = ", ".join(f"{label_text(k)}: {inline_value(v)}" for k, v in value.items())
        return "{" + fields + "}"
    raise EditError(f"cannot write a {type(value).__name__} in CUE: {value!r}")
