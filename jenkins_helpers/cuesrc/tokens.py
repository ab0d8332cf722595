"""Tokens of a CUE file and the tree of its declarations, with offsets for in-place edits.

Only as much of CUE as editing env.cue needs: strings (escapes, interpolation,
multi-line, raw), comments, nesting and label chains are understood exactly, so a
brace inside a string or a comment is never taken for structure. Expressions other
than struct and list literals stay opaque token ranges: editor.py refuses to edit them.
"""

from __future__ import annotations

import bisect
import collections
import functools
import gc
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Deeper structs, lists or label chains are refused (hand-written CUE is a few levels deep).
MAX_NESTING = 100
OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}
_MULTI_PUNCT = ("...", "&&", "||", "==", "!=", "<=", ">=", "=~", "!~", "_|_")
_PUNCT = "{}[]()<>:,?!=&|+-*/."
# After these a newline ends the value (CUE's automatic comma), as in Go.
_OPERAND_END = {")", "]", "}", "...", "_|_"}
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPES |= {c: c for c in "\\/\"'"}


_BLANKS = re.compile(r"[ \t\r\f\ufeff]*")
# The tokens most of a file is made of, in one regular expression: the lexer is ~2x as
# fast with it on a 1000-app env.cue. Anything else, or anything near an edge case (a
# string with an escape, an identifier running on into `$` or a non-ASCII letter, a
# number that goes on as `1.5` or `1Mi`), is left to the careful code below.
_SIMPLE = re.compile(
    r"(?P<newline>\n)"
    r"|(?P<punct>[{}\[\]():,])"
    r'|(?P<string>"(?!"")[^"\\\n]*")'
    r"|(?P<ident>[A-Za-z][A-Za-z0-9_]*(?![\w$#]))"
    r"|(?P<number>[0-9]+(?![\w.]))"
    r"|(?P<comment>//[^\n]*)"
)


_BLANKS_SIMPLE = re.compile(_BLANKS.pattern + "(?:" + _SIMPLE.pattern + ")")


