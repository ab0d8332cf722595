"""Clones of the deployment project left by a killed process are removed by the next one
(issue 22): only those named by a pid no process has, never a live process's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jenkins_helpers.promotion.target import CLONE_PREFIX, remove_stale_clones


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_dead_process_clone_goes_and_a_live_one_stays(tmp_path: Path) -> None:
    dead = tmp_path / f"{CLONE_PREFIX}{_dead_pid()}-a1"
    (dead / "k8s-deployments" / ".git").mkdir(parents=True)
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        live = tmp_path / f"{CLONE_PREFIX}{sleeper.pid}-b2"
        live.mkdir()
        mine = tmp_path / f"{CLONE_PREFIX}{os.getpid()}-c3"
        mine.mkdir()
        assert remove_stale_clones(tmp_path) == [dead]
        sleeper.kill()
    assert not dead.exists()
    assert live.is_dir() and mine.is_dir()


def test_what_is_not_a_pid_named_directory_of_ours_stays(tmp_path: Path) -> None:
    pid = _dead_pid()
    unnamed = tmp_path / f"{CLONE_PREFIX}k2j4h5"  # an older version's: its owner unknown
    unnamed.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"{CLONE_PREFIX}{pid}-d4"
    link.symlink_to(target)
    a_file = tmp_path / f"{CLONE_PREFIX}{pid}-e5"
    a_file.write_text("not a clone")
    assert remove_stale_clones(tmp_path) == []
    assert unnamed.is_dir() and link.is_symlink() and target.is_dir() and a_file.is_file()
