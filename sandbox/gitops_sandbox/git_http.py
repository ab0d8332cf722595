"""Git smart HTTP, served by `git http-backend` as a CGI, with GitLab's token auth.

Clone and push URLs are GitLab's: `http://host/<group>/<project>.git`, with HTTP
basic auth where the password is the token (user `oauth2` or any other): the
admin's or the developer's, who both may clone and push (Developer: "Push to
non-protected branches", https://docs.gitlab.com/user/permissions/). The
request body is streamed to the CGI (gunzipped here when the client compressed
it, which git does for large fetch negotiations) and its output streamed back.
Protected branches are enforced by the repository's pre-receive hook, with each
protection's push access level and the pusher's role. After a push, the sandbox compares branch
heads and emits push and MR `update` events naming the pusher.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import subprocess
import threading
import zlib
from collections.abc import Iterator
from typing import IO, Any

from flask import Blueprint, Response, request

from gitops_sandbox import gitrepo, merge_requests, projects
from gitops_sandbox.api_util import presented_token, token_user
from gitops_sandbox.context import Services, services
from gitops_sandbox.users import User

bp = Blueprint("git_http", __name__)
log = logging.getLogger(__name__)
CHUNK = 65536


def _denied() -> Response:
    return Response(
        "HTTP Basic: Access denied\n",
        status=401,
        mimetype="text/plain",
        headers={"WWW-Authenticate": 'Basic realm="GitLab"'},
    )


def _basic_user() -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            return base64.b64decode(auth[6:].strip()).decode().partition(":")[0] or "oauth2"
        except (ValueError, UnicodeDecodeError):
            pass
    return "oauth2"


@bp.route("/<path:repo>.git/info/refs", methods=["GET"])
def info_refs(repo: str) -> Response:
    """Ref advertisement (`?service=git-upload-pack` or `git-receive-pack`)."""
    return _serve(repo, "info/refs")


@bp.route("/<path:repo>.git/git-upload-pack", methods=["POST"])
def upload_pack(repo: str) -> Response:
    """Fetch and clone."""
    return _serve(repo, "git-upload-pack")


@bp.route("/<path:repo>.git/git-receive-pack", methods=["POST"])
def receive_pack(repo: str) -> Response:
    """Push (protected branches refused by the repository's pre-receive hook)."""
    return _serve(repo, "git-receive-pack")


def _serve(repo: str, rest: str) -> Response:
    # Who pushes is decided now: the events are emitted after the response streamed.
    user = token_user(presented_token())
    if user is None:
        return _denied()
    svc = services()
    with svc.state.read() as data:
        rec = projects.find(data, repo)
    if rec is None:
        return Response(
            "The project you were looking for could not be found or you don't "
            "have permission to view it.\n",
            status=404,
            mimetype="text/plain",
        )
    pushing = rest == "git-receive-pack"
    before = gitrepo.branches(svc.repo_path(rec)) if pushing else {}
    env = gitrepo.clean_env(
        {
            "GIT_PROJECT_ROOT": str(svc.state.repos_dir),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": _basic_user(),
            # Who pushes, as GitLab tells its hooks (GL_ID, GL_USERNAME, GL_PROTOCOL,
            # GL_REPOSITORY): the pre-receive hook's protected-branch checks use it.
            "GL_ID": f"user-{user.id}",
            "GL_USERNAME": user.username,
            "GL_PROTOCOL": "http",
            "GL_REPOSITORY": f"project-{rec['id']}",
            "REMOTE_ADDR": request.remote_addr or "127.0.0.1",
            "PATH_INFO": f"/{rec['path_with_namespace']}.git/{rest}",
            "QUERY_STRING": request.query_string.decode(),
            "CONTENT_TYPE": request.content_type or "",
            "REQUEST_METHOD": request.method,
            "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
        }
    )
    gzipped = request.headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip")
    proc = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin and proc.stdout and proc.stderr  # noqa: S101 - Popen with PIPEs
    errors: list[bytes] = []
    threads = [
        threading.Thread(target=_feed, args=(request.stream, proc.stdin, gzipped), daemon=True),
        threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for thread in threads:
        thread.start()
    status, headers = _read_cgi_headers(proc.stdout)

    def body() -> Iterator[bytes]:
        try:
            while chunk := proc.stdout.read1(CHUNK):  # type: ignore[union-attr]
                yield chunk
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()
            for thread in threads:
                thread.join()
            proc.stderr.close()  # type: ignore[union-attr]
            if proc.returncode:
                log.warning(
                    "git http-backend exited %s: %s",
                    proc.returncode,
                    b"".join(errors).decode(errors="replace").strip(),
                )
            if pushing:
                _after_push(svc, rec, before, user)

    return Response(body(), status=status, headers=headers, direct_passthrough=True)


def _feed(source: Any, sink: IO[bytes], gzipped: bool) -> None:
    """Copy the request body into the CGI's stdin, gunzipping it if needed."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    try:
        while chunk := source.read(CHUNK):
            sink.write(inflater.decompress(chunk) if inflater else chunk)
        if inflater:
            sink.write(inflater.flush())
    except (BrokenPipeError, OSError, zlib.error) as e:
        log.warning("request body to git http-backend cut short: %s", e)
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def _read_cgi_headers(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
    """Parse the CGI header block: `Status:` and the headers to pass on."""
    status = 200
    headers: list[tuple[str, str]] = []
    while True:
        line = stdout.readline()
        if not line or line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name.strip(), value))
    return status, headers


def _after_push(svc: Services, rec: dict[str, Any], before: dict[str, str], pusher: User) -> None:
    """Emit push and MR update events, by `pusher`, for the branches the push changed."""
    try:
        after = gitrepo.branches(svc.repo_path(rec))
        updates = {
            name: (before.get(name, gitrepo.ZERO_SHA), after.get(name, gitrepo.ZERO_SHA))
            for name in set(before) | set(after)
            if before.get(name) != after.get(name)
        }
        if updates:
            merge_requests.on_push(svc, rec, updates, pusher)
    except Exception:  # the push itself succeeded; a failed event must not hide that
        log.exception("after-push processing failed for %s", rec["path_with_namespace"])