class CueSyntaxError(ValueError):
    """The text is not CUE we can read; `offset` points at the problem."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class Token(NamedTuple):  # a tuple: a 1000-app env.cue has ~40000 of them
    kind: str  # ident, string, number, punct, attr, comment, newline, eof
    start: int
    end: int
    text: str
    interpolated: bool = False

    def is_punct(self, *texts: str) -> bool:
        return self.kind == "punct" and self.text in texts


def position(source: str, offset: int) -> str:
    """`line:col` (both 1-based) of `offset`, for messages."""
    line = source.count("\n", 0, offset) + 1
    column = offset - source.rfind("\n", 0, offset)
    return f"{line}:{column}"


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.nesting = 0

    def tokens(self, stop: int | None = None) -> list[Token]:
        """The tokens from `pos` to the end, or up to the first one starting at or after
        `stop` (not included), then an eof token: the simple ones straight from
        `_BLANKS_SIMPLE`, in this loop; `next` for the rest."""
        src, fast = self.src, _BLANKS_SIMPLE.match
        out: list[Token] = []
        stop = len(src) if stop is None else stop
        pos = self.pos
        while True:
            simple = fast(src, pos)
            if simple is not None:
                kind = simple.lastgroup or ""
                start = simple.start(kind)
                if start >= stop:
                    out.append(Token("eof", start, start, ""))
                    return out
                pos = simple.end()
                out.append(Token(kind, start, pos, src[start:pos]))
                continue
            self.pos = pos
            tok = self.next()
            if tok.kind == "eof" or tok.start >= stop:
                out.append(Token("eof", tok.start, tok.start, ""))
                return out
            out.append(tok)
            pos = self.pos

    def _emit(self, kind: str, start: int, end: int, interpolated: bool = False) -> Token:
        self.pos = end
        return Token(kind, start, end, self.src[start:end], interpolated)

    def next(self) -> Token:
        src = self.src
        i = _BLANKS.match(src, self.pos).end()  # type: ignore[union-attr]  # `*` always matches
        simple = _SIMPLE.match(src, i)
        if simple is not None:
            return self._emit(simple.lastgroup or "", i, simple.end())
        if i >= len(src):
            return self._emit("eof", i, i)
        c = src[i]
        if c == "\n":
            return self._emit("newline", i, i + 1)
        if src.startswith("//", i):
            end = src.find("\n", i)
            return self._emit("comment", i, len(src) if end < 0 else end)
        if c in "#\"'":
            j = i
            while src[j : j + 1] == "#":
                j += 1
            if src[j : j + 1] in ('"', "'"):
                return self._string(i, j - i)
        if c.isdigit() or (c == "." and src[i + 1 : i + 2].isdigit()):
            return self._number(i)
        if src.startswith("_|_", i):
            return self._emit("punct", i, i + 3)
        if c.isalpha() or c in "_$#":
            return self._ident(i)
        if c == "@":
            return self._attribute(i)
        for punct in _MULTI_PUNCT:
            if src.startswith(punct, i):
                return self._emit("punct", i, i + len(punct))
        if c in _PUNCT:
            return self._emit("punct", i, i + 1)
        raise CueSyntaxError(f"unexpected character {c!r}", i)

    def _ident(self, i: int) -> Token:
        src, j = self.src, i
        while j < len(src) and src[j] in "#_":
            j += 1
        while j < len(src) and (src[j].isalnum() or src[j] in "_$"):
            j += 1
        if src[i:j].strip("#") == "":
            raise CueSyntaxError("'#' must start a definition name or a raw string", i)
        return self._emit("ident", i, j)

    def _number(self, i: int) -> Token:
        src, j = self.src, i
        while j < len(src):
            c = src[j]
            fraction = c == "." and src[j + 1 : j + 2].isdigit()
            exponent = c in "+-" and src[j - 1] in "eE" and src[i : i + 2].lower() != "0x"
            if not (c.isalnum() or c == "_" or fraction or exponent):
                break
            j += 1
        return self._emit("number", i, j)

    def _string(self, i: int, hashes: int) -> Token:
        """One string token, however long; `\\(...)` is skipped by lexing its tokens."""
        src = self.src
        quote = src[i + hashes] * (3 if src.startswith(src[i + hashes] * 3, i + hashes) else 1)
        close, escape = quote + "#" * hashes, "\\" + "#" * hashes
        j = i + hashes + len(quote)
        if len(quote) == 3 and (src.find("\n", j) < 0 or src[j : src.find("\n", j)].strip()):
            raise CueSyntaxError(f"multi-line string: start the text on a line after {quote}", j)
        interpolated = False
        while not src.startswith(close, j):
            if j >= len(src) or (src[j] == "\n" and len(quote) == 1):
                raise CueSyntaxError("string not terminated", i)
            if src.startswith(escape, j):
                j += len(escape)
                if src[j : j + 1] == "(":
                    j, interpolated = self._skip_interpolation(j + 1), True
                    continue
                if src[j : j + 1] == "\n" and len(quote) == 1:
                    raise CueSyntaxError("string not terminated", i)
            j += 1
        return self._emit("string", i, j + len(close), interpolated)

    def _skip_interpolation(self, start: int) -> int:
        """Return the offset after the `)` closing an interpolation begun at `start`."""
        self.nesting += 1  # strings in interpolations in strings...: lexed recursively
        if self.nesting > MAX_NESTING:
            raise CueSyntaxError(f"nested more than {MAX_NESTING} levels deep", start)
        self.pos, depth = start, 1
        while depth:
            tok = self.next()
            if tok.kind == "eof":
                raise CueSyntaxError("interpolation \\( not closed", start - 2)
            depth += tok.is_punct("(") - tok.is_punct(")")
        self.nesting -= 1
        return self.pos

    def _attribute(self, i: int) -> Token:
        self.pos = i + 1
        if self.next().kind != "ident":
            raise CueSyntaxError("'@' must start an attribute like @name(...)", i)
        if self.src[self.pos : self.pos + 1] == "(":
            self.pos = self._skip_interpolation(self.pos + 1)
        return self._emit("attr", i, self.pos)


def tokenize(source: str) -> list[Token]:
    """All tokens of `source` including comments and newlines, ending with an eof token."""
    return _Lexer(source).tokens()


def string_value(text: str) -> str:
    """The value of a string token without interpolation; ValueError for byte strings."""
    hashes = len(text) - len(text.lstrip("#"))
    body = text[hashes : len(text) - hashes]
    if body.startswith("'"):
        raise ValueError("byte strings ('...') are not supported")
    quote = '"""' if body.startswith('"""') else '"'
    body = body[len(quote) : -len(quote)]
    if len(quote) == 3:
        body = _dedent(body)
    return _unescape(body, "\\" + "#" * hashes)


def _dedent(body: str) -> str:
    """Strip a multi-line string's opening line and the closing line's indentation."""
    body = body[body.index("\n") + 1 :]
    content, _, prefix = body.rpartition("\n")
    if prefix.strip():
        raise ValueError('the closing """ must be on its own line')
    if "\n" not in body:
        return ""
    lines = []
    for line in content.split("\n"):
        if not line.startswith(prefix) and line.strip():
            raise ValueError("a line of a multi-line string is indented less than its closing")
        lines.append(line[len(prefix) :])
    return "\n".join(lines)


