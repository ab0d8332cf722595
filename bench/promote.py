"""`gitops-helper promote --dry-run` against deployment repositories of 10 and 1000 apps.

    python bench/promote.py                 # 10 1000
    python bench/promote.py 10 300 --runs 3
    python bench/promote.py --promote-env   # and promote-env of every app, none differing
    python bench/promote.py 10 --publish    # promote for real: push, open (then update) the MR

For each size: `gitops-helper init-repo`, then the apps of tests/deployrepo/many_apps.py
added to dev and to stage alike (rendered and committed there, as merged MRs leave
them), pushed to a sandbox GitLab as platform/k8s-deployments. Then, `--runs` times, one
`gitops-helper promote --dry-run` of example-app at a new tag from its app
repository, as Jenkins runs it: clone dev, write the app layer and env.cue, render
and validate, print the plan. Printed: wall time per size (the clone included), the
sizes taking turns run by run, as a Markdown table with each median's ratio to the
first size's. A promotion renders and validates only example-app (see
jenkins_helpers/promotion/plan.py), so the time should not grow with the apps; the
clone does, with the repository. With --promote-env, each run also times
`promote-env --from dev --to stage --dry-run`, which compares every app of the
two branches and finds none to promote. The CUE engine is the one the environment
selects (GITOPS_CUE_ENGINE, CUE_BIN).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_sandbox import DEPLOYMENTS, Sandbox  # noqa: E402
from gitops_sandbox.seed import write_example_app  # noqa: E402
from jenkins_helpers import git  # noqa: E402
from jenkins_helpers.deployrepo import render  # noqa: E402
from tests.deployrepo.many_apps import add_apps  # noqa: E402
from tests.helpers.chain import EXAMPLE_IMAGE  # noqa: E402

ENVS = ("dev", "stage", "prod")


def gitops_helper() -> str:
    exe = Path(sys.executable).with_name("gitops-helper")
    return str(exe) if exe.exists() else "gitops-helper"


def deployment_repo(path: Path, apps: int) -> Path:
    """init-repo at `path`, with `apps` - 2 more apps committed (rendered) on dev and on
    stage, alike: stage already runs every version dev has."""
    subprocess.run(
        [gitops_helper(), "init-repo", str(path), "--envs", ",".join(ENVS)],
        check=True,
        capture_output=True,
    )
    for env in ("dev", "stage"):
        git.switch(path, env)
        add_apps(path, max(0, apps - 2))  # init-repo's envs have example-app and postgres
        render.render(path, env)
        git.commit_all(path, f"{env}: {apps} apps")
    git.switch(path, "dev")
    return path


def promote(sb: Sandbox, app_repo: Path, tag: str, *, publish: bool) -> float:
    """One promote process; with `publish`, as Jenkins runs it: push and open (the first
    run) or update (the later ones, a newer tag each) the MR to dev."""
    args = ["promote", "--app", "example-app", "--image", EXAMPLE_IMAGE, "--tag", tag]
    return timed(sb, [*args, "--app-repo", str(app_repo), *([] if publish else ["--dry-run"])])


def promote_env(sb: Sandbox) -> float:
    """`promote-env --from dev --to stage --dry-run`: every app compared, none to promote."""
    return timed(sb, ["promote-env", "--from", "dev", "--to", "stage", "--dry-run"])


def timed(sb: Sandbox, args: list[str]) -> float:
    env = {
        **os.environ,
        "GITLAB_URL": sb.gitlab_url,
        "GITLAB_TOKEN": sb.token,
        "GITOPS_PROJECT": DEPLOYMENTS,
    }
    started = time.perf_counter()
    done = subprocess.run(
        [gitops_helper(), *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}")
    return elapsed


def table(title: str, times: dict[int, list[float]]) -> None:
    sizes = list(times)
    smallest = statistics.median(times[sizes[0]])
    print(f"\n{title}\n")
    print("| apps | runs | wall median | wall min | wall max | median / smallest's |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        median = statistics.median(times[size])
        print(
            f"| {size} | {len(times[size])} | {median:.2f} s | {min(times[size]):.2f} s "
            f"| {max(times[size]):.2f} s | {median / smallest:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 1000])
    parser.add_argument("--runs", type=int, default=3, help="promotions timed per size")
    parser.add_argument(
        "--promote-env", action="store_true", help="time promote-env of every app too"
    )
    parser.add_argument(
        "--publish", action="store_true", help="promote without --dry-run: push, open the MR"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, CUE_BIN={os.environ.get('CUE_BIN', '-')}, "
        f"GITOPS_CUE_ENGINE={os.environ.get('GITOPS_CUE_ENGINE', '-')}\n"
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-promote-")))
        setups = []
        for size in args.sizes:
            sb = stack.enter_context(Sandbox.start(token="bench-token-1234"))  # noqa: S106
            repo = deployment_repo(tmp / f"{size}" / "k8s-deployments", size)
            sb.create_project(DEPLOYMENTS, source_dir=repo, protected=["main", *ENVS])
            setups.append((size, sb, write_example_app(tmp / f"{size}" / "example-app")))
        # Sizes take turns, run by run: a machine that gets busier or quieter
        # meanwhile shifts every size alike, not the last one measured.
        builds: dict[int, list[float]] = {size: [] for size in args.sizes}
        scans: dict[int, list[float]] = {size: [] for size in args.sizes}
        for n in range(args.runs):
            for size, sb, app_repo in setups:
                builds[size].append(promote(sb, app_repo, f"9.{size}.{n}", publish=args.publish))
                if args.promote_env:
                    scans[size].append(promote_env(sb))
        table(f"`promote{'' if args.publish else ' --dry-run'}` of one app", builds)
        if args.promote_env:
            table("`promote-env --from dev --to stage --dry-run`, nothing to promote", scans)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
