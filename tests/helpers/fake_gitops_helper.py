"""A stand-in for the `gitops-helper` commands the steps of vars/ run, for their Groovy tests only.

Those commands: promote, promote-env, set, rollback, revert and decommission.

It parses the same options as the real commands (a contract test,
tests/test_fake_cli_contract.py, keeps them equal), records what it received as one
JSON line per call in the file named by GITOPS_FAKE_RECORD, and answers as the CLI
does: exit 0/1/2, one JSON object on stdout with --json. It validates nothing
itself: the real CLI's checks are tested where they live. Knobs for tests:
  GITOPS_FAKE_STATUS     promote, set, rollback, revert, decommission: created
                         (default), updated or noop
  GITOPS_FAKE_DECOMMISSION  decommission: remove (default: an MR removes the app
                         from prod, then stage, dev, main), cleanup or done
  GITOPS_FAKE_WARNING    set, rollback: one warning in the answer
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
    """The real CLI's options of those commands (names only: values are not checked)."""
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
    set_values = commands.add_parser("set")
    rollback = commands.add_parser("rollback")
    for command in (set_values, rollback):
        command.add_argument("--env", required=True)
        command.add_argument("--app", required=True)
    for option in ("--image-tag", "--digest"):
        set_values.add_argument(option)
    set_values.add_argument("--set", dest="values", action="append", default=[])
    set_values.add_argument("--no-promote", action="store_true")
    rollback.add_argument("--to", required=True)
    revert = commands.add_parser("revert")
    revert.add_argument("--env", required=True)
    revert.add_argument("--commit", default="last")
    decommission = commands.add_parser("decommission")
    decommission.add_argument("--app", required=True)
    decommission.add_argument("--repo")
    operator = (set_values, rollback, revert, decommission)
    for command in operator:
        for option in ("--project", "--gitlab-url"):
            command.add_argument(option)
    for command in (promote, promote_env, *operator):
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
    answer = {
        "promote": _promote,
        "promote-env": _promote_env,
        "set": _edit,
        "rollback": _edit,
        "revert": _revert,
        "decommission": _decommission,
    }[args.command]
    return answer(args, url.rstrip("/"), project)


def _merge_request(
    args: argparse.Namespace, url: str, project: str, branch: str
) -> dict[str, object]:
    """The keys every one-MR answer has: the status and the MR (none in a dry run; a
    noop names the open MR that already does it), as the real results' `Outcome`."""
    status = os.environ.get("GITOPS_FAKE_STATUS", "created")
    iid = None if args.dry_run else 12
    return {
        "status": status,
        "project": project,
        "mr_iid": iid,
        "mr_url": f"{url}/{project}/-/merge_requests/{iid}" if iid else None,
        "branch": branch,
        "superseded": [],
        "dry_run": args.dry_run,
        "moved_by": None,
    }


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


def _edit(args: argparse.Namespace, url: str, project: str) -> int:
    """`set` or `rollback`: the image after (example-app's registry) and the values set."""
    rollback = args.command == "rollback"
    tag = ("1.0.41" if args.to == "previous" else args.to) if rollback else args.image_tag
    image = f"registry.example.com/{args.app}"
    result = {
        **_merge_request(args, url, project, f"{args.command}/{args.env}/{args.app}"),
        "env": args.env,
        "app": args.app,
        "image": f"{image}:{tag}" if tag else None,
        "old_image": f"{image}:1.0.42" if tag else None,
        "settings": [] if rollback else _settings(args.values, tag),
        "promotes": bool(tag) and not rollback and not args.no_promote,
        "warnings": [os.environ["GITOPS_FAKE_WARNING"]]
        if os.environ.get("GITOPS_FAKE_WARNING")
        else [],
    }
    print(json.dumps(result) if args.json else f"{result['status']}: {result['mr_url']}")
    return 0


def _settings(values: list[str], tag: str | None) -> list[dict[str, object]]:
    """Each value set, then the image tag as a value, in the real CLI's order."""
    pairs = [value.partition("=")[::2] for value in values]
    if tag:
        pairs.append(("deployment.image.tag", tag))
    return [{"path": path, "before": None, "after": after} for path, after in pairs]


def _revert(args: argparse.Namespace, url: str, project: str) -> int:
    commit = "0123456789abcdef0123456789abcdef01234567" if args.commit == "last" else args.commit
    result = {
        **_merge_request(args, url, project, f"revert/{args.env}/{commit[:12]}"),
        "env": args.env,
        "commit": commit,
        "reverted_mr": 7,
        "closed": [] if args.dry_run else [13],
    }
    print(json.dumps(result) if args.json else f"{result['status']}: {result['mr_url']}")
    return 0


def _decommission(args: argparse.Namespace, url: str, project: str) -> int:
    step = os.environ.get("GITOPS_FAKE_DECOMMISSION", "remove")
    base = {
        "app": args.app,
        "project": project,
        "step": step,
        "app_repo": args.repo,
        "dry_run": args.dry_run,
    }
    if step == "remove":
        result = {
            **_merge_request(args, url, project, "prod"),
            **base,
            "remaining": ["prod", "stage", "dev", "main"],
            "closed": [],
            "jenkins_job": None,
            "hooks_deleted": 0,
        }
    else:
        job = (
            "deleted"
            if step == "done"
            else "left: JENKINS_URL, JENKINS_USER and JENKINS_TOKEN are not set"
        )
        result = {
            **base,
            "branch": None,
            "status": None,
            "mr_iid": None,
            "mr_url": None,
            "superseded": [],
            "moved_by": None,
            "remaining": [],
            "closed": [],
            "jenkins_job": job,
            "hooks_deleted": 1 if step == "done" else 0,
        }
    print(json.dumps(result) if args.json else f"{step}: {result['mr_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
