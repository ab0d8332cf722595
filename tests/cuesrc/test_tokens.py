"""The lexer: where its fast path (one regular expression) meets the careful one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers.cuesrc import tokens


def _texts(source: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokens.tokenize(source) if t.kind not in ("eof",)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a$b: 1", [("ident", "a$b"), ("punct", ":"), ("number", "1")]),
        ("café: 1", [("ident", "café"), ("punct", ":"), ("number", "1")]),
        ("x: 1.5", [("ident", "x"), ("punct", ":"), ("number", "1.5")]),
        ("x: 1Mi", [("ident", "x"), ("punct", ":"), ("number", "1Mi")]),
        ("x: 1_000", [("ident", "x"), ("punct", ":"), ("number", "1_000")]),
        ('x: "a\\"b"', [("ident", "x"), ("punct", ":"), ("string", '"a\\"b"')]),
        ('x: ""', [("ident", "x"), ("punct", ":"), ("string", '""')]),
        ('x: #"a"#', [("ident", "x"), ("punct", ":"), ("string", '#"a"#')]),
        ("_x: _|_", [("ident", "_x"), ("punct", ":"), ("punct", "_|_")]),
        (
            "#D: a.b",
            [("ident", "#D"), ("punct", ":"), ("ident", "a"), ("punct", "."), ("ident", "b")],
        ),
        (
            "a: b // c\n",
            [
                ("ident", "a"),
                ("punct", ":"),
                ("ident", "b"),
                ("comment", "// c"),
                ("newline", "\n"),
            ],
        ),
        ('x: """\n\tq\n\t"""', [("ident", "x"), ("punct", ":"), ("string", '"""\n\tq\n\t"""')]),
        ('x: "\\(y)z"', [("ident", "x"), ("punct", ":"), ("string", '"\\(y)z"')]),
        (
            "a: [...]",
            [("ident", "a"), ("punct", ":"), ("punct", "["), ("punct", "..."), ("punct", "]")],
        ),
    ],
)
def test_tokens_at_the_edge_of_the_fast_path(source: str, expected: list[tuple[str, str]]) -> None:
    assert _texts(source) == expected


def test_an_interpolation_is_marked_and_a_plain_string_is_not() -> None:
    plain, interpolated = (tokens.tokenize(s)[0] for s in ('"a"', '"\\(a)"'))
    assert not plain.interpolated
    assert interpolated.interpolated


# --- parsing an edited text from the last one parsed ------------------------------------

SCAFFOLD = Path(tokens.__file__).resolve().parents[1] / "deployrepo" / "scaffold"
ENV = """package deployments

// the environment
environment: {
\tname:      "dev"
\tnamespace: "dev"
}

apps: "example-app": env: {
\tdeployment: image: tag: "1.0.0" // pinned
\treplicas: 1
\tresources: requests: {cpu: "100m", memory: "128Mi"}
}

apps: postgres: env: {deployment: image: tag: "16.4"}, apps: redis: env: replicas: 2
apps: "web": env: additionalEnv: [{name: "A", value: "\\(x)"}, {name: "B", value: 1 +
\t2}]
"""
SAMPLES = [
    ENV,
    (SCAFFOLD / "repo" / "platform" / "app.cue").read_text(),
    (SCAFFOLD / "repo" / "deployments.cue").read_text(),
]
# What edits insert: whole fields, and the characters that change how text around them reads.
FRAGMENTS = [
    "",
    "\n",
    ",",
    "{",
    "}",
    '"',
    '"""\n',
    "+",
    "// note\n",
    " x: 1",
    "\nx: 1\n",
    'apps: "new": env: {replicas: 3}\n',
    "[",
    "]",
    "@attr()",
    "\\(",
    "a",
    "9",
]


def _parsed(source: str, parse: Callable[[str], tokens.CueFile] = tokens.parse) -> object:
    """The tree with every struct read, or the syntax error found first."""
    try:
        tree = parse(source)
        tokens.read_all(tree)
        return tree
    except tokens.CueSyntaxError as e:
        return f"error at {e.offset}: {e.message}"


def _parsed_whole(source: str) -> object:
    return _parsed(source, tokens._parse_all)


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.floats(0, 1),
    st.integers(0, 12),
    st.lists(st.sampled_from(FRAGMENTS), max_size=3),
)
def test_an_edited_text_parses_as_a_fresh_parse_would(
    base: str, where: float, cut: int, inserted: list[str]
) -> None:
    """Whatever the edit, the tree made from the last parse equals a full parse of the
    new text, or the same syntax error is raised."""
    at = int(where * len(base))
    edited = base[:at] + "".join(inserted) + base[at + cut :]
    tokens._CACHE.clear()
    tokens.parse(base)
    assert _parsed(edited) == _parsed_whole(edited)


def test_an_edit_of_one_app_reparses_only_around_it() -> None:
    """The common case takes the fast way: a new image tag in one entry of a long file."""
    entries = "".join(
        f'apps: "app-{n}": env: {{deployment: image: tag: "1.0.{n}"}}\n' for n in range(300)
    )
    old = f"package deployments\n\n{entries}"
    new = old.replace('"1.0.150"', '"2.0.0-rc.1"')
    reparsed = tokens._reparsed(tokens._parse_all(old), new)
    assert reparsed is not None, "parsed again in full"
    assert reparsed == tokens._parse_all(new)
