"""Tests for jenkins_helpers.envcue: byte-exact edits of env.cue by CUE path.

Unit tests pin the behaviour on the scaffold's env.cue shape; property tests generate env.cue
files (comments, tricky strings, label chains, split declarations) together with the
value CUE would export, and check that an edit changes only the targeted bytes.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jenkins_helpers.cuesrc import tokens
from jenkins_helpers.cuesrc.editor import (
    DELETE,
    CuePath,
    EditError,
    delete_path,
    edit_file,
    get_value,
    parse_path,
    set_value,
)
from jenkins_helpers.cuesrc.literals import CueTextError, format_value

SAMPLE = """\
package deployments

// Settings of the dev environment. Values here win over the app layer
// (services/apps/<app>.cue) and the platform layer (platform/).
environment: {
	name:      "dev"
	namespace: "dev"
	labels: {}
}

apps: "example-app": env: {
	deployment: image: tag: "1.0.0"
	replicas: 1
	resources: {
		requests: {cpu: "100m", memory: "128Mi"}
		limits: {cpu: "500m", memory: "256Mi"}
	}
	debug: false
	configMap: data: "redis-url": "redis://redis.dev.svc:6379"
	additionalEnv: [{name: "LOG_LEVEL", value: "DEBUG"}]
}

apps: postgres: env: {
	deployment: image: tag: "16.4"
	replicas: 1
}
"""
EXAMPLE_TAG = ("apps", "example-app", "env", "deployment", "image", "tag")
POSTGRES_TAG = ("apps", "postgres", "env", "deployment", "image", "tag")

TRICKY = r'''package deployments

apps: web: env: {
	// a comment with } and { and "quotes" and // inside
	note: "braces } { and \"quotes\" and // not a comment" // }
	raw: #"C:\path "quoted" \(not interpolated)"#
	url: "http://\(host):\("}" + "{")/x" // interpolation with strings and parens
	banner: """
		first } line
			"second" // line
		"""
	tag: "1.0" // pinned }
}
'''


def same(a: Any, b: Any) -> bool:
    """Equal as CUE values: 1, 1.0 and true differ."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def changed_region(old: str, new: str) -> tuple[int, int]:
    """The [start, end) of `old` that differs from `new` (empty for a pure insertion)."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, len(old) - suffix


# --- unit tests on the sample -------------------------------------------------------------


def test_set_tag_changes_only_that_token() -> None:
    new = set_value(SAMPLE, EXAMPLE_TAG, "1.2.3")
    assert new == SAMPLE.replace('tag: "1.0.0"', 'tag: "1.2.3"')
    assert get_value(new, POSTGRES_TAG) == "16.4"


def test_set_postgres_tag_leaves_the_earlier_app_alone() -> None:
    new = set_value(SAMPLE, POSTGRES_TAG, "17.0")
    assert new == SAMPLE.replace('"16.4"', '"17.0"')
    assert get_value(new, EXAMPLE_TAG) == "1.0.0"


def test_set_same_value_is_a_no_op() -> None:
    assert set_value(SAMPLE, EXAMPLE_TAG, "1.0.0") is SAMPLE


def test_get_values_of_the_sample() -> None:
    assert get_value(SAMPLE, parse_path("environment.name")) == "dev"
    assert get_value(SAMPLE, parse_path("environment.labels")) == {}
    requests = parse_path('apps."example-app".env.resources.requests')
    assert get_value(SAMPLE, requests) == {"cpu": "100m", "memory": "128Mi"}
    assert get_value(SAMPLE, parse_path("apps.postgres.env.replicas")) == 1
    assert get_value(SAMPLE, parse_path("apps.postgres.env.debug")) is None
    assert get_value(SAMPLE, parse_path("apps.nope")) is None
    env = get_value(SAMPLE, ("apps", "example-app", "env"))
    assert env["additionalEnv"] == [{"name": "LOG_LEVEL", "value": "DEBUG"}]
    assert env["configMap"] == {"data": {"redis-url": "redis://redis.dev.svc:6379"}}


def test_new_app_gets_its_own_block_in_sorted_order() -> None:
    new = set_value(SAMPLE, ("apps", "monitoring", "env", "deployment", "image", "tag"), "2.0")
    block = 'apps: monitoring: env: {\n\tdeployment: image: tag: "2.0"\n}\n\n'
    at = SAMPLE.index("apps: postgres")
    assert new == SAMPLE[:at] + block + SAMPLE[at:]


def test_new_app_after_the_last_block() -> None:
    new = set_value(SAMPLE, ("apps", "user-service", "env", "replicas"), 2)
    assert new == SAMPLE + '\napps: "user-service": env: {\n\treplicas: 2\n}\n'


def test_new_app_with_a_struct_value() -> None:
    new = set_value(SAMPLE, ("apps", "a", "env"), {"replicas": 2, "debug": True})
    block = "apps: a: env: {\n\treplicas: 2\n\tdebug:    true\n}\n\n"  # aligned as cue fmt
    at = SAMPLE.index('apps: "example-app"')
    assert new == SAMPLE[:at] + block + SAMPLE[at:]


def test_delete_last_app_removes_its_block_and_blank_line() -> None:
    new = delete_path(SAMPLE, ("apps", "postgres"))
    assert new == SAMPLE[: SAMPLE.index("\napps: postgres")]


def test_delete_first_app_keeps_the_rest_byte_identical() -> None:
    start = SAMPLE.index('apps: "example-app"')
    end = SAMPLE.index("apps: postgres")
    assert delete_path(SAMPLE, ("apps", "example-app")) == SAMPLE[:start] + SAMPLE[end:]


def test_delete_app_removes_every_declaration_and_doc_comment() -> None:
    text = SAMPLE + "\n// late override\napps: postgres: env: debug: true\n"
    assert delete_path(text, ("apps", "postgres")) == SAMPLE[: SAMPLE.index("\napps: postgres")]


def test_delete_leaf_of_a_chain_removes_the_line() -> None:
    new = delete_path(SAMPLE, EXAMPLE_TAG)
    assert new == SAMPLE.replace('\tdeployment: image: tag: "1.0.0"\n', "", 1)


def test_delete_inline_fields() -> None:
    cpu = ("apps", "example-app", "env", "resources", "requests", "cpu")
    memory = (*cpu[:-1], "memory")
    assert delete_path(SAMPLE, cpu) == SAMPLE.replace('{cpu: "100m", memory', "{memory")
    assert delete_path(SAMPLE, memory) == SAMPLE.replace(', memory: "128Mi"}', "}")


def test_delete_absent_path_changes_nothing() -> None:
    assert delete_path(SAMPLE, ("apps", "nope")) is SAMPLE


def test_insert_into_label_chain_touches_only_that_field() -> None:
    digest = ("apps", "example-app", "env", "deployment", "image", "digest")
    new = set_value(SAMPLE, digest, "sha256:abc")
    expected = 'deployment: image: {tag: "1.0.0", digest: "sha256:abc"}'
    assert new == SAMPLE.replace('deployment: image: tag: "1.0.0"', expected)
    assert get_value(new, EXAMPLE_TAG) == "1.0.0"
    assert get_value(set_value(new, EXAMPLE_TAG, "2"), digest) == "sha256:abc"


def test_insert_into_multiline_struct_and_inline_struct() -> None:
    new = set_value(SAMPLE, ("apps", "postgres", "env", "debug"), True)
    assert new == SAMPLE.replace("\treplicas: 1\n}\n", "\treplicas: 1\n\tdebug: true\n}\n")
    gpu = ("apps", "example-app", "env", "resources", "limits", "gpu")
    new = set_value(SAMPLE, gpu, "1")
    assert new == SAMPLE.replace('memory: "256Mi"}', 'memory: "256Mi", gpu: "1"}')
    new = set_value(SAMPLE, ("environment", "labels", "team"), "web")
    assert new == SAMPLE.replace("labels: {}", 'labels: {team: "web"}')


def test_insert_struct_value_and_new_top_level_declaration() -> None:
    new = set_value(SAMPLE, ("apps", "postgres", "env", "resources"), {"limits": {"cpu": "1"}})
    added = '\tresources: {\n\t\tlimits: {\n\t\t\tcpu: "1"\n\t\t}\n\t}\n'
    assert new == SAMPLE.replace("\treplicas: 1\n}\n", "\treplicas: 1\n" + added + "}\n")
    assert set_value(SAMPLE, ("rollout", "paused"), False) == SAMPLE + "\nrollout: paused: false\n"


def test_replace_struct_with_scalar_and_back() -> None:
    requests = ("apps", "example-app", "env", "resources", "requests")
    new = set_value(SAMPLE, requests, {"cpu": "1"})
    assert new == SAMPLE.replace(
        'requests: {cpu: "100m", memory: "128Mi"}', 'requests: {\n\t\t\tcpu: "1"\n\t\t}'
    )
    assert get_value(new, requests) == {"cpu": "1"}


def test_strings_and_comments_with_braces_do_not_confuse_it() -> None:
    tag = ("apps", "web", "env", "tag")
    new = set_value(TRICKY, tag, "2.0")
    assert new == TRICKY.replace('tag: "1.0"', 'tag: "2.0"')
    assert get_value(TRICKY, ("apps", "web", "env", "note")) == (
        'braces } { and "quotes" and // not a comment'
    )
    assert (
        get_value(TRICKY, ("apps", "web", "env", "raw")) == r'C:\path "quoted" \(not interpolated)'
    )
    assert get_value(TRICKY, ("apps", "web", "env", "banner")) == 'first } line\n\t"second" // line'
    added = set_value(TRICKY, ("apps", "web", "env", "replicas"), 3)
    assert added == TRICKY.replace("// pinned }\n}", "// pinned }\n\treplicas: 3\n}")


def test_multiline_string_is_replaced_whole() -> None:
    banner = ("apps", "web", "env", "banner")
    new = set_value(TRICKY, banner, "one line")
    start = TRICKY.index('"""')
    end = TRICKY.index('"""', start + 3) + 3
    assert new == TRICKY[:start] + '"one line"' + TRICKY[end:]
    assert (
        delete_path(TRICKY, banner)
        == TRICKY[: TRICKY.index("\tbanner")] + TRICKY[TRICKY.index("\ttag") :]
    )


