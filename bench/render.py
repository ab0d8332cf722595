"""Render a synthetic deployment repository with 10, 100 and 300 apps in one environment.

Prints, per size: wall time of `render` (one CUE export plus writing the YAML),
the CPU time of the CUE engine's processes during it (on a busy machine a steadier
figure than wall time), the number of CUE evaluations, and peak memory of this
process and of the CUE engine's node workers (VmHWM).
Run with `make bench` or `python bench/render.py 10 100`.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jenkins_helpers import git
from jenkins_helpers.cue import get_engine
from jenkins_helpers.deployrepo import render
from tests.helpers.deployrepo import append, copy_repo, make_scaffold

APP_LAYER = """package deployments

apps: "{name}": app: {{
	deployment: image: repository: "registry.example.com/team/{name}"
	port: 8080
	appEnvVars: [{{name: "APP_NAME", value: "{name}"}}, {{name: "LOG_LEVEL", value: "INFO"}}]
	configMap: data: {{"cache-ttl": "300", "feature": "on"}}
	podAnnotations: "prometheus.io/scrape": "true"
	readinessProbe: httpGet: {{path: "/ready", port: "http"}}
	livenessProbe: httpGet: {{path: "/healthz", port: "http"}}
}}
"""
ENV_ENTRY = """
apps: "{name}": env: {{
	deployment: image: tag: "1.{i}.0"
	replicas: 2
	additionalEnv: [{{name: "LOG_LEVEL", value: "DEBUG"}}]
}}
"""


def add_apps(repo: Path, count: int) -> None:
    for i in range(count):
        name = f"app-{i:03d}"
        (repo / "services/apps" / f"{name}.cue").write_text(APP_LAYER.format(name=name))
        append(repo / "env.cue", ENV_ENTRY.format(name=name, i=i))


def cue_cpu_seconds() -> float:
    """CPU time of this process's children: finished ones (a cue binary) and live node workers."""
    finished = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = finished.ru_utime + finished.ru_stime
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(os.getpid()):  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def node_peak_mib() -> float:
    """Peak resident memory of this process's node children (the CUE workers)."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if (
            fields.get("PPid", "").strip() == str(os.getpid())
            and fields.get("Name", "").strip() == "node"
        ):
            peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]))
    return peak / 1024


def main(sizes: list[int]) -> None:
    engine = get_engine()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"CUE engine: {engine.name}"
    )
    print(
        f"{'apps':>5} {'files':>6} {'wall s':>7} {'CUE CPU s':>9} {'CUE calls':>9} "
        f"{'python MiB':>10} {'node MiB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        template = make_scaffold(Path(tmp) / "template")
        for size in sizes:
            repo = copy_repo(template, Path(tmp) / f"repo-{size}")
            git.switch(repo, "dev")
            add_apps(repo, size)
            calls = engine.calls
            cpu = cue_cpu_seconds()
            start = time.perf_counter()
            result = render.render(repo, "dev")
            wall = time.perf_counter() - start
            cpu = cue_cpu_seconds() - cpu
            python_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{size:>5} {len(result.files):>6} {wall:>7.2f} {cpu:>9.2f} "
                f"{engine.calls - calls:>9} {python_mib:>10.0f} {node_peak_mib():>9.0f}"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 300])
