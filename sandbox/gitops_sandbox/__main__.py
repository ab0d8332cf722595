"""`python -m gitops_sandbox up`: run the sandbox in the foreground until Ctrl-C.

The sandbox has its own small command line (argparse: it depends on nothing of the
tool); `gitops-helper sandbox up` runs this as a child process, as it would start
any other server. The admin's token comes from SANDBOX_TOKEN, never from the
command line (where `ps` would show it); so do Jenkins credentials (`--credential
ID=ENV_VAR` names the variable holding the secret). The developer's token comes
from SANDBOX_DEVELOPER_TOKEN or `--developer-token` (an ordinary user's test
credential; the variable keeps it out of `ps` too).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from gitops_sandbox.context import DEFAULT_DEVELOPER_TOKEN
from gitops_sandbox.errors import SandboxError
from gitops_sandbox.jenkins_config import pairs
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
    up.add_argument(
        "--library",
        action="append",
        metavar="NAME=DIR",
        help="Jenkins Global Pipeline Library for @Library('NAME') _: DIR has vars/ (repeatable)",
    )
    up.add_argument(
        "--credential",
        action="append",
        metavar="ID=ENV_VAR",
        help="Jenkins Secret text credential ID, its value read from the environment "
        "variable ENV_VAR, never from the command line (repeatable; "
        "gitlab-api-token is the sandbox token unless given)",
    )
    up.add_argument(
        "--jenkins-env",
        action="append",
        metavar="NAME=VALUE",
        help="Jenkins global environment property (repeatable; GITLAB_URL is the sandbox's "
        "URL unless given)",
    )
    up.add_argument(
        "--agent-path",
        metavar="PATH",
        help="PATH of Jenkins builds (default: this Python's directory, then $PATH)",
    )
    up.add_argument("--executors", type=int, default=2, help="builds run at once (default 2)")
    up.add_argument(
        "--developer-token",
        metavar="TOKEN",
        help="the developer user's token (default: $SANDBOX_DEVELOPER_TOKEN, else "
        f"{DEFAULT_DEVELOPER_TOKEN}; the variable keeps it out of `ps`)",
    )
    up.add_argument(
        "--ready-file",
        type=Path,
        help="write the URLs as JSON to this file once ready (for programs starting it)",
    )
    up.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="stop when stdin ends: for a program that starts the sandbox with a pipe as "
        "its stdin, so that the sandbox stops when that program ends, even killed",
    )
    args = parser.parse_args(argv)
    token = os.environ.get("SANDBOX_TOKEN") or DEFAULT_TOKEN
    developer_token = (
        args.developer_token or os.environ.get("SANDBOX_DEVELOPER_TOKEN") or DEFAULT_DEVELOPER_TOKEN
    )
    problem = _token_problem(token, developer_token)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        secrets = {}
        for cred_id, var in pairs(args.credential, "--credential").items():
            if var not in os.environ:
                raise SandboxError(f"--credential {cred_id}: ${var} is not set", f"export {var}")
            secrets[cred_id] = os.environ[var]
        serve_forever(
            args.dir,
            args.port,
            token,
            lambda text: print(text, flush=True),
            developer_token=developer_token,
            libraries={k: Path(v) for k, v in pairs(args.library, "--library").items()},
            credentials=secrets,
            jenkins_env=pairs(args.jenkins_env, "--jenkins-env"),
            agent_path=args.agent_path,
            executors=args.executors,
            ready_file=args.ready_file,
            stop=_stdin_watch() if args.stop_on_stdin_eof else None,
        )
    except SandboxError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 1
    return 0


def _stdin_watch() -> threading.Event:
    """An event set once stdin reaches end-of-file: its writer (the parent) has ended.

    The kernel closes a process's pipes however it ends, SIGKILL included, so this
    needs no signal, no Linux-only prctl(PR_SET_PDEATHSIG) and no race with a parent
    that died before the child started; and the sandbox then stops as on Ctrl-C
    (builds interrupted, state written)."""
    stop = threading.Event()

    def watch() -> None:
        sys.stdin.buffer.read()  # nothing is ever written: returns at end-of-file
        stop.set()

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()
    return stop


def _token_problem(token: str, developer_token: str) -> str | None:
    """What is wrong with the two tokens, if anything: too short, or the same."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"SANDBOX_TOKEN needs {MIN_TOKEN_CHARS} characters or more"
    if len(developer_token) < MIN_TOKEN_CHARS:
        return f"the developer token needs {MIN_TOKEN_CHARS} characters or more"
    if developer_token == token:
        return "the developer token must differ from SANDBOX_TOKEN"
    return None


if __name__ == "__main__":
    sys.exit(main())