def test_interpolation_is_not_a_literal() -> None:
    url = ("apps", "web", "env", "url")
    with pytest.raises(EditError, match=r"apps\.web\.env\.url: the value at 7:7 is not a literal"):
        get_value(TRICKY, url)
    with pytest.raises(EditError, match="not a literal"):
        set_value(TRICKY, url, "http://x")
    with pytest.raises(EditError, match="not a literal"):
        get_value(TRICKY, ("apps", "web"))


def test_references_and_expressions_are_refused() -> None:
    text = 'apps: a: env: {\n\treplicas: #Default\n\ttag: *"1" | string\n}\n'
    for leaf in ("replicas", "tag"):
        with pytest.raises(EditError, match="not a literal"):
            set_value(text, ("apps", "a", "env", leaf), 2)
    hidden = "apps: a: env: #Base & {replicas: 1}\n"
    with pytest.raises(EditError, match="cannot look inside the expression at 1:10"):
        set_value(hidden, ("apps", "a", "env", "replicas"), 2)
    with pytest.raises(EditError, match="cannot look inside"):
        get_value(hidden, ("apps", "a", "env", "replicas"))


def test_path_spread_over_declarations() -> None:
    text = "apps: a: env: replicas: 1\napps: a: env: debug: true\napps: b: env: {replicas: 2}\n"
    assert get_value(text, ("apps",)) == {
        "a": {"env": {"replicas": 1, "debug": True}},
        "b": {"env": {"replicas": 2}},
    }
    new = set_value(text, ("apps", "a", "env", "debug"), False)
    assert new == text.replace("debug: true", "debug: false")
    new = set_value(text, ("apps", "a", "env", "tag"), "1")
    assert new == text.replace("env: replicas: 1", 'env: {replicas: 1, tag: "1"}')


