"""`python -m gitops_sandbox up`: run the sandbox in the foreground until Ctrl-C.

The sandbox has its own small command line (argparse: it depends on nothing of the
tool); `gitops-helper sandbox up` runs this as a child process, as it would start
any other server. The token comes from SANDBOX_TOKEN, never from the command line
(where `ps` would show it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gitops_sandbox.errors import SandboxError
from gitops_sandbox.serve import serve_forever

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - the documented demo credential
MIN_TOKEN_CHARS = 8


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve; exit 0 on Ctrl-C, 1 on a failure, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m gitops_sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the sandbox, seeded on first start")
    up.add_argument("--dir", type=Path, help="state directory (default: a new temp dir)")
    up.add_argument("--port", type=int, default=8929, help="port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)
    token = os.environ.get("SANDBOX_TOKEN") or DEFAULT_TOKEN
    if len(token) < MIN_TOKEN_CHARS:
        print(f"error: SANDBOX_TOKEN needs {MIN_TOKEN_CHARS} characters or more", file=sys.stderr)
        return 2
    try:
        serve_forever(args.dir, args.port, token, lambda text: print(text, flush=True))
    except SandboxError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