def _unescape(body: str, escape: str) -> str:
    out, i = [], 0
    while i < len(body):
        if not body.startswith(escape, i):
            out.append(body[i])
            i += 1
            continue
        i += len(escape)
        c = body[i : i + 1]
        if c in _ESCAPES and c:
            out.append(_ESCAPES[c])
            i += 1
        elif c in ("u", "U"):
            width = 4 if c == "u" else 8
            digits = body[i + 1 : i + 1 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"bad escape \\{c}{digits}")
            out.append(chr(int(digits, 16)))
            i += 1 + width
        else:
            raise ValueError(f"unsupported escape \\{c}")
    return "".join(out)


# --- declarations -----------------------------------------------------------------


@dataclass
class Field:
    """`label: value`; a chain `a: b: 1` is a Field whose value is a Field."""

    label: str | None  # None for dynamic `(x)`, pattern `[x]` and interpolated labels
    start: int
    value: Node
    end: int  # after the value and any attributes
    marker: str = ""  # "?" optional, "!" required
    hidden: bool = False  # `_x` hidden field or `#X` definition


class Struct:
    """`{...}`, whose declarations are parsed when first read, not with the file.

    A promotion reads one app's entry of a 1000-app env.cue: parsing the other 999,
    and keeping their ~30000 nodes for the garbage collector to walk again and again,
    was most of its cost. The whole file is lexed and its brackets matched when it
    is parsed; only a grammar error inside a struct waits until `decls` is read,
    which raises it as CueSyntaxError.
    """

    __slots__ = ("_decls", "_depth", "_source", "end", "start")

    def __init__(
        self,
        start: int,
        end: int,
        decls: list[Field | Other] | None = None,
        *,
        source: str = "",
        depth: int = 0,
    ) -> None:
        self.start = start
        self.end = end
        self._decls = decls
        self._source = source  # with `depth`, what reading `decls` parses
        self._depth = depth

    @property
    def decls(self) -> list[Field | Other]:
        if self._decls is None:
            lexer = _Lexer(self._source)
            lexer.pos = self.start + 1
            body = [t for t in lexer.tokens(stop=self.end - 1) if t.kind != "comment"]
            parser = _Parser(body, self._source)
            parser.depth = self._depth
            self._decls = parser.decls(None)
        return self._decls

    def moved(self, delta: int, source: str) -> Struct:
        """This struct `delta` characters further into `source` (read from there)."""
        return Struct(self.start + delta, self.end + delta, source=source, depth=self._depth)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        return (self.start, self.end, self.decls) == (other.start, other.end, other.decls)

    __hash__ = None  # type: ignore[assignment]  # equal by contents, like the other nodes

    def __repr__(self) -> str:
        decls = "(not read)" if self._decls is None else repr(self._decls)
        return f"Struct(start={self.start}, end={self.end}, decls={decls})"


@dataclass
class ListLit:
    start: int
    end: int
    items: list[Node] = field(default_factory=list)


@dataclass
class Expr:
    """Any other value: a literal token or an opaque expression."""

    start: int
    end: int
    tokens: list[Token]


@dataclass
class Other:
    """A declaration that is not a field: package, import, let, embedding, `...`, etc."""

    start: int
    end: int
    kind: str