def test_ambiguous_and_conflicting_declarations_are_refused() -> None:
    twice = "a: b: 1\na: {b: 1}\n"
    assert get_value(twice, ("a", "b")) == 1
    with pytest.raises(EditError, match=r"a\.b: set in 2 places \(1:4, 2:5\)"):
        set_value(twice, ("a", "b"), 2)
    assert delete_path(twice, ("a", "b")) == "a: {}\n"
    with pytest.raises(EditError, match="conflicting values at 2:5"):
        get_value("a: b: 1\na: {b: 2}\n", ("a", "b"))


def test_setting_below_a_scalar_is_refused() -> None:
    below = r"replicas\.max: cannot add a field below apps\.postgres\.env\.replicas at 25:2"
    with pytest.raises(EditError, match=below):
        set_value(SAMPLE, ("apps", "postgres", "env", "replicas", "max"), 3)


def test_syntax_errors_name_the_position_and_the_file(tmp_path: Path) -> None:
    broken = SAMPLE.replace('tag: "16.4"', 'tag: "16.4')
    with pytest.raises(EditError, match=r"^24:26: string not terminated$"):
        set_value(broken, EXAMPLE_TAG, "2")
    with pytest.raises(EditError, match=r"^5:1: expected a value, found '}'$"):
        get_value("a: {\n\tb: 1\n}\n\n}\n", ("a",))
    env_cue = tmp_path / "env.cue"
    env_cue.write_text(broken)
    with pytest.raises(EditError, match=rf"^{env_cue}:24:26: string not terminated$"):
        edit_file(env_cue, [(EXAMPLE_TAG, "2")])
    with pytest.raises(EditError, match=r"^1:10: expected ',' or newline, found '\]'"):
        get_value("a: [{b: 1]\n", ("a",))


