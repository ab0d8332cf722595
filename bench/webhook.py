"""Webhook benchmarks: how fast it acknowledges, and how fast a merge becomes the next MR.

1. Acks: POST /hooks/gitlab with merge events (distinct merges, so every one is
   queued) from 1, 10 and 50 concurrent connections on one asyncio loop, to the
   webhook in its own process (`webhook serve`, or gunicorn with `--gunicorn N`
   workers as docs/WEBHOOK.md runs it), with no job workers (acknowledging is what
   GitLab waits for). Reports acks per second and the latency p50/p99.
2. Cascade latency: in a seeded sandbox with the webhook wired in, merge a dev MR
   and time until the stage MR exists, N times (`--merges`). Reports p50/p95.
   The CUE engine is the one the environment selects (GITOPS_CUE_ENGINE, CUE_BIN).

    python bench/webhook.py [--acks 2000] [--merges 10] [--gunicorn 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gitlab

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.cue import get_engine
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, serve_webhook
from tests.helpers.ports import free_port

SECRET = "bench-secret-123"  # noqa: S105


def _event(n: int) -> bytes:
    return json.dumps(
        {
            "object_kind": "merge_request",
            "project": {"path_with_namespace": DEPLOYMENTS},
            "object_attributes": {
                "iid": n + 1,
                "title": f"Promote bench-app 1.0.{n} to dev",
                "source_branch": "promote/dev/bench-app",
                "target_branch": "dev",
                "state": "merged",
                "action": "merge",
                "merge_commit_sha": f"{n:040x}",
                "labels": [],
            },
        }
    ).encode()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_acks(total: int, gunicorn_workers: int) -> None:
    """Senders here, the webhook in its own process: `gitops-helper webhook serve`, or
    gunicorn with `gunicorn_workers` web workers as docs/WEBHOOK.md runs it in production."""
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = {
            **os.environ,
            "GITOPS_WEBHOOK_SECRET": SECRET,
            "GITLAB_URL": "http://127.0.0.1:9",
            "GITLAB_TOKEN": "unused-token",
            "GITOPS_DATA_DIR": data,
            "GITOPS_WORKERS": "0",
        }
        command = [sys.executable, "-m", "gitops_helper", "webhook", "serve", "--port", str(port)]
        if gunicorn_workers:
            gunicorn = str(Path(sys.executable).parent / "gunicorn")
            command = [
                gunicorn,
                "--workers",
                str(gunicorn_workers),
                "--bind",
                f"127.0.0.1:{port}",
                "webhook:create_app()",
            ]
        server = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_up(f"http://127.0.0.1:{port}/healthz")
        print(f"{'senders':>8} {'acks':>6} {'acks/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        try:
            gc.collect()
            gc.disable()  # the senders' own GC pauses are not the webhook's latency
            for senders in (1, 10, 50):
                latencies, wall = asyncio.run(_send_all(port, senders, total))
                print(
                    f"{senders:>8} {total:>6} {total / wall:>8.0f} "
                    f"{_percentile(latencies, 0.5) * 1000:>8.1f} "
                    f"{_percentile(latencies, 0.99) * 1000:>8.1f}"
                )
        finally:
            gc.enable()
            server.terminate()
            server.wait(30)


async def _send_all(port: int, senders: int, total: int) -> tuple[list[float], float]:
    """`total` deliveries from `senders` concurrent connections; latencies and wall time.

    One asyncio loop sends them all: sender threads would wait for each other's GIL and
    measure that (GitLab's senders are on other machines). A connection the server
    closes (gunicorn's sync workers close after each answer) is reopened, and the
    connect counts in the latency, as it does for GitLab's.
    """
    numbers = iter(range(total))
    latencies: list[float] = []

    async def sender() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for n in numbers:
            started = time.perf_counter()
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = connection
            writer.write(_request(n))
            status, keep_alive = await _read_answer(reader)
            latencies.append(time.perf_counter() - started)
            assert status == 202, status
            if not keep_alive:
                writer.close()
                connection = None
        if connection is not None:
            connection[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    return latencies, time.perf_counter() - started


def _request(n: int) -> bytes:
    body = _event(n)
    head = (
        "POST /hooks/gitlab HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Gitlab-Token: {SECRET}\r\nX-Gitlab-Event: Merge Request Hook\r\n"
        f"Idempotency-Key: bench-{n}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status and whether the connection stays open; the body is read and dropped."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    status = int(head.split(" ", 2)[1])
    length = re.search(r"content-length: *(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return status, "connection: close" not in head and head.startswith("http/1.1")


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"the webhook did not come up: {url}")


def bench_cascade(merges: int) -> None:
    token = "bench-token-1234"  # noqa: S105 - the sandbox's credential
    with Sandbox.start(token=token) as sb, tempfile.TemporaryDirectory() as data:
        seed_default(sb)
        with (
            serve_webhook(sb, Path(data)),
            gitlab.Gitlab(sb.gitlab_url, private_token=sb.token) as gl,
        ):
            chain = Chain(sb, gl.projects.get(DEPLOYMENTS))
            repo = chain.app_repo("example-app")
            latencies = []
            for n in range(merges):
                tag = f"9.0.{n}"
                built = chain.build("example-app", tag, repo, EXAMPLE_IMAGE)
                assert built.mr_iid is not None
                started = time.perf_counter()
                chain.merge(built.mr_iid)
                chain.wait_mr("stage", chain.titled(f"Promote example-app {tag} to stage"))
                latencies.append(time.perf_counter() - started)
            print(f"merged dev MR -> stage MR, {merges} merges, engine {get_engine().name}:")
            print(
                f"  p50 {statistics.median(latencies):.2f} s, "
                f"p95 {_percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--acks", type=int, default=2000, help="deliveries per sender count")
    parser.add_argument("--merges", type=int, default=10, help="merges to time (0: none)")
    parser.add_argument(
        "--gunicorn",
        type=int,
        default=0,
        metavar="N",
        help="serve the acks under gunicorn with N web workers (pip install gunicorn)",
    )
    args = parser.parse_args()
    bench_acks(args.acks, args.gunicorn)
    if args.merges:
        bench_cascade(args.merges)


if __name__ == "__main__":
    main()
