"""HTTP with deadlines: every request to GitLab or Jenkins ends within a total time.

requests' and urllib3's timeouts bound each socket operation, not a request: a
server (or a proxy in front of it) that sends its headers and then one byte every
10 s never trips them. `urllib3.Timeout(total=...)` does not bound it either: it
sets each read's timeout from the time left when the response starts, so a byte
every second keeps a 2 s total waiting for as long as the drip lasts (measured
against the sandbox's drip fault with urllib3 2.8: 34 s for a dripping body, 69 s
for dripping headers).

So `DeadlineAdapter`, the transport our GitLab and Jenkins clients send through,
arms a watchdog for each request. When the deadline passes, whatever the request
is doing (connecting, sending, waiting for the headers, reading them or the body),
the watchdog shuts the connection's socket down; the blocked read ends at once and
the request fails with `DeadlineExceeded`. The adapter reads the whole body before
it disarms the watchdog, so a request that returns is complete.

Each API call runs within a `Budget` (`DeadlineAdapter.within`): pauses and attempts
included, no request runs past it (the retry policy that spends it:
jenkins_helpers/retry.py). The settings, read from the environment when a client is
made: GITOPS_HTTP_DEADLINE (one request) and GITOPS_HTTP_BUDGET (one call);
docs/SECURITY.md, "Deadlines", lists every deadline.

Not covered: resolving the server's name (the system resolver has its own
timeouts) and requests through a SOCKS proxy (per-read timeouts only).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from jenkins_helpers.errors import BadInput

DEADLINE_VARIABLE = "GITOPS_HTTP_DEADLINE"
BUDGET_VARIABLE = "GITOPS_HTTP_BUDGET"
DEFAULT_DEADLINE = 30.0  # seconds one request may take in all
BUDGET_FACTOR = 2  # a call's budget, unless set: this many request deadlines


@dataclass(frozen=True)
class Deadlines:
    """How long one HTTP request, and one API call with its retries, may take (seconds)."""

    request: float = DEFAULT_DEADLINE
    call: float = DEFAULT_DEADLINE * BUDGET_FACTOR

    @staticmethod
    def from_environment(environ: Mapping[str, str] | None = None) -> Deadlines:
        """GITOPS_HTTP_DEADLINE (default 30 s) and GITOPS_HTTP_BUDGET (default twice
        the deadline); a value that is not a positive number of seconds is bad input."""
        environ = os.environ if environ is None else environ
        request = _seconds(environ, DEADLINE_VARIABLE, DEFAULT_DEADLINE)
        return Deadlines(request, _seconds(environ, BUDGET_VARIABLE, request * BUDGET_FACTOR))


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadInput(
            f"{name} must be a positive number of seconds, got {raw[:40]!r}",
            f"unset it for the default ({default:g} s), or set e.g. 60",
        )
    return seconds


class DeadlineExceeded(requests.exceptions.Timeout):
    """A request that did not complete within its deadline (or its call's budget)."""

    def __init__(self, reason: str, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.reason = reason  # a few words: "no complete answer within 30 s"


class Budget:
    """The time one API call has, its retries and pauses included."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.started = clock()
        self.until = self.started + seconds

    def left(self) -> float:
        return self.until - self._clock()

    def elapsed(self) -> float:
        return self._clock() - self.started


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, each request of it ending within `deadline` seconds in all
    (and within the budget of the call it belongs to, if any): see the module."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._local = threading.local()
        super().__init__()

    @contextlib.contextmanager
    def within(self, budget: Budget) -> Iterator[Budget]:
        """Run the requests this thread makes meanwhile within `budget`."""
        outer = getattr(self._local, "budget", None)
        self._local.budget = budget
        try:
            yield budget
        finally:
            self._local.budget = outer

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            _watched(manager)
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        limit = self.deadline
        budget: Budget | None = getattr(self._local, "budget", None)
        if budget is not None:
            limit = min(limit, budget.left())
            if limit <= 0:
                raise DeadlineExceeded(
                    f"no time left of the call's {seconds(budget.seconds)} s", request=request
                )
        watch = _Watch(limit)
        outer = getattr(_active, "watch", None)
        _active.watch = watch
        watch.start()
        try:
            # Reads may wait a little longer than the deadline: the watchdog, not a
            # read's timeout, ends the request, so how it ended is always "fired".
            response = super().send(
                request,
                stream=stream,
                timeout=(limit, limit + 1),
                verify=verify,
                cert=cert,
                proxies=proxies,
            )
            _ = response.content  # the whole body, while the watchdog runs
        except requests.exceptions.ConnectTimeout as e:
            why = f"no connection within {seconds(limit)} s"
            raise DeadlineExceeded(why, request=request) from e
        except Exception as e:
            if watch.fired or isinstance(e, requests.Timeout):
                raise DeadlineExceeded(
                    f"no complete answer within {seconds(limit)} s", request=request
                ) from e
            raise
        finally:
            watch.finish()
            _active.watch = outer
        return response


def seconds(value: float) -> str:
    """Seconds for a message: 30, 29.5, 0.5."""
    return f"{round(value, 1):g}"


def session(deadline: float) -> requests.Session:
    """A requests session whose every request ends within `deadline` seconds."""
    found = requests.Session()
    mount(found, DeadlineAdapter(deadline))
    return found


def mount(target: requests.Session, adapter: DeadlineAdapter) -> DeadlineAdapter:
    """Send every http:// and https:// request of `target` through `adapter`."""
    for prefix in ("http://", "https://"):
        target.mount(prefix, adapter)
    return adapter


# --- the watchdog ---------------------------------------------------------------------

_active = threading.local()  # .watch: the _Watch of the request this thread is sending


class _Watch:
    """One request's watchdog: the connections it uses, shut down when time is up."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.name = "gitops-http-deadline"

    def start(self) -> None:
        self._timer.start()

    def watch(self, connection: Any) -> None:
        """The request took `connection` from its pool (a new one or a kept-alive one)."""
        with self._lock:
            if self._done:
                return
            connection._gitops_watch = self
            self._connections.append(connection)
            if self.fired:
                _shut(connection)

    def connected(self, connection: Any) -> None:
        """`connection` has just connected: too late, if time ran out meanwhile."""
        with self._lock:
            if self.fired and connection in self._connections:
                _shut(connection)

    def release(self, connection: Any) -> None:
        """`connection` went back to its pool: the next request's, not this one's."""
        with self._lock:
            connection._gitops_watch = None
            with contextlib.suppress(ValueError):
                self._connections.remove(connection)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            for connection in self._connections:
                connection._gitops_watch = None
            self._connections.clear()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: Any) -> None:
    """End whatever `connection` is blocked in: reads see the end of the stream."""
    # http.client hands the socket over to the response when the server closes the
    # connection after it (`sock` is None then): the one kept at connecting is used.
    sock = getattr(connection, "sock", None) or getattr(connection, "_gitops_sock", None)
    if sock is None:
        return  # not connected yet: `connected` shuts it once it is
    with contextlib.suppress(OSError):
        if isinstance(sock, socket.socket):
            # The socket's own shutdown, under TLS too (SSLSocket.shutdown would also
            # unwrap it under the feet of the thread reading it).
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:
            sock.close()


def _connected(connection: Any) -> None:
    """Keep the new socket (http.client may hand it to the response) and tell the watch."""
    connection._gitops_sock = connection.sock
    watch = getattr(connection, "_gitops_watch", None)
    if watch is not None:
        watch.connected(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _connected(self)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _connected(self)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _taken(super()._get_conn(timeout))

    def _put_conn(self, conn: Any) -> None:
        super()._put_conn(_returned(conn))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _taken(super()._get_conn(timeout))

    def _put_conn(self, conn: Any) -> None:
        super()._put_conn(_returned(conn))


def _taken(connection: Any) -> Any:
    """A connection a request of this thread took from its pool: watched by its watchdog."""
    watch: _Watch | None = getattr(_active, "watch", None)
    if watch is not None:
        watch.watch(connection)
    return connection


def _returned(connection: Any) -> Any:
    """A connection going back to its pool (None when it was thrown away)."""
    watch: _Watch | None = getattr(connection, "_gitops_watch", None)
    if watch is not None:
        watch.release(connection)
    return connection


def _watched(manager: PoolManager) -> None:
    """Make `manager`'s connection pools report the connections each request uses."""
    manager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