def test_a_syntax_error_inside_the_entry_edited_is_refused_with_its_position() -> None:
    """Structs are parsed when read: an error in the entry an edit reads is still found."""
    broken = SAMPLE.replace('tag: "16.4"', 'tag: "16.4", digest: ,')
    with pytest.raises(CueTextError, match=r"^24:42: expected a value, found ','$"):
        set_value(broken, ("apps", "postgres", "env", "deployment", "image", "tag"), "17")
    with pytest.raises(CueTextError, match=r"^24:42: "):
        delete_path(broken, ("apps", "postgres", "env", "deployment"))


def test_other_cue_syntax_is_understood() -> None:
    text = """\
package deployments

import (
	"strings"
)

#Env: {replicas?: int, tag!: string, ...}
_hidden: strings.ToUpper("x")
let X = 1
apps: [Name=string]: env: #Env
apps: a: env: {
	replicas?: int @go(Replicas)
	replicas: 2 @go(Replicas)
	_x: "ignored"
	"quoted-label": 0x1F
	size: 1Ki
	ratio: -2.5e-1
	for k, v in {x: 1} {(k): v}
	...
}
"""
    env = ("apps", "a", "env")
    assert get_value(text, (*env, "replicas")) == 2
    assert get_value(text, (*env, "quoted-label")) == 31
    assert get_value(text, (*env, "size")) == 1024
    assert get_value(text, (*env, "ratio")) == -0.25
    assert get_value(text, (*env, "_x")) == "ignored"
    new = set_value(text, (*env, "replicas"), 3)
    assert new == text.replace("replicas: 2 @go", "replicas: 3 @go")
    with pytest.raises(EditError, match="not a literal"):
        get_value(text, env)  # the comprehension


def test_tokenizer_keeps_strings_whole() -> None:
    text = 'x: "a\\(f(("}" + ")")))b" // c }\ny: #"\\#(z) "q" }"# + \'b\'\n'
    kinds = [(t.kind, t.text) for t in tokens.tokenize(text)]
    assert kinds == [
        ("ident", "x"),
        ("punct", ":"),
        ("string", '"a\\(f(("}" + ")")))b"'),
        ("comment", "// c }"),
        ("newline", "\n"),
        ("ident", "y"),
        ("punct", ":"),
        ("string", '#"\\#(z) "q" }"#'),
        ("punct", "+"),
        ("string", "'b'"),
        ("newline", "\n"),
        ("eof", ""),
    ]
    assert [t.interpolated for t in tokens.tokenize(text) if t.kind == "string"] == [
        True,
        True,
        False,
    ]


