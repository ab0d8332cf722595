"""The error types the CLI turns into exit codes and messages.

Library code raises these; `cli.py` is the only place that prints them.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: a failed operation (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInput(UserError):
    """An invalid value given on the command line or in a payload (exit 2)."""

    exit_code = 2


class TransientError(UserError):
    """A failure that may pass by itself: GitLab answering 5xx or not at all, a git
    server timing out, a branch moved by a concurrent run. The webhook retries these
    with backoff; on the command line they are an ordinary failure (exit 1): rerun."""
