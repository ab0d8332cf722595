"""The lexer: where its fast path (one regular expression) meets the careful one."""

from __future__ import annotations

import pytest

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
