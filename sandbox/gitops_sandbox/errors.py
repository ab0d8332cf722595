"""The sandbox's error types: HTTP-shaped, because the sandbox only speaks HTTP.

Service code raises `ApiError` with the exact status and body GitLab would send;
the app turns it into a JSON response. Git failures are `GitError`, a bug or an
unexpected repository state, which the app answers with a 500.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: `status` and the JSON `body` GitLab documents for it."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def not_found(what: str | None = None) -> ApiError:
    """GitLab's `not_found!(resource)`: `{"message": "404 <What> Not Found"}`."""
    return ApiError(404, {"message": f"404 {what} Not Found" if what else "404 Not found"})


def unauthorized() -> ApiError:
    """GitLab's `unauthorized!`: no valid token, or (merge) not allowed to accept the MR."""
    return ApiError(401, {"message": "401 Unauthorized"})


def forbidden(reason: str | None = None) -> ApiError:
    """GitLab's `forbidden!(reason)`: `{"message": "403 Forbidden"}`, the reason appended."""
    return ApiError(403, {"message": f"403 Forbidden - {reason}" if reason else "403 Forbidden"})


def bad_request(message: Any) -> ApiError:
    """A 400 with GitLab's `{"message": ...}` shape."""
    return ApiError(400, {"message": message})


def missing(*names: str) -> ApiError:
    """Grape's answer when required parameters are absent: `{"error": "x is missing"}`."""
    return ApiError(400, {"error": ", ".join(f"{name} is missing" for name in names)})


class GitError(Exception):
    """A git command failed; the message names the command and its stderr."""


class SandboxError(Exception):
    """Seeding or starting the sandbox failed; `message` and `hint` say what to check.

    Shaped like the CLI's user errors (message, hint, exit code 1) without
    importing them: the sandbox depends on nothing of the tool it stands in for.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
