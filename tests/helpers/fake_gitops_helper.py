"""A stand-in for `gitops-helper promote`, for the Groovy unit tests of vars/ only.

It parses the same options as the real command (a contract test,
tests/test_fake_cli_contract.py, keeps them equal), records what it received as one
JSON line per call in the file named by GITOPS_FAKE_RECORD, and answers as the CLI
does: exit 0/1/2, one JSON object on stdout with --json. It validates nothing
itself: the real CLI's checks are tested where they live. Knobs for tests:
  GITOPS_FAKE_STATUS     created (default), updated or noop
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
    """The `promote` options of the real CLI (names only: values are not checked here)."""
    top = argparse.ArgumentParser(prog="gitops-helper")
    commands = top.add_subparsers(dest="command", required=True)
    promote = commands.add_parser("promote")
    for option in ("--app", "--image", "--tag"):
        promote.add_argument(option, required=True)
    for option in ("--digest", "--app-repo", "--env", "--project", "--gitlab-url", "--build-url"):
        promote.add_argument(option)
    promote.add_argument("--dry-run", action="store_true")
    promote.add_argument("--json", action="store_true")
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
    """Answer `promote` as the real CLI would, without touching GitLab."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _record(argv)
    args = parser().parse_args(argv)
    if os.environ.get("GITOPS_FAKE_BAD_INPUT"):
        return _error(os.environ["GITOPS_FAKE_BAD_INPUT"], "fix the value", 2)
    url = args.gitlab_url or os.environ.get("GITLAB_URL")
    if not url or not os.environ.get("GITLAB_TOKEN"):
        return _error("no GitLab URL or token", "set GITLAB_URL and GITLAB_TOKEN", 2)
    env = args.env or "dev"  # the real CLI's default: the first environment of gitops.yaml
    project = args.project or "platform/k8s-deployments"
    print(f"promote: {args.app} {args.tag} -> {env} (fake)", file=sys.stderr)
    if os.environ.get("GITOPS_FAKE_FAIL"):
        return _error(f"GitLab refused the push to {project}", "check the token's scopes", 1)
    if os.environ.get("GITOPS_FAKE_GARBAGE"):
        print("Traceback (most recent call last): not JSON")
        return 0
    status = os.environ.get("GITOPS_FAKE_STATUS", "created")
    iid = None if status == "noop" or args.dry_run else 12
    result = {
        "status": status,
        "mr_iid": iid,
        "mr_url": f"{url.rstrip('/')}/{project}/-/merge_requests/{iid}" if iid else None,
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


if __name__ == "__main__":
    sys.exit(main())