Node = Field | Struct | ListLit | Expr | Other


@dataclass
class CueFile:
    source: str
    decls: list[Field | Other]
    comments: set[int]  # start offsets of `//` comments

    @functools.cached_property
    def chains(self) -> dict[tuple[str | None, str | None], list[int]]:
        """Indexes of the top-level fields by their first two labels: `apps: "x": ...` under
        ("apps", "x"); a field whose value is no label chain under (label, None). Where a
        path may be declared, without walking a 1000-app env.cue for each app."""
        index: dict[tuple[str | None, str | None], list[int]] = {}
        for n, decl in enumerate(self.decls):
            if isinstance(decl, Field):
                second = decl.value.label if isinstance(decl.value, Field) else None
                index.setdefault((decl.label, second), []).append(n)
        return index


def parse(source: str) -> CueFile:
    """Parse `source` into its declarations; CueSyntaxError when it does not parse.

    The last few results are kept (the caller must not change them): a promotion
    reads the same env.cue many times. A text that differs from the last one parsed
    in a few places (what an edit makes) is parsed from it: only the top-level
    declarations around the change are parsed again (`_reparsed`).
    """
    with _CACHE_LOCK:
        cached = _CACHE.get(source)
        if cached is not None:
            _CACHE.move_to_end(source)
            return cached
        last = next(reversed(_CACHE.values()), None)
    collecting = gc.isenabled()
    gc.disable()  # ~40000 tokens for a 1000-app env.cue, and not one reference cycle
    try:
        tree = (_reparsed(last, source) if last is not None else None) or _parse_all(source)
    finally:
        if collecting:
            gc.enable()
    with _CACHE_LOCK:
        _CACHE[source] = tree
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return tree


def read_all(tree: CueFile) -> None:
    """Parse every struct of `tree` now: raise any syntax error the file has."""
    stack: list[Node] = list(tree.decls)
    while stack:
        node = stack.pop()
        if isinstance(node, Field):
            stack.append(node.value)
        elif isinstance(node, Struct):
            stack.extend(node.decls)
        elif isinstance(node, ListLit):
            stack.extend(node.items)


CACHE_SIZE = 8
_CACHE: collections.OrderedDict[str, CueFile] = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()


def _parse_all(source: str) -> CueFile:
    tokens = tokenize(source)
    decls = _Parser([t for t in tokens if t.kind != "comment"], source).decls(None)
    return CueFile(source, decls, {t.start for t in tokens if t.kind == "comment"})


def _reparsed(old: CueFile, source: str) -> CueFile | None:
    """The tree of `source` made from `old`'s, or None when that is not clear-cut.

    The change is what lies between the longest common prefix and suffix of the two
    texts. Top-level declarations start and end on token boundaries, with the lexer
    and parser in the same state at each, so the declarations the change touches
    are parsed again from the end of the one before to the start of the one after;
    the ones before are kept, the ones after shifted. Anything unusual at the seams
    (a token crossing one, a missing separator) leaves it to a full parse.
    """
    prefix, suffix = _common_ends(old.source, source)
    if prefix + suffix < len(source) // 2:
        return None  # mostly another text: a full parse is faster
    first, after = _touched(old.decls, prefix, len(old.source) - suffix)
    low = old.decls[first - 1].end if first > 0 else 0
    high = old.decls[after].start if after < len(old.decls) else len(old.source)
    delta = len(source) - len(old.source)
    try:
        region = _region_tokens(source, low, high + delta)
    except CueSyntaxError:
        return None
    if region is None:
        return None
    code = [t for t in region if t.kind != "comment"]
    if first > 0 and code[0].kind not in ("newline", "eof") and not code[0].is_punct(","):
        return None  # a declaration right after the one before: a full parse says where
    if first > 0 and code[0].is_punct(","):
        code = code[1:]
    if after < len(old.decls) and not _separated(code):
        return None  # the declaration after might continue the region's last one
    try:
        middle = _Parser(code, source).decls(None)
    except CueSyntaxError:
        return None
    comments = {c for c in old.comments if c < low}
    comments |= {t.start for t in region if t.kind == "comment"}
    comments |= {c + delta for c in old.comments if c >= high}
    tail = old.decls[after:]
    if delta:
        tail = [_shift(d, delta, source) for d in tail]
    return CueFile(source, [*old.decls[:first], *middle, *tail], comments)