def test_files_without_final_newline_or_content() -> None:
    assert set_value("", ("a", "b"), 1) == "a: b: 1\n"
    assert set_value("x: 1", ("y",), 2) == "x: 1\n\ny: 2\n"
    assert set_value("x: 1", ("apps", "a", "env", "r"), 2) == "x: 1\n\napps: a: env: {\n\tr: 2\n}\n"
    assert delete_path("x: 1", ("x",)) == ""


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('apps."example-app".env.tag', ("apps", "example-app", "env", "tag")),
        ("a", ("a",)),
        ('"a.b"."c\\"d"', ("a.b", 'c"d')),
        ("#Def._hidden", ("#Def", "_hidden")),
    ],
)
def test_parse_path(text: str, path: CuePath) -> None:
    assert parse_path(text) == path


@pytest.mark.parametrize("text", ["", "a.", ".a", "a..b", "example-app", "a.1", 'a."\\(x)"'])
def test_parse_path_rejects(text: str) -> None:
    with pytest.raises(EditError, match="bad CUE path"):
        parse_path(text)


def test_format_value() -> None:
    value = {"tag": "1.0", "my-app": {"list": [1, {"a": None}], "f": 1.5}, "if": True, "e": {}}
    assert format_value(value, 1) == (
        "{\n"
        '\t\ttag: "1.0"\n'
        '\t\t"my-app": {\n'
        "\t\t\tlist: [1, {a: null}]\n"
        "\t\t\tf: 1.5\n"
        "\t\t}\n"
        '\t\t"if": true\n'
        "\t\te: {}\n"
        "\t}"
    )
    assert format_value('quote " and \\( and \n', 0) == '"quote \\" and \\\\( and \\n"'
    for bad in (float("nan"), object(), {1: 2}):
        with pytest.raises(EditError, match="cannot write"):
            format_value(bad, 0)


def test_edit_file_writes_atomically_and_only_on_change(tmp_path: Path) -> None:
    env_cue = tmp_path / "env.cue"
    env_cue.write_text(SAMPLE)
    os.chmod(env_cue, 0o644)
    edits = [(EXAMPLE_TAG, "2.0"), (("apps", "postgres"), DELETE)]
    assert edit_file(env_cue, edits) is True
    written = env_cue.read_text()
    assert get_value(written, EXAMPLE_TAG) == "2.0"
    assert get_value(written, ("apps", "postgres")) is None
    assert env_cue.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env.cue"]
    before = env_cue.stat().st_mtime_ns
    assert edit_file(env_cue, [(EXAMPLE_TAG, "2.0")]) is False
    assert env_cue.stat().st_mtime_ns == before


def test_edit_file_keeps_the_file_when_an_edit_fails(tmp_path: Path) -> None:
    env_cue = tmp_path / "env.cue"
    env_cue.write_text(SAMPLE)
    edits = [(EXAMPLE_TAG, "2.0"), (("apps", "postgres", "env", "replicas", "x"), 1)]
    with pytest.raises(EditError, match=rf"^{env_cue}: apps\.postgres\.env\.replicas\.x: "):
        edit_file(env_cue, edits)
    assert env_cue.read_text() == SAMPLE


# --- generated env.cue files --------------------------------------------------------------

