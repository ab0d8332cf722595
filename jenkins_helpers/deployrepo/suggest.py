"""'did you mean replicas?': the closest field of the platform's schema for a misspelt one.

CUE says a field is not allowed (in v0.4 `x: field replica not allowed`, in current CUE
`x.replica: field not allowed`) but not what was meant. The schema the repository
evaluates against (`platform/schema.cue`) holds every field a layer may set, so its
labels, read as text, are the vocabulary for a suggestion.
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path

from jenkins_helpers.cue import CueError
from jenkins_helpers.cuesrc.tokens import CueSyntaxError, Field, Struct, parse

SCHEMA_FILE = "platform/schema.cue"
_NOT_ALLOWED = (
    re.compile(r"field (?P<label>[^\s:]+) not allowed"),  # CUE v0.4
    re.compile(r"\.(?P<label>[^\s.:]+): field not allowed"),  # current CUE
)


def explained(error: CueError, tree: Path) -> CueError:
    """The same CUE error, with suggestions for misspelt fields."""
    return CueError(with_suggestions(error.message, tree), error.hint)


def with_suggestions(message: str, tree: Path) -> str:
    """`message` and, after it, 'X: did you mean Y?' for each field CUE did not allow."""
    try:
        vocabulary = _labels((tree / SCHEMA_FILE).read_text("utf-8"))
    except OSError:
        return message
    suggestions = []
    for pattern in _NOT_ALLOWED:
        for match in pattern.finditer(message):
            label = match.group("label").strip('"')
            close = difflib.get_close_matches(label, vocabulary, n=1, cutoff=0.75)
            if close and close[0] != label:
                suggestions.append(f"{label}: did you mean {close[0]}?")
    return "\n".join([message, *dict.fromkeys(suggestions)])


@functools.cache
def _labels(schema: str) -> tuple[str, ...]:
    """Every plain field label of the schema text (definitions and hidden fields left out)."""
    found: set[str] = set()
    try:
        stack: list[object] = list(parse(schema).decls)
        while stack:
            node = stack.pop()
            if isinstance(node, Field):
                if node.label and not node.hidden:
                    found.add(node.label)
                stack.append(node.value)
            elif isinstance(node, Struct):
                stack.extend(node.decls)  # parsed here: a syntax error may show only now
    except CueSyntaxError:
        return ()
    return tuple(sorted(found))
