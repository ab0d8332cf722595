"""Fault injection: make the next N matching requests fail, stall or drip, for tests.

Faults live in memory only (a restart clears them): they describe one test's
scenario, not the sandbox's data. Admin routes (`/-/sandbox/...`) are never
affected, so a test can always clear what it set.

A dripping answer is what a slow proxy in front of GitLab or Jenkins gives: the
status line and headers at once (Content-Length the whole answer's), then the body
one byte every `drip` seconds; with `drip_headers`, the status line and headers
come one byte at a time too. Every single read then gets a byte before any
per-read timeout, so only a client with a total deadline gives up.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from gitops_sandbox.errors import ApiError


@dataclass
class Fault:
    """One rule: which requests it matches, what it does, how many times more."""

    id: int
    method: str | None
    path_prefix: str | None
    route_regex: str | None
    status: int | None
    delay: float
    remaining: int | None
    body: Any
    hits: int = 0
    drip: float = 0.0  # seconds between the bytes of the answer (0: no drip)
    drip_headers: bool = False  # the status line and headers drip too

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to a request (all given criteria must hold)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return not (self.route_regex and not re.search(self.route_regex, path))

    def as_dict(self) -> dict[str, Any]:
        """The rule as the admin endpoint shows it."""
        return {
            "id": self.id,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "route_regex": self.route_regex,
            "status": self.status,
            "delay": self.delay,
            "count": self.remaining,
            "hits": self.hits,
            "body": self.body,
            "drip": self.drip,
            "drip_headers": self.drip_headers,
        }


class Faults:
    """The active fault rules, checked in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a rule from `{method, path_prefix | route_regex, status, delay, drip,
        drip_headers, count, body}`."""
        if not (spec.get("path_prefix") or spec.get("route_regex")):
            raise ApiError(400, {"error": "path_prefix or route_regex is missing"})
        if spec.get("status") is None and not spec.get("delay") and not spec.get("drip"):
            raise ApiError(400, {"error": "status, delay or drip is missing"})
        drip = spec.get("drip") or 0
        if not isinstance(drip, int | float) or isinstance(drip, bool) or not 0 <= drip <= 3600:
            raise ApiError(400, {"error": "drip must be seconds between bytes (0 to 3600)"})
        if spec.get("drip_headers") and not drip:
            raise ApiError(400, {"error": "drip_headers needs drip"})
        if spec.get("route_regex"):
            try:
                re.compile(spec["route_regex"])
            except re.error as e:
                raise ApiError(400, {"error": f"route_regex is invalid: {e}"}) from e
        count = spec.get("count", 1)
        with self._lock:
            fault = Fault(
                id=self._next_id,
                method=spec.get("method"),
                path_prefix=spec.get("path_prefix"),
                route_regex=spec.get("route_regex"),
                status=None if spec.get("status") is None else int(spec["status"]),
                delay=float(spec.get("delay") or 0),
                remaining=None if count is None else int(count),
                body=spec.get("body"),
                drip=float(drip),
                drip_headers=bool(spec.get("drip_headers")),
            )
            self._next_id += 1
            self._rules.append(fault)
            return fault.as_dict()

    def list(self) -> list[dict[str, Any]]:
        """Every active rule."""
        with self._lock:
            return [f.as_dict() for f in self._rules]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first rule matching the request, counted as used (and dropped when spent)."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._rules.remove(fault)
                    return fault
        return None


def default_body(status: int) -> dict[str, str]:
    """GitLab's error body for a status: `{"message": "502 Bad Gateway"}`."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"message": f"{status} {phrase}"}


def dripping(data: bytes, interval: float) -> Iterator[bytes]:
    """`data` one byte at a time, each after `interval` seconds (a response body).

    First an empty piece: Werkzeug sends the status line and headers with the first
    piece, so they go at once. The server stops it when a write fails: the client has
    gone."""
    yield b""
    for i in range(len(data)):
        time.sleep(interval)
        yield data[i : i + 1]


def drip_raw(
    sock: socket.socket,
    status: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    interval: float,
) -> None:
    """Write a whole HTTP/1.1 answer to `sock` one byte every `interval` seconds, from its
    status line on, then shut the socket: the server's own write of the answer fails as
    on a dropped connection, and nothing follows ours."""
    head = "".join(
        [f"HTTP/1.1 {status}\r\n"]
        + [f"{k}: {v}\r\n" for k, v in headers if k.lower() not in _HOP_HEADERS]
        + [f"Content-Length: {len(body)}\r\n", "Connection: close\r\n", "\r\n"]
    )
    try:
        for byte in dripping(head.encode("latin-1") + body, interval):
            if byte:
                sock.sendall(byte)
    except OSError:
        pass  # the client gave up
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})
