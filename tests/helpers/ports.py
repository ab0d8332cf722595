"""A TCP port for a server a test starts as a child process (it must be named up front)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


def free_port() -> int:
    """A free port below the kernel's ephemeral range.

    Servers the suite starts in-process bind port 0 and get a port from the ephemeral
    range; a port probed there and released could be handed to one of them before our
    child binds it, and the child would fail while the test talked to someone else's
    server. Ports below the range are never handed out that way.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = 10_000 + secrets.randbelow(low - 10_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in 10000-{low}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
