"""`checks.check_objects` (what `gitops-helper validate` runs on rendered manifests) on
300 to 3000 apps of four objects each.

    python bench/checks.py                  # 300 1000 3000
    python bench/checks.py 300 --runs 5

The objects are tests/deployrepo/test_checks.py's: per app a ConfigMap, a Deployment,
a PersistentVolumeClaim and a Service, all valid, as the platform layer renders them.
Each size is checked `--runs` times, one fresh Python process each, as the CLI runs:
the first (cold) call builds one schema validator per Kubernetes kind (what
tests/deployrepo/test_checks.py asserts), the second (warm) reuses them. Printed as a
Markdown table of wall and CPU seconds (on a busy machine CPU is the steadier), with
the target the test suite used to assert: 300 apps (1200 objects), warm, in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = [300, 1000, 3000]
TARGET = (300, 5.0)  # apps, warm seconds


def measure(apps: int) -> dict[str, float]:
    """Check the objects of `apps` apps twice in this process: cold, then warm."""
    from jenkins_helpers.deployrepo.checks import check_objects
    from tests.deployrepo.test_checks import ENV, NS, app_objects

    objects = [item for i in range(apps) for item in app_objects(f"app-{i}")[1:5]]
    times = {}
    for run in ("cold", "warm"):
        started, cpu = time.perf_counter(), time.process_time()
        findings = check_objects(objects, env=ENV, namespace=NS)
        times[run] = time.perf_counter() - started
        times[f"{run} CPU"] = time.process_time() - cpu
        if findings:
            raise SystemExit(f"{len(findings)} findings, the first: {findings[0]}")
    return times


def run_one(apps: int) -> dict[str, float]:
    """`measure` in a fresh Python process."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(apps)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{apps} apps failed:\n{done.stderr}{done.stdout}")
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES)
    parser.add_argument("--runs", type=int, default=3, help="processes per size")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}\n"
    )
    columns = ("cold", "cold CPU", "warm", "warm CPU")
    print(f"| apps | objects | runs | {' | '.join(f'{c} median' for c in columns)} | target |")
    print("|---:|---:|---:|" + "---:|" * len(columns) + "---|")
    for size in args.sizes:
        rows = [run_one(size) for _ in range(args.runs)]
        medians = {c: statistics.median(r[c] for r in rows) for c in columns}
        target = ""
        if size == TARGET[0]:
            met = medians["warm"] < TARGET[1]
            target = f"warm < {TARGET[1]:g} s: {'met' if met else 'MISSED'}"
        cells = " | ".join(f"{medians[c]:.2f} s" for c in columns)
        print(f"| {size} | {4 * size} | {len(rows)} | {cells} | {target} |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