KEYS = ["tag", "image", "replicas", "debug", "cpu", "redis-url", "a.b", "with space", "if"]
KEYS += ["_under", "#hash", "ünï", "LOG_LEVEL"]
APP_NAMES = ["api", "example-app", "postgres", "user-service", "zeta_worker"]
NEW_APP_NAMES = ["aardvark", "billing", "example-app2", "q", "zz-top", *APP_NAMES]
PIECES = ["{", "}", "[", "]", '"', "'", "\\", "//", "\\(", '"""', '"#', "\n", "\t", ":", ",", " "]
CHARS = st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc"))
TEXT = st.lists(st.sampled_from(PIECES) | CHARS, max_size=8).map("".join)
COMMENT = st.sampled_from(["closing } here", 'a "quote', "{ open", '"""', "// nested", "\\(x)", ""])
SCALARS = st.one_of(
    TEXT,
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.none(),
    st.sampled_from([0.5, 1.25, -2.75, 100.0]),
)
LEAVES = SCALARS | st.lists(SCALARS, max_size=3)
VALUES = st.recursive(
    LEAVES, lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=3), max_leaves=6
)
BODIES = st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=4)
NEW_VALUES = (
    SCALARS
    | st.lists(SCALARS, max_size=2)
    | st.dictionaries(st.sampled_from(KEYS), SCALARS, max_size=2)
)


@dataclass
class Generated:
    text: str
    model: dict[str, Any]  # what CUE exports
    spans: dict[CuePath, list[tuple[int, int]]]  # the value text of a path, per declaration
    decls: dict[CuePath, tuple[int, int]]  # top-level declaration lines: environment, apps


@dataclass
class _Writer:
    draw: Any
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    spans: dict[CuePath, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.pos += len(text)

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(1, one_in)) == 1

    def label(self, key: str) -> str:
        plain = key.isascii() and key.replace("_", "a").isalnum() and key[0].isalpha()
        if (
            plain
            and key not in ("if", "for", "in", "let", "true", "false", "null")
            and not self.chance(4)
        ):
            return key
        return json.dumps(key, ensure_ascii=self.draw(st.booleans()))


def _scalar(w: _Writer, value: Any, indent: int, inline: bool) -> str:
    """A scalar in one of the spellings people use: hex, `1_000`, raw and multi-line strings."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        styles = ["dec", "hex"] if value >= 0 else ["dec"]
        style = w.draw(st.sampled_from([*styles, "underscores"] if abs(value) >= 1000 else styles))
        if style == "hex":
            return hex(value)
        return f"{value:_}" if style == "underscores" else str(value)
    if isinstance(value, float):
        return repr(value)
    styles = ["json"]
    if not ('"#' in value or "\\#" in value or "\n" in value or value.startswith('"')):
        styles.append("raw")
    if not inline and '"""' not in value:
        styles.append("multi")
    style = w.draw(st.sampled_from(styles))
    if style == "raw":
        return f'#"{value}"#'
    if style == "multi":
        prefix = "\t" * (indent + 1)
        lines = value.replace("\\", "\\\\").split("\n")
        return '"""\n' + "".join(f"{prefix}{line}\n" for line in lines) + prefix + '"""'
    return json.dumps(value, ensure_ascii=w.draw(st.booleans()))


def _value(w: _Writer, path: CuePath, value: Any, indent: int, inline: bool = False) -> None:
    """Write a value as a label chain, a one-line struct or a block; record its span."""
    start = w.pos
    if isinstance(value, dict) and len(value) == 1 and w.chance(2):  # label chain
        ((key, inner),) = value.items()
        w.write(f"{w.label(key)}: ")
        _value(w, (*path, key), inner, indent, inline)
    elif isinstance(value, dict) and value and (inline or w.chance(3)):
        w.write("{")
        for n, (key, inner) in enumerate(value.items()):
            w.write(f"{', ' if n else ''}{w.label(key)}: ")
            _value(w, (*path, key), inner, indent, inline=True)
        w.write("}")
    elif isinstance(value, dict) and value:
        w.write("{\n")
        _body(w, path, value, indent + 1)
        w.write("\t" * indent + "}")
    elif isinstance(value, dict):
        w.write("{}")
    elif isinstance(value, list):
        w.write("[" + ", ".join(_scalar(w, v, indent, True) for v in value) + "]")
    else:
        w.write(_scalar(w, value, indent, inline))
    w.spans[path].append((start, w.pos))


