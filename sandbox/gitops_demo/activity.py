"""What each of the demo's threads is doing, so that a lane starting its sandbox or a use
case waiting on the webhook or Jenkins is not silent for minutes (issue 22).

A thread says what it does (`doing`); `heartbeat` prints, every few seconds, a line
for each thread that has been at one thing for that long.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

EVERY = 5.0  # seconds between a waiting thread's lines
OUTPUT = threading.Lock()  # one line at a time: progress lines and heartbeats


@dataclass
class _Doing:
    label: str  # the use case's id, or what the thread is for ("set-up")
    what: str
    since: float


_lock = threading.Lock()
_threads: dict[int, _Doing] = {}


def label(name: str) -> None:
    """Name the calling thread's lines (a use case's id), from now on."""
    with _lock:
        _threads[threading.get_ident()] = _Doing(name, "", time.monotonic())


def doing(what: str) -> None:
    """The calling thread now does `what` ("" when nothing worth a line)."""
    with _lock:
        entry = _threads.setdefault(threading.get_ident(), _Doing("set-up", "", 0.0))
        if entry.what != what:
            entry.what, entry.since = what, time.monotonic()


def _due(now: float, every: float) -> list[str]:
    """A line per thread at one thing for `every` seconds or more; one per label and
    thing (two lanes starting their sandboxes: one line)."""
    with _lock:
        busy = sorted(_threads.values(), key=lambda d: d.label)
    lines = {
        (d.label, d.what): f"{d.label:<3} ....  {d.what} ({now - d.since:.0f} s)"
        for d in reversed(busy)
        if d.what and now - d.since >= every
    }
    return sorted(lines.values())


@contextmanager
def heartbeat(
    show: Callable[[str], None] | None, *, live: bool = False, every: float = EVERY
) -> Iterator[None]:
    """While the block runs, `show` each waiting thread's line every `every` seconds;
    `live`: rewrite the terminal's last line instead (one lane, on a terminal)."""
    if show is None:
        yield
        return
    stop = threading.Event()

    def beat(show: Callable[[str], None]) -> None:
        while not stop.wait(every):
            for line in _due(time.monotonic(), every):
                with OUTPUT:
                    if live:
                        sys.stdout.write(f"\r\033[K{line}")
                        sys.stdout.flush()
                    else:
                        show(line)

    thread = threading.Thread(target=beat, args=(show,), daemon=True, name="demo-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with _lock:
            _threads.clear()
