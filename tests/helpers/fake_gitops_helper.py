"""A stand-in for `gitops-helper promote`, for the Groovy unit tests of vars/ only.

It follows the CLI's contract (arguments, GITLAB_TOKEN and GITLAB_URL from the
environment, exit 0/1/2, one JSON object on stdout with --json) and records what it
received, as one JSON line per call, in the file named by GITOPS_FAKE_RECORD. It
checks inputs the way the CLI does, so bad input exits 2. Knobs for tests:
GITOPS_FAKE_STATUS (created, updated, noop), GITOPS_FAKE_FAIL=1 (exit 1),
GITOPS_FAKE_GARBAGE=1 (not JSON on stdout).

The end-to-end test runs the real CLI against the sandbox instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

APP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGE = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gitops-helper")
    commands = parser.add_subparsers(dest="command", required=True)
    promote = commands.add_parser("promote")
    promote.add_argument("--app", required=True)
    promote.add_argument("--image", required=True)
    promote.add_argument("--tag", required=True)
    promote.add_argument("--digest")
    promote.add_argument("--app-repo", default=".")
    promote.add_argument("--env", default="dev")
    promote.add_argument("--project", default="platform/k8s-deployments")
    promote.add_argument("--gitlab-url")
    promote.add_argument("--dry-run", action="store_true")
    promote.add_argument("--json", action="store_true")
    return parser


def _bad_input(message: str, hint: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    print(f"hint: {hint}", file=sys.stderr)
    return 2


def _record(argv: Sequence[str]) -> None:
    path = os.environ.get("GITOPS_FAKE_RECORD")
    if not path:
        return
    keep = {k: v for k, v in os.environ.items() if k.startswith(("GITOPS_", "GITLAB_"))}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"argv": list(argv), "env": keep}) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `promote` as the real CLI would answer it, without touching GitLab."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _record(argv)
    args = _parser().parse_args(argv)
    checks = [
        (APP.match(args.app), f"invalid app name {args.app!r}", "use the name from apps/"),
        (IMAGE.match(args.image), f"invalid image {args.image!r}", "a repository, no tag"),
        (TAG.match(args.tag), f"invalid tag {args.tag!r}", "a Docker tag: [A-Za-z0-9_.-]"),
        (args.digest is None or DIGEST.match(args.digest), "invalid digest", "sha256:<64 hex>"),
    ]
    for ok, message, hint in checks:
        if not ok:
            return _bad_input(message, hint)
    url = args.gitlab_url or os.environ.get("GITLAB_URL")
    if not url:
        return _bad_input("no GitLab URL", "set GITLAB_URL or pass --gitlab-url")
    if not os.environ.get("GITLAB_TOKEN"):
        return _bad_input("no GitLab token", "set GITLAB_TOKEN")
    print(f"promote: {args.app} {args.tag} -> {args.env} (fake)", file=sys.stderr)
    if os.environ.get("GITOPS_FAKE_FAIL"):
        print(f"error: GitLab refused the push to {args.project}", file=sys.stderr)
        print("hint: check the token's scopes (api, write_repository)", file=sys.stderr)
        return 1
    if os.environ.get("GITOPS_FAKE_GARBAGE"):
        print("Traceback (most recent call last): not JSON")
        return 0
    status = os.environ.get("GITOPS_FAKE_STATUS", "created")
    iid = None if status == "noop" or args.dry_run else 12
    result = {
        "status": status,
        "mr_iid": iid,
        "mr_url": f"{url.rstrip('/')}/{args.project}/-/merge_requests/{iid}" if iid else None,
        "branch": f"promote/{args.env}/{args.app}",
        "project": args.project,
        "env": args.env,
        "app": args.app,
        "tag": args.tag,
        "changed_files": [] if status == "noop" else [f"services/apps/{args.app}.cue", "env.cue"],
    }
    print(json.dumps(result) if args.json else f"{status}: {result['mr_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
