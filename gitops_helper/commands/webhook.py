"""`gitops-helper webhook serve`: the webhook on a local port, for development and the sandbox.

In production run it under gunicorn with the project's config: one process, whose
threads answer requests and run the jobs (docs/WEBHOOK.md, Production):
    gunicorn -c deploy/gunicorn.conf.py --bind 0.0.0.0:8080
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

import webhook
from jenkins_helpers import inputs
from jenkins_helpers.errors import BadInput, UserError

LISTEN_BACKLOG = 128  # werkzeug's own (serving.LISTEN_QUEUE)


def _check_host(host: str, port: int) -> None:
    """An address to listen on, or BadInput: a name that does not resolve (or is no
    host name at all) would fail only after the webhook had made its data."""
    inputs.host_name(host, "--host")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BadInput(
            f"--host {inputs.show(host)}: not an address to listen on ({reason})",
            "e.g. --host 127.0.0.1, or --host 0.0.0.0 for every address",
        ) from None


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request on stderr: the app logs what matters, as JSON."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port, before anything is written: a busy
    port found only by the server would leave the data directory and its queue behind."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as e:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            "pick another --port, or stop what listens there",
        ) from None
    return sock


def serve(
    host: str, port: int, echo: Callable[[str], None], config: dict[str, Any] | None = None
) -> None:
    """Serve the webhook until Ctrl-C or SIGTERM, its job workers in this process.

    `echo` is called once with the hook's URL, when it is listening. A host that is
    no address to listen on, or a port that is taken, is refused before the app (and
    its data) is made.
    """
    _check_host(host, port)
    listener = _listen(host, port)
    try:
        app = webhook.create_app(config)
        try:  # werkzeug serves a duplicate of the listening socket's descriptor
            server = make_server(
                host, port, app, threaded=True, request_handler=_QuietHandler, fd=listener.fileno()
            )
        except BaseException:
            webhook.shutdown(app)
            raise
    finally:
        listener.close()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="webhook-http")
    thread.start()
    echo(f"http://{host}:{server.port}/hooks/gitlab")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.shutdown()
        server.server_close()
        webhook.shutdown(app)