def _separated(code: list[Token]) -> bool:
    """Whether what follows `code` (non-comment tokens ending in eof) starts a new
    declaration: a comma, or a newline after an operand (CUE's automatic comma)."""
    last = next((t for t in reversed(code[:-1]) if t.kind != "newline"), None)
    ends_in_newline = len(code) >= 2 and code[-2].kind == "newline"
    if last is None:
        return ends_in_newline
    return last.is_punct(",") or (ends_in_newline and _ends_operand(last))


def _common_ends(old: str, new: str) -> tuple[int, int]:
    """Lengths of the longest common prefix and suffix, not overlapping in either text."""
    limit = min(len(old), len(new))
    prefix = _longest(lambda n: old[:n] == new[:n], limit)
    return prefix, _longest(lambda n: old[len(old) - n :] == new[len(new) - n :], limit - prefix)


def _longest(same: Callable[[int], bool], limit: int) -> int:
    """The largest n <= `limit` with `same(n)` (true up to some n, false after), found by
    bisection: each test compares slices, a memcmp."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if same(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _touched(decls: list[Field | Other], start: int, end: int) -> tuple[int, int]:
    """Indexes of the first declaration reaching `start` and of the first one after `end`
    (a declaration that only touches the change counts as touched)."""
    first = bisect.bisect_left([d.end for d in decls], start)
    after = bisect.bisect_right([d.start for d in decls], end)
    return first, max(first, after)


def _region_tokens(source: str, start: int, end: int) -> list[Token] | None:
    """The tokens of `source` from `start` up to `end`, then an eof token at `end`; None
    when no token starts at `end` (the change reached into the text after)."""
    lexer = _Lexer(source)
    lexer.pos = start
    out = lexer.tokens(stop=end)
    return out if out[-1].start == end and (len(out) < 2 or out[-2].end <= end) else None


def _shift(node: Node, delta: int, source: str) -> Any:
    """`node` with every offset moved by `delta` in `source` (a new tree: trees are shared,
    never changed); a struct is read again from `source` when it is read."""
    if isinstance(node, Field):
        return Field(
            node.label,
            node.start + delta,
            _shift(node.value, delta, source),
            node.end + delta,
            node.marker,
            node.hidden,
        )
    if isinstance(node, Struct):
        return node.moved(delta, source)
    if isinstance(node, ListLit):
        items = [_shift(i, delta, source) for i in node.items]
        return ListLit(node.start + delta, node.end + delta, items)
    if isinstance(node, Expr):
        moved = [t._replace(start=t.start + delta, end=t.end + delta) for t in node.tokens]
        return Expr(node.start + delta, node.end + delta, moved)
    return Other(node.start + delta, node.end + delta, node.kind)


class _Parser:
    def __init__(self, tokens: list[Token], source: str) -> None:
        self.toks = tokens
        self.source = source
        self.i = 0
        self.depth = 0

    def _deeper(self) -> None:
        """One level deeper (a struct, a list, a label of a chain): refuse absurd depths.

        Hand-written files are a few levels deep; a hostile one 1000 deep would
        otherwise end in a RecursionError here or in every reader of the tree.
        The caller goes back up (`self.depth -= 1`) in a `finally`.
        """
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise CueSyntaxError(f"nested more than {MAX_NESTING} levels deep", self.tok.start)

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def _skip_newlines(self) -> None:
        while self.tok.kind == "newline":
            self.i += 1

    def _expect(self, text: str) -> Token:
        tok = self.tok
        if not tok.is_punct(text):
            found = "end of file" if tok.kind == "eof" else repr(tok.text)
            raise CueSyntaxError(f"expected {text!r}, found {found}", tok.start)
        self.i += 1
        return tok

    def decls(self, closer: str | None) -> list[Field | Other]:
        """Declarations up to `closer` (`}`) or the end of file, which is left unconsumed."""
        out: list[Field | Other] = []
        while True:
            self._skip_newlines()
            if self.tok.kind == "eof" or (closer and self.tok.is_punct(closer)):
                return out
            out.append(self._decl())
            tok = self.tok
            if tok.is_punct(","):
                self.i += 1
            elif not (tok.kind in ("newline", "eof") or (closer and tok.is_punct(closer))):
                raise CueSyntaxError(f"expected ',' or newline, found {tok.text!r}", tok.start)

    def _decl(self) -> Field | Other:
        tok = self.tok
        colon = self._label_end(self.i)
        if colon is not None:
            return self._field(colon)
        if tok.kind == "attr":
            self.i += 1
            return Other(tok.start, tok.end, "attribute")
        if tok.kind == "ident" and tok.text in ("for", "if"):
            return self._comprehension()
        kind = tok.text if tok.kind == "ident" and tok.text in ("package", "import", "let") else ""
        node = self._opaque(decl=True)
        return Other(tok.start, node.end, kind or ("ellipsis" if tok.is_punct("...") else "embed"))

    def _label_end(self, i: int) -> int | None:
        """Index of the `:` if a field label (with alias and marker) starts at `i`."""
        toks = self.toks
        if toks[i].kind == "eof":
            return None
        if toks[i].kind == "ident" and toks[i + 1].is_punct("="):
            i += 2
        if toks[i].kind in ("ident", "string"):
            i += 1
        elif toks[i].is_punct("(", "["):
            close = self._closing(i)
            if close is None:
                return None
            i = close + 1
        else:
            return None
        if toks[i].is_punct("?", "!"):
            i += 1
        return i if toks[i].is_punct(":") else None

    def _field(self, colon: int) -> Field:
        """The field whose label starts here and ends at the `:` at index `colon`."""
        start = self.tok.start
        if self.toks[self.i + 1].is_punct("="):  # alias `X=label`
            self.i += 2
        first = self.tok
        marker = self.toks[colon - 1].text if self.toks[colon - 1].is_punct("?", "!") else ""
        self.i = colon + 1
        self._skip_newlines()
        inner = self._label_end(self.i)
        self._deeper()
        try:
            value: Node = self._field(inner) if inner is not None else self._value()
        finally:
            self.depth -= 1
        end = value.end
        while self.tok.kind == "attr":
            end = self.tok.end
            self.i += 1
        hidden = first.kind == "ident" and first.text[:1] in "_#"
        return Field(_label_text(first), start, value, end, marker, hidden)

    def _value(self) -> Node:
        """A struct or list literal if the value is exactly one, else an opaque Expr."""
        begin = self.i
        if self.tok.is_punct("{", "["):
            self._deeper()
            try:
                node = self._unread_struct() if self.tok.is_punct("{") else self._list()
            finally:
                self.depth -= 1
            if self.tok.kind in ("newline", "eof", "attr") or self.tok.is_punct(",", "}", "]", ")"):
                return node
            self.i = begin
        return self._opaque()

    def _unread_struct(self) -> Struct:
        """The struct starting here, its declarations left for `Struct.decls` to parse.

        Brackets that do not pair up (or nest too deep) are parsed now instead, for
        the error message a parse gives.
        """
        close = self._closing(self.i)
        if close is None:
            return self._struct()
        start, end = self.tok.start, self.toks[close].end
        self.i = close + 1
        return Struct(start, end, source=self.source, depth=self.depth)

    def _closing(self, i: int) -> int | None:
        """Index of the bracket closing the one at `i`, if every bracket between pairs up
        and none nests deeper than MAX_NESTING; else None."""
        expected: list[str] = []
        room = MAX_NESTING - self.depth
        toks = self.toks
        for j in range(i, len(toks)):
            kind, _, _, text, _ = toks[j]
            if kind != "punct":
                continue
            if text in OPEN:
                expected.append(OPEN[text])
                if len(expected) > room:
                    return None
            elif text in CLOSE:
                if not expected or expected.pop() != text:
                    return None
                if not expected:
                    return j
        return None

    def _struct(self) -> Struct:
        start = self._expect("{").start
        decls = self.decls("}")
        return Struct(start, self._expect("}").end, decls)

    def _list(self) -> ListLit:
        start = self._expect("[").start
        items: list[Node] = []
        while True:
            self._skip_newlines()
            if self.tok.is_punct("]"):
                return ListLit(start, self._expect("]").end, items)
            is_clause = self.tok.kind == "ident" and self.tok.text in ("for", "if")
            items.append(self._comprehension() if is_clause else self._value())
            if self.tok.is_punct(","):
                self.i += 1
            elif not (self.tok.kind == "newline" or self.tok.is_punct("]")):
                self._expect("]")

    def _comprehension(self) -> Other:
        """`for ...`/`if ...` clauses up to and including their struct body."""
        start = self.tok.start
        while True:
            tok = self.tok
            if tok.kind in ("eof", "newline") or tok.is_punct("}", "]", ")"):
                raise CueSyntaxError("comprehension without a { body }", start)
            if tok.is_punct("{"):
                body = self._struct()
                if self.tok.kind in ("newline", "eof") or self.tok.is_punct(",", "}", "]"):
                    return Other(start, body.end, "comprehension")
            elif tok.is_punct("(", "["):
                close = self._closing(self.i)
                if close is None:
                    raise CueSyntaxError(f"{tok.text!r} not closed", tok.start)
                self.i = close + 1
            else:
                self.i += 1

    def _opaque(self, decl: bool = False) -> Expr:
        """Tokens up to a `,`, a closing bracket, or a newline CUE treats as a comma.

        Two operands in a row (`name "dev"`) are a syntax error, as in CUE: read
        leniently, a field missing its `:` would be taken for an embedding and reported
        later, far from it, as a value that is not there. `decl`: this starts a
        declaration, so a lone first operand is a label missing its `:`.
        """
        begin, last = self.i, None
        stack: list[Token] = []
        while True:
            tok = self.tok
            if not stack:
                if tok.kind in ("eof", "attr") or tok.is_punct(",", "}", "]", ")"):
                    break
                if tok.kind == "newline" and last is not None and _ends_operand(last):
                    break
                if last is not None and _adjacent(last, tok):
                    raise _missing_operator(last, tok, decl and self.i - 1 == begin)
            elif tok.kind == "eof":
                raise CueSyntaxError(f"{stack[-1].text!r} not closed", stack[-1].start)
            if tok.kind == "punct" and tok.text in OPEN:
                stack.append(tok)
            elif tok.kind == "punct" and tok.text in CLOSE:
                if stack[-1].text != CLOSE[tok.text]:
                    opener = stack[-1]
                    raise CueSyntaxError(f"{tok.text!r} does not close {opener.text!r}", tok.start)
                stack.pop()
            if tok.kind != "newline":
                last = tok
            self.i += 1
        if last is None:
            found = "end of file" if self.tok.kind == "eof" else repr(self.tok.text)
            raise CueSyntaxError(f"expected a value, found {found}", self.tok.start)
        tokens = [t for t in self.toks[begin : self.i] if t.kind != "newline"]
        return Expr(tokens[0].start, last.end, tokens)


# Keywords an operand follows: `package p`, `import "p"`, `let x = ...`, clauses.
_LEADING_KEYWORDS = {"package", "import", "let", "for", "in", "if"}


def _adjacent(last: Token, tok: Token) -> bool:
    """`tok` is an operand right after the operand `last`, with no operator between."""
    if tok.kind not in ("ident", "string", "number"):
        return False
    if last.kind == "ident" and last.text in _LEADING_KEYWORDS:
        return False
    return _ends_operand(last) and not last.is_punct("...")  # `[...string]`


def _missing_operator(last: Token, tok: Token, label: bool) -> CueSyntaxError:
    """`label`: `last` began a declaration, so it is a field's label without its `:`."""
    if label:
        return CueSyntaxError(
            f"expected ':' after the label {last.text}, found {tok.text}", tok.start
        )
    return CueSyntaxError(
        f"expected an operator, ',' or a new line after {last.text}, found {tok.text}", tok.start
    )


def _ends_operand(tok: Token) -> bool:
    return tok.kind in ("ident", "string", "number") or tok.is_punct(*_OPERAND_END)


def _label_text(tok: Token) -> str | None:
    if tok.kind == "ident":
        return tok.text
    if tok.kind == "string" and not tok.interpolated:
        try:
            return string_value(tok.text)
        except ValueError as e:
            raise CueSyntaxError(f"bad label: {e}", tok.start) from e
    return None