def _body(w: _Writer, path: CuePath, body: dict[str, Any], indent: int) -> None:
    """The lines of a block, with comments, blank lines and fields split over declarations."""
    tabs = "\t" * indent
    for key, value in body.items():
        if w.chance(4):
            w.write(f"{tabs}// {w.draw(COMMENT)}\n")
        if isinstance(value, dict) and len(value) > 1 and w.chance(4):  # split declarations
            for inner_key, inner in value.items():
                w.write(f"{tabs}{w.label(key)}: ")
                start = w.pos
                w.write(f"{w.label(inner_key)}: ")
                _value(w, (*path, key, inner_key), inner, indent)
                w.spans[(*path, key)].append((start, w.pos))
                w.write("\n")
            continue
        w.write(f"{tabs}{w.label(key)}: ")
        _value(w, (*path, key), value, indent)
        w.write(f" // {w.draw(COMMENT)}\n" if w.chance(4) else "\n")
        if w.chance(6):
            w.write("\n")
    if w.chance(5):  # not exported: hidden and optional fields, one with interpolation
        w.write(f'{tabs}_note: "v\\("}}" + "\\"{{")"\n{tabs}extra?: string\n')


@st.composite
def env_files(draw: Any) -> Generated:
    """A random env.cue of the scaffold's shape and the value CUE exports for it."""
    environment = draw(BODIES)
    apps = draw(st.dictionaries(st.sampled_from(APP_NAMES), BODIES, min_size=1, max_size=3))
    w = _Writer(draw)
    if w.chance(2):
        w.write(f"// {draw(COMMENT)}\n")
    w.write("package deployments\n\n")
    env_start = w.pos
    w.write(f"// {draw(COMMENT)}\nenvironment: ")
    _value(w, ("environment",), environment, 0)
    w.write("\n")
    decls = {("environment",): (env_start, w.pos)}
    for name in sorted(apps):
        w.write("\n")
        start = w.pos
        if w.chance(2):
            w.write(f"// {draw(COMMENT)}\n")
        w.write(f"apps: {w.label(name)}: ")
        chain = w.pos
        w.write("env: {\n")
        _body(w, ("apps", name, "env"), apps[name], 1)
        w.write("}")
        w.spans[("apps", name, "env")].append((chain + len("env: "), w.pos))
        w.spans[("apps", name)].append((chain, w.pos))
        w.write("\n")
        decls[("apps", name)] = (start, w.pos)
    model = {"environment": environment, "apps": {n: {"env": b} for n, b in apps.items()}}
    return Generated("".join(w.parts), model, dict(w.spans), decls)


