"""`gitops-helper webhook serve`: the webhook on a local port, for development and the sandbox.

In production run it under a WSGI server with the app factory (docs/WEBHOOK.md):
    gunicorn --workers 2 --bind 0.0.0.0:8080 'webhook:create_app()'
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


def serve(
    host: str, port: int, echo: Callable[[str], None], config: dict[str, Any] | None = None
) -> None:
    """Serve the webhook until Ctrl-C or SIGTERM, its job workers in this process.

    `echo` is called once with the hook's URL, when it is listening. A host that is
    no address to listen on is bad input, before the app (and its data) is made.
    """
    _check_host(host, port)
    app = webhook.create_app(config)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    except OSError as e:
        webhook.shutdown(app)
        raise UserError(
            f"cannot listen on {host}:{port}: {e.strerror or e}", "pick another --port"
        ) from e
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="webhook-http")
    thread.start()
    echo(f"http://{host}:{server.server_port}/hooks/gitlab")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.shutdown()
        webhook.shutdown(app)
