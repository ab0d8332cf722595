"""deployment/app.cue: only the app's own app layer is accepted; CUE positions map back to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.cuesrc import applayer
from jenkins_helpers.errors import BadInput
from tests.helpers.apprepo import app_cue

SHOWN = "deployment/app.cue"


def _refusal(source: str, app: str = "example-app") -> str:
    with pytest.raises(BadInput) as err:
        applayer.check(source, app, SHOWN)
    return err.value.message


@pytest.mark.parametrize(
    "source",
    [
        app_cue("example-app", "registry.example.com/example-app", "port: 8080"),
        'package deployments\n\n// notes {not: "structure"}\napps: {\n'
        '\t"example-app": {app: {port: 1}}\n\t"example-app": app: replicas: 2\n}\n',
        'package deployments\n\napps: "example-app": app: {\n\tconfigMap: data: x: """\n'
        '\t\t}\n\t\t"""\n}\n',
    ],
    ids=["chain", "nested-structs", "brace-in-multiline-string"],
)
def test_accepts_the_apps_own_app_layer(source: str) -> None:
    applayer.check(source, "example-app", SHOWN)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            app_cue("example-app", "r/x") + 'apps: "other-app": app: port: 1\n',
            f'{SHOWN}:6:7: defines apps."other-app"',
        ),
        (
            'package deployments\napps: "example-app": env: replicas: 3\n',
            f'{SHOWN}:2:22: defines apps."example-app".env',
        ),
        (
            'package deployments\napps: "example-app": app: {}\nenvironment: name: "dev"\n',
            f"{SHOWN}:3:1: defines environment",
        ),
        (
            'package deployments\napps: "example-app": app: {}\nobjects: {}\n',
            f"{SHOWN}:3:1: defines objects",
        ),
        (
            'package deployments\nimport "strings"\napps: "example-app": app: {}\n',
            f"{SHOWN}:2:1: import is not allowed",
        ),
        (
            'package deployments\napps: "example-app": app: {}\n#Layer: {}\n',
            f'{SHOWN}:3:1: defines definition "#Layer"',
        ),
        (
            "package deployments\napps: [string]: app: {}\n",
            f"{SHOWN}:2:7: a computed or pattern label at apps is not allowed",
        ),
        (
            'package deployments\napps: "example-app": app?: {}\n',
            f'{SHOWN}:2:22: defines apps."example-app".app?',
        ),
        (
            'package platform\napps: "example-app": app: {}\n',
            f"{SHOWN}:1:1: the file must start with `package deployments`",
        ),
        (
            'package deployments\nfor k, v in {} {}\napps: "example-app": app: {}\n',
            f"{SHOWN}:2:1: comprehension is not allowed",
        ),
        ("package deployments\n", 'defines nothing under apps."example-app".app'),
    ],
    ids=[
        "other-app",
        "env-sub-struct",
        "environment",
        "objects",
        "import",
        "definition",
        "pattern-label",
        "optional",
        "other-package",
        "comprehension",
        "empty",
    ],
)
def test_refuses_anything_else_naming_path_and_position(source: str, expected: str) -> None:
    message = _refusal(source)
    assert message.startswith(f"{SHOWN} may define only the app layer of example-app")
    assert expected in message


def test_lists_every_problem_at_once() -> None:
    message = _refusal("package deployments\napps: a: app: {}\napps: b: app: {}\n", app="c")
    assert "2:7: defines apps.a" in message and "3:7: defines apps.b" in message


def test_syntax_error_has_file_line_col() -> None:
    message = _refusal('package deployments\napps: "example-app": app: {\n\tport: 1\n')
    assert message == f"{SHOWN}:4:1: expected '}}', found end of file"


def test_a_syntax_error_deep_inside_the_app_layer_is_found_too() -> None:
    """The parser reads structs when asked (tokens.Struct): the check asks for all of them."""
    source = 'package deployments\napps: "example-app": app: {\n\tprobe: {path: , port: 1}\n}\n'
    assert _refusal(source) == f"{SHOWN}:3:16: expected a value, found ','"


def test_a_misspelt_app_name_says_the_names_differ() -> None:
    with pytest.raises(BadInput) as err:
        applayer.check(
            'package deployments\napps: "example-app": app: port: 1\n', "exmaple-app", SHOWN
        )
    assert err.value.message == (
        f"{SHOWN} defines the app layer of 'example-app', but the app promoted is "
        "'exmaple-app': the names differ"
    )
    assert err.value.hint is not None and "--app example-app" in err.value.hint


def test_read_requires_the_file_and_an_image_repository(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as err:
        applayer.read(tmp_path, "example-app")
    assert err.value.message == (
        f"deployment/app.cue not found in {tmp_path.resolve()} (the app repository, --app-repo)"
    )
    (tmp_path / "deployment").mkdir()
    (tmp_path / "deployment" / "app.cue").write_text(
        'package deployments\napps: "example-app": app: port: 1\n'
    )
    with pytest.raises(BadInput, match="does not set the app's image repository"):
        applayer.read(tmp_path, "example-app")


def test_repository_must_match_the_promoted_image(tmp_path: Path) -> None:
    (tmp_path / "deployment").mkdir()
    (tmp_path / "deployment" / "app.cue").write_text(app_cue("example-app", "registry.x/a"))
    layer = applayer.read(tmp_path, "example-app")
    applayer.check_repository(layer, "registry.x/a")
    with pytest.raises(BadInput, match=r"deploys image repository 'registry\.x/a'"):
        applayer.check_repository(layer, "registry.x/b")


def test_cue_positions_map_back_across_the_header(tmp_path: Path) -> None:
    source = app_cue("example-app", "registry.x/a", 'port: "eighty"')
    layer = applayer.AppLayer("example-app", "../app/deployment/app.cue", source, "registry.x/a")
    text = applayer.app_file_text(layer, "https://gitlab.example.com/apps/example-app.git", "abc")
    assert text.endswith(source)
    line = text.splitlines().index('\tport: "eighty"') + 1
    message = (
        f"conflicting values:\n    ./services/apps/example-app.cue:{line}:8\n"
        "    ./platform/schema.cue:21:13\n    ./services/apps/example-app-2.cue:9:1"
    )
    assert applayer.map_positions(message, layer) == (
        "conflicting values:\n    ../app/deployment/app.cue:5:8\n"
        "    ./platform/schema.cue:21:13\n    ./services/apps/example-app-2.cue:9:1"
    )


def test_header_names_source_and_commit() -> None:
    layer = applayer.AppLayer("a", SHOWN, "package deployments\n", "r")
    header = applayer.app_file_text(layer, "https://h/apps/a.git", "0123abcd").splitlines()
    assert len(header) == applayer.HEADER_LINES + 1
    assert "https://h/apps/a.git" in header[0] and "commit 0123abcd" in header[1]