def leaves(value: Any, path: CuePath = ()) -> Iterator[tuple[CuePath, Any]]:
    """Every path to a non-dict or empty-dict value."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    else:
        yield path, value


def structs(value: Any, path: CuePath = ()) -> Iterator[CuePath]:
    if isinstance(value, dict):
        if path:
            yield path
        for key, inner in value.items():
            yield from structs(inner, (*path, key))


def lookup(model: Any, path: CuePath) -> Any:
    for part in path:
        model = model[part]
    return model


def assign(model: dict[str, Any], path: CuePath, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(model)
    node = result
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)
    return result


def assert_model(text: str, model: dict[str, Any], skip: CuePath = ()) -> None:
    """Every known leaf outside `skip` reads back unchanged, and nothing else appeared."""
    for path, value in leaves(model):
        if not skip or path[: len(skip)] != skip:
            assert same(get_value(text, path), value), path
    for top in model:
        assert same(get_value(text, (top,)), model[top])


@st.composite
def set_targets(draw: Any, gen: Generated) -> tuple[str, CuePath]:
    """An edit kind and a path: an existing leaf, a new field, a new app or a new top level."""
    kind = draw(st.sampled_from(["replace", "replace", "insert", "new_app", "new_top"]))
    model = gen.model
    if kind == "replace":
        return kind, draw(st.sampled_from([p for p, _ in leaves(model)]))
    if kind == "insert":
        parent = draw(st.sampled_from([p for p in structs(model) if p != ("apps",)]))
        key = draw(st.sampled_from([k for k in KEYS if k not in lookup(model, parent)]))
        return kind, (*parent, key, *draw(st.lists(st.sampled_from(KEYS), max_size=2)))
    if kind == "new_app":
        name = draw(st.sampled_from([n for n in NEW_APP_NAMES if n not in model["apps"]]))
        return kind, (
            "apps",
            name,
            "env",
            *draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3)),
        )
    return kind, ("rollout", *draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=2)))


def line_indent(text: str, offset: int) -> int:
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    return len(line) - len(line.lstrip("\t"))


def app_order(text: str) -> list[str]:
    tree = tokens.parse(text)
    return [
        d.value.label
        for d in tree.decls
        if isinstance(d, tokens.Field) and d.label == "apps" and isinstance(d.value, tokens.Field)
    ]


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(env_files())
def test_generated_files_read_back_their_model(gen: Generated) -> None:
    assert_model(gen.text, gen.model)
    toks = tokens.tokenize(gen.text)
    for before, after in itertools.pairwise(toks):
        assert gen.text[before.end : after.start].strip(" \t") == ""


@PROPERTY
@given(st.data())
def test_set_value_changes_only_the_target(data: st.DataObject) -> None:
    gen = data.draw(env_files())
    kind, path = data.draw(set_targets(gen))
    value = data.draw(NEW_VALUES)
    old = gen.text
    new = set_value(old, path, value)
    start, end = changed_region(old, new)
    if kind == "replace":
        ((span_start, span_end),) = gen.spans[path]
        if same(lookup(gen.model, path), value):
            assert new == old
        else:
            assert span_start <= start <= end <= span_end
            assert (
                new
                == old[:span_start]
                + format_value(value, line_indent(old, span_start))
                + old[span_end:]
            )
    elif kind == "insert":
        parent = max((p for p in gen.spans if path[: len(p)] == p), key=len)
        assert any(s <= start <= end <= e for s, e in gen.spans[parent]), (start, end)
    else:
        assert start == end  # a pure insertion
    assert same(get_value(new, path), value)
    assert_model(new, assign(gen.model, path, value), skip=path)
    assert app_order(new) == sorted(app_order(new))


@PROPERTY
@given(st.data())
def test_delete_path_removes_only_the_target(data: st.DataObject) -> None:
    gen = data.draw(env_files())
    apps = [("apps", name) for name in gen.model["apps"]]
    path = data.draw(st.sampled_from(apps + [p for p, _ in leaves(gen.model)]))
    old = gen.text
    new = delete_path(old, path)
    assert get_value(new, path) is None
    # One cut inside the top-level declaration, or with the blank line next to it.
    decl_start, decl_end = gen.decls[path[:2] if path[0] == "apps" else path[:1]]
    cut = len(old) - len(new)
    starts = range(decl_start - 1, decl_end + 2 - cut)
    assert any(new == old[:start] + old[start + cut :] for start in starts)
    if path in apps:
        if path == max(apps):
            assert new == old[: decl_start - 1]
        else:
            assert new == old[:decl_start] + old[decl_end + 1 :]
    for leaf, value in leaves(gen.model):
        if leaf[: len(path)] != path:
            assert same(get_value(new, leaf), value), leaf


# --- real CUE --------------------------------------------------------------------------------


@pytest.mark.cue
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_real_cue_agrees_before_and_after_set_value(data: st.DataObject) -> None:
    from jenkins_helpers.cue import get_engine  # runs node: only this test needs it

    gen = data.draw(env_files())
    _, path = data.draw(set_targets(gen))
    value = data.draw(NEW_VALUES)
    with tempfile.TemporaryDirectory() as tmp:
        env_cue = Path(tmp) / "env.cue"
        env_cue.write_text(gen.text, encoding="utf-8")
        assert get_engine().export(["env.cue"], cwd=Path(tmp)) == gen.model
        env_cue.write_text(set_value(gen.text, path, value), encoding="utf-8")
        assert get_engine().export(["env.cue"], cwd=Path(tmp)) == assign(gen.model, path, value)
