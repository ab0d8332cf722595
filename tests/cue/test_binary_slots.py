"""The binary engine runs at most `concurrency` cue processes at once, like the WASM pool.

A batched render submits one batch more than there are workers; without the limit
each thread would start its own cue, and a batch's worth of memory with it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jenkins_helpers.cue.binary import BinaryEngine

# Counts the cue processes running while it runs, then answers like `cue export`.
FAKE_CUE = """#!/bin/sh
mkdir "{runs}/$$"
ls "{runs}" | wc -l >> "{counts}"
sleep 0.2
rmdir "{runs}/$$"
echo '{{"ok": true}}'
"""


def test_at_most_concurrency_cue_processes_run_at_once(tmp_path: Path) -> None:
    runs, counts = tmp_path / "runs", tmp_path / "counts"
    runs.mkdir()
    cue = tmp_path / "cue"
    cue.write_text(FAKE_CUE.format(runs=runs, counts=counts))
    cue.chmod(0o755)
    engine = BinaryEngine(str(cue), concurrency=2)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: engine.export(["."], cwd=tmp_path), range(6)))
    assert results == [{"ok": True}] * 6
    seen = [int(line) for line in counts.read_text().split()]
    assert len(seen) == 6
    assert max(seen) <= 2
