"""Render synthetic deployment repositories of 10 to 3000 apps on both CUE engines.

    python bench/render.py                      # 10 100 300 1000 3000, wasm and binary
    python bench/render.py 300 1000 --engines binary --batch 0

Each app (tests/deployrepo/many_apps.py, all alike unless --varied) has an app
layer and an env.cue entry;
`render.render` renders one environment into a checkout without manifests for them.
Every measurement runs in a fresh Python process, as the CLI does: the WASM engine's
node workers start within the timed render. Printed per engine and size, as a
Markdown table: wall time; CPU seconds of the CUE engine's processes and of Python
(on a busy machine steadier than wall time); CUE evaluations; peak memory of
Python, of the biggest node worker and of the biggest cue process; load average.
The binary is $CUE_BIN, else `cue` on PATH. --batch sets GITOPS_RENDER_BATCH. First, a
file creation probe: how fast the disk is right now (see `file_creation_probe`).

Nothing is deleted before the run ends. ext4 does not reuse an inode freed in the
last few minutes: creating files soon after deleting thousands nearby costs up to
20 times the CPU (docs/PERFORMANCE.md), so a render measured after the previous
one's cleanup would pay for it. Point $TMPDIR at a quiet directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jenkins_helpers import git  # noqa: E402
from tests.deployrepo.many_apps import add_apps  # noqa: E402
from tests.helpers.deployrepo import copy_repo, make_scaffold  # noqa: E402

SIZES = [10, 100, 300, 1000, 3000]
COLUMNS = (
    "engine",
    "apps",
    "files",
    "wall s",
    "CUE CPU s",
    "Python CPU s",
    "CUE calls",
    "Python MiB",
    "node MiB",
    "cue MiB",
    "load",
)


def children_cpu_seconds() -> float:
    """CPU time of this process's children: finished ones (cue) and live ones (node)."""
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
    """Peak resident memory (VmHWM) of the biggest live node child: a CUE worker."""
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


def measure(base: Path, work: Path) -> dict[str, object]:
    """Render a copy of `base` in this process (the engine from the environment)."""
    from jenkins_helpers.cue import get_engine
    from jenkins_helpers.deployrepo import render

    repo = copy_repo(base, work)
    engine = get_engine()
    cpu = children_cpu_seconds()
    own = time.process_time()
    start = time.perf_counter()
    result = render.render(repo, "dev")
    wall = time.perf_counter() - start
    return {
        "engine": engine.name,
        "files": len(result.files),
        "wall s": round(wall, 2),
        "CUE CPU s": round(children_cpu_seconds() - cpu, 2),
        "Python CPU s": round(time.process_time() - own, 2),
        "CUE calls": engine.calls,
        "Python MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "node MiB": round(node_peak_mib()),
        # The biggest finished child: the cue processes (git is not run in here).
        "cue MiB": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


def run_one(base: Path, engine: str, batch: str | None) -> dict[str, object]:
    """`measure` in a fresh Python process with GITOPS_CUE_ENGINE=`engine`."""
    env = {**os.environ, "GITOPS_CUE_ENGINE": engine}
    if batch is not None:
        env["GITOPS_RENDER_BATCH"] = batch
    # Not deleted until the run ends (see the module docstring).
    work = tempfile.mkdtemp(dir=base.parent)
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(base), str(Path(work) / "repo")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"engine": engine, "files": f"failed: {tail[:120]}"}
    return dict(json.loads(done.stdout))


def file_creation_probe(root: Path) -> float:
    """Seconds to create 1000 directories of 4 small files each, as a render of 1000 apps
    does: ~0.1 s on a quiet machine, 1 s and more when its disk is busy, which moves
    the wall time of every render by as much."""
    started = time.perf_counter()
    for n in range(1000):
        directory = root / f"app-{n}"
        directory.mkdir(parents=True)
        for kind in ("configmap", "deployment", "service", "application"):
            (directory / f"{kind}.yaml").write_bytes(b"x" * 1000)
    return time.perf_counter() - started  # its files stay until the run ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES)
    parser.add_argument("--engines", default="wasm,binary")
    parser.add_argument("--batch", help="GITOPS_RENDER_BATCH for the renders")
    parser.add_argument("--varied", action="store_true", help="apps of varied shapes")
    parser.add_argument("--measure", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    cue = shutil.which(os.environ.get("CUE_BIN") or "cue")
    version = subprocess.run([cue, "version"], capture_output=True, text=True).stdout if cue else ""
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, node {node}, "
        f"cue: {(version.splitlines() or ['none'])[0]}, "
        f"GITOPS_RENDER_BATCH={args.batch or os.environ.get('GITOPS_RENDER_BATCH', 'default')}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        probe = file_creation_probe(Path(tmp) / "probe")
        print(f"file creation probe (1000 directories x 4 files): {probe:.2f} s\n")
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "|".join("---" if c == "engine" else "---:" for c in COLUMNS) + "|")
        template = make_scaffold(Path(tmp) / "template")
        for size in args.sizes:
            base = copy_repo(template, Path(tmp) / f"apps-{size}" / "repo")
            git.switch(base, "dev")
            add_apps(base, size, varied=args.varied)
            for engine in args.engines.split(","):
                row = run_one(base, engine, args.batch)
                row |= {"apps": size, "load": f"{os.getloadavg()[0]:.1f}"}
                print("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |", flush=True)


if __name__ == "__main__":
    main()
