"""The demo is not silent while a lane starts or a use case waits (issue 22): every few
seconds a line names what each waiting thread does, and nothing under --json."""

from __future__ import annotations

import threading
import time

from gitops_demo import activity


def _waiter(label: str | None, what: str, release: threading.Event) -> threading.Thread:
    def run() -> None:
        if label is not None:
            activity.label(label)
        activity.doing(what)
        release.wait(10)
        activity.doing("")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_line_every_few_seconds_per_waiting_thread() -> None:
    lines: list[str] = []
    release = threading.Event()
    with activity.heartbeat(lines.append, every=0.2):
        threads = [
            _waiter(
                "B4", "waiting for the webhook's MR 'Promote x 1.0 to stage' into stage", release
            ),
            _waiter(None, "starting a sandbox (GitLab and Jenkins stand-ins)", release),
            _waiter(None, "starting a sandbox (GitLab and Jenkins stand-ins)", release),
            _waiter("A1", "", release),  # nothing worth a line
        ]
        time.sleep(0.7)
        release.set()
        for thread in threads:
            thread.join()
        time.sleep(0.3)
    waits = [n for n in lines if n.startswith("B4  ....  waiting for the webhook's MR")]
    starts = [n for n in lines if n.startswith("set-up ....  starting a sandbox")]
    assert len(waits) >= 2, lines  # again and again while it waits
    assert 1 <= len(starts) <= len(waits), "the two lanes' identical lines said once"
    assert not [n for n in lines if n.startswith("A1")]
    assert waits[-1].endswith(" s)")
    count = len(lines)
    time.sleep(0.5)
    assert len(lines) == count, "nothing after the block"


def test_no_lines_without_a_reader() -> None:
    release = threading.Event()
    with activity.heartbeat(None, every=0.05):
        thread = _waiter("A1", "waiting for Jenkins' build of example-app", release)
        time.sleep(0.2)
        release.set()
        thread.join()
    assert not [t for t in threading.enumerate() if t.name == "demo-heartbeat"]
