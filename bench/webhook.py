"""Webhook benchmarks: how fast it acknowledges, and how fast a merge becomes the next MR.

1. Acks: POST /hooks/gitlab with merge events (distinct merges, so every one is
   queued) from 1, 10 and 50 concurrent senders over keep-alive connections, to the
   webhook served by werkzeug's threaded server on loopback, with no job workers
   (acknowledging is what GitLab waits for). Reports acks per second and the
   latency p50/p99.
2. Cascade latency: in a seeded sandbox with the webhook wired in, merge a dev MR
   and time until the stage MR exists, N times (`--merges`). Reports p50/p95.
   The CUE engine is the one the environment selects (GITOPS_CUE_ENGINE, CUE_BIN).

    python bench/webhook.py [--acks 2000] [--merges 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gitlab

from gitops_sandbox import DEPLOYMENTS, Sandbox, seed_default
from jenkins_helpers.cue import get_engine
from tests.helpers.chain import EXAMPLE_IMAGE, Chain, serve_webhook

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
        port = _free_port()
        env = {
            **os.environ,
            "GITOPS_WEBHOOK_SECRET": SECRET,
            "GITLAB_URL": "http://127.0.0.1:9",
            "GITLAB_TOKEN": "unused-token",
            "GITOPS_DATA_DIR": data,
            "GITOPS_WORKERS": "0",
        }
        command = [sys.executable, "-m", "jenkins_helpers", "webhook", "serve", "--port", str(port)]
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
        counter = iter(range(10**9))
        lock = threading.Lock()
        local = threading.local()

        def send() -> float:
            # http.client over a kept-alive connection: the senders must cost the shared
            # CPU as little as they can, or they measure themselves (GitLab's are elsewhere).
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                n = next(counter)
            headers = {
                "X-Gitlab-Token": SECRET,
                "X-Gitlab-Event": "Merge Request Hook",
                "Idempotency-Key": f"bench-{n}",
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            local.connection.request("POST", "/hooks/gitlab", body=_event(n), headers=headers)
            answer = local.connection.getresponse()
            body = answer.read()
            elapsed = time.perf_counter() - started
            assert answer.status == 202, body
            return elapsed

        print(f"{'senders':>8} {'acks':>6} {'acks/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        try:
            for senders in (1, 10, 50):
                with ThreadPoolExecutor(senders) as pool:
                    started = time.perf_counter()
                    latencies = list(pool.map(lambda _: send(), range(total)))
                    wall = time.perf_counter() - started
                print(
                    f"{senders:>8} {total:>6} {total / wall:>8.0f} "
                    f"{_percentile(latencies, 0.5) * 1000:>8.1f} "
                    f"{_percentile(latencies, 0.99) * 1000:>8.1f}"
                )
        finally:
            server.terminate()
            server.wait(30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
