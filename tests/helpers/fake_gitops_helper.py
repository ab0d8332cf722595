"""A stand-in for `gitops-helper promote` and `promote-env`, for the Groovy tests of vars/ only.

It parses the same options as the real commands (a contract test,
tests/test_fake_cli_contract.py, keeps them equal), records what it received as one
JSON line per call in the file named by GITOPS_FAKE_RECORD, and answers as the CLI
does: exit 0/1/2, one JSON object on stdout with --json. It validates nothing
itself: the real CLI's checks are tested where they live. Knobs for tests:
  GITOPS_FAKE_STATUS     promote: created (default), updated or noop
  GITOPS_FAKE_UNITS      promote-env: the units and their statuses, e.g.
                         `example-app=created,platform=noop,user-service=blocked`
                         (default: each of --apps, or example-app, created; and
                         platform with --platform); `none`: nothing to promote;
                         a blocked unit makes it exit 1
  GITOPS_FAKE_BAD_INPUT  an error message: answer it as bad input (exit 2)
  GITOPS_FAKE_FAIL=1     a failed operation (exit 1)
  GITOPS_FAKE_GARBAGE=1  print something that is not JSON

The end-to-end tests run the real CLI against the sandbox instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    """The real CLI's `promote` and `promote-env` options (names only: values are not checked)."""
    top = argparse.ArgumentParser(prog="gitops-helper")
    commands = top.add_subparsers(dest="command", required=True)
    promote = commands.add_parser("promote")
    for option in ("--app", "--image", "--tag"):
        promote.add_argument(option, required=True)
    for option in (
        "--digest",
        "--app-repo",
        "--env",
        "--project",
        "--gitlab-url",
        "--build-url",
        "--group",
    ):
        promote.add_argument(option)
    promote.add_argument("--with", action="append")
    promote_env = commands.add_parser("promote-env")
    promote_env.add_argument("--from", dest="source", required=True)
    promote_env.add_argument("--to", dest="target", required=True)
    for option in ("--apps", "--project", "--gitlab-url", "--group"):
        promote_env.add_argument(option)
    for flag in ("--platform", "--skip-env"):
        promote_env.add_argument(flag, action="store_true")
    for command in (promote, promote_env):
        command.add_argument("--dry-run", action="store_true")
        command.add_argument("--json", action="store_true")
    return top


def _record(argv: Sequence[str]) -> None:
    path = os.environ.get("GITOPS_FAKE_RECORD")
    if not path:
        return
    keep = {k: v for k, v in os.environ.items() if k.startswith(("GITOPS_", "GITLAB_"))}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"argv": list(argv), "env": keep}) + "\n")


def _error(message: str, hint: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    print(f"hint: {hint}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Answer `promote` or `promote-env` as the real CLI would, without touching GitLab."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _record(argv)
    args = parser().parse_args(argv)
    if os.environ.get("GITOPS_FAKE_BAD_INPUT"):
        return _error(os.environ["GITOPS_FAKE_BAD_INPUT"], "fix the value", 2)
    url = args.gitlab_url or os.environ.get("GITLAB_URL")
    if not url or not os.environ.get("GITLAB_TOKEN"):
        return _error("no GitLab URL or token", "set GITLAB_URL and GITLAB_TOKEN", 2)
    project = args.project or "platform/k8s-deployments"
    print(f"{args.command}: (fake)", file=sys.stderr)
    if os.environ.get("GITOPS_FAKE_FAIL"):
        return _error(f"GitLab refused the push to {project}", "check the token's scopes", 1)
    if os.environ.get("GITOPS_FAKE_GARBAGE"):
        print("Traceback (most recent call last): not JSON")
        return 0
    answer = _promote_env if args.command == "promote-env" else _promote
    return answer(args, url.rstrip("/"), project)


def _promote(args: argparse.Namespace, url: str, project: str) -> int:
    env = args.env or "dev"  # the real CLI's default: the first environment of gitops.yaml
    status = os.environ.get("GITOPS_FAKE_STATUS", "created")
    iid = None if status == "noop" or args.dry_run else 12
    result = {
        "status": status,
        "mr_iid": iid,
        "mr_url": f"{url}/{project}/-/merge_requests/{iid}" if iid else None,
        "branch": f"promote/{env}/{args.app}",
        "project": project,
        "env": env,
        "app": args.app,
        "tag": args.tag,
        "digest": args.digest,
        "dry_run": args.dry_run,
        "warnings": [],
        "changes": []
        if status == "noop"
        else [{"path": "env.cue", "status": "modified", "added": 1, "removed": 1}],
    }
    print(json.dumps(result) if args.json else f"{status}: {result['mr_url']}")
    return 0


def _units(args: argparse.Namespace) -> list[tuple[str, str]]:
    wanted = os.environ.get("GITOPS_FAKE_UNITS")
    if wanted == "none":
        return []
    if wanted:
        return [(unit, status) for unit, _, status in (u.partition("=") for u in wanted.split(","))]
    apps = args.apps.split(",") if args.apps else ([] if args.platform else ["example-app"])
    return [(a, "created") for a in apps] + ([("platform", "created")] if args.platform else [])


def _promote_env(args: argparse.Namespace, url: str, project: str) -> int:
    units = []
    for number, (unit, status) in enumerate(_units(args), start=12):
        iid = number if status in ("created", "updated") and not args.dry_run else None
        platform = unit == "platform"
        units.append(
            {
                "unit": unit,
                "kind": "platform" if platform else "app",
                "status": status,
                "tag": None if platform else "1.0.1",
                "mr_iid": iid,
                "mr_url": f"{url}/{project}/-/merge_requests/{iid}" if iid else None,
                "branch": None if status == "blocked" else f"promote/{args.target}/{unit}",
                "reason": (
                    f"{unit} 1.0.1 needs platform changes not yet in {args.target}:\n"
                    f'apps."{unit}".app.newField: field not allowed'
                    if status == "blocked"
                    else None
                ),
                "superseded": [],
                "changes": []
                if status in ("noop", "blocked")
                else [{"path": "env.cue", "status": "modified", "added": 1, "removed": 1}],
                "warnings": [],
            }
        )
    result = {
        "project": project,
        "source": args.source,
        "target": args.target,
        "source_commit": "0123456789abcdef0123456789abcdef01234567",
        "dry_run": args.dry_run,
        "skipped": ["stage"] if args.skip_env else [],
        "units": units,
    }
    print(json.dumps(result) if args.json else f"{len(units)} unit(s)")
    return 1 if any(u["status"] == "blocked" for u in units) else 0


if __name__ == "__main__":
    sys.exit(main())
