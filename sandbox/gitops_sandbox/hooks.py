"""Webhook delivery: a queue and one worker thread, retries, and a durable record.

Why a worker: GitLab delivers from background jobs, never inside the request that
caused the event, so a receiver that calls back into the API while handling a
hook must not deadlock the sender. One worker keeps events of a project in the
order they happened.

The ids in the headers, as GitLab's webhook docs ("Delivery headers") and
app/services/web_hook_service.rb make them:

- `Idempotency-Key`: one per delivery (a hook and an event), the same on every
  retry and on a resend;
- `X-Gitlab-Webhook-UUID`: new for every request (each attempt, each resend);
- `X-Gitlab-Event-UUID`: "unique per webhook that is not recursive": new for every
  request, unless the API request that caused the event carried an
  `X-Gitlab-Event-UUID` (a receiver calling back with the header it got), whose value
  then goes to every hook that request fires (lib/gitlab/web_hooks/
  recursion_detection/uuid.rb). A hook already fired under a UUID, or a chain of 100,
  is not fired again under it ("Recursive webhooks", doc/administration/
  instance_limits.md; lib/gitlab/web_hooks/recursion_detection.rb, kept 30 minutes).

Retries happen on connection errors, timeouts, 429 and 5xx; other 4xx answers
mean a misconfigured receiver and are not retried (docs/SANDBOX.md, webhooks).
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import has_request_context, request

from gitops_sandbox.state import State, now_iso

# Deliveries kept for inspection (oldest finished ones go first), like GitLab's
# limited "Recent events" list; keeps the state file small on long demo runs.
MAX_DELIVERIES = 1000
# GitLab's recursion detection: at most this many hooks fired in one chain, each once,
# remembered this long after the chain's last request (RecursionDetection::COUNT_LIMIT,
# TOUCH_CACHE_TTL).
RECURSION_LIMIT = 100
RECURSION_TTL = 30 * 60.0
EVENT_UUID_HEADER = "X-Gitlab-Event-UUID"
# The hook record field that opts a hook into each kind of event.
EVENT_FLAGS = {
    "Merge Request Hook": "merge_requests_events",
    "Push Hook": "push_events",
    "Note Hook": "note_events",
}


class HookDispatcher:
    """Records deliveries in the state and sends them from a background thread."""

    def __init__(
        self,
        state: State,
        *,
        instance_url: Callable[[], str],
        user_agent: str,
        timeout: float = 5.0,
        retry_delays: Sequence[float] = (0.2, 0.5, 1.0),
    ) -> None:
        self._state = state
        self._instance_url = instance_url
        self._user_agent = user_agent
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Event UUID -> (hook ids fired under it, when last touched); in memory, as
        # GitLab keeps it in Redis with an expiry.
        self._chains: dict[str, tuple[set[int], float]] = {}
        self._chains_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and re-queue deliveries a previous run left pending."""
        with self._state.read() as data:
            pending = [d["id"] for d in data["deliveries"].values() if d["status"] == "pending"]
        for delivery_id in sorted(pending):
            self._queue.put(delivery_id)
        self._thread = threading.Thread(target=self._run, name="sandbox-hooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; deliveries not yet sent stay pending for the next start."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def emit(self, project_id: int, event: str, payload: dict[str, Any]) -> list[int]:
        """Record one delivery per hook of the project that wants `event`, and queue them.

        When the API request that caused the event came from a webhook (it carries
        `X-Gitlab-Event-UUID`), its deliveries carry that UUID, and a hook already fired
        in that chain is skipped: GitLab blocks recursive webhooks (and logs it only).
        """
        flag = EVENT_FLAGS[event]
        event_uuid = _request_event_uuid()
        ids = []
        with self._state.transaction() as data:
            for hook in sorted(data["hooks"].values(), key=lambda h: h["id"]):
                if hook["project_id"] != project_id or not hook.get(flag):
                    continue
                if event_uuid is not None and self._blocked(event_uuid, hook["id"]):
                    continue
                delivery_id = self._state.next_id("delivery")
                data["deliveries"][str(delivery_id)] = {
                    "id": delivery_id,
                    "hook_id": hook["id"],
                    "project_id": project_id,
                    "url": hook["url"],
                    "event": event,
                    "event_uuid": event_uuid,
                    "idempotency_key": str(uuid.uuid4()),
                    "body": payload,
                    "status": "pending",
                    "attempts": [],
                    "request_headers": {},
                    "created_at": now_iso(),
                }
                ids.append(delivery_id)
            _prune(data["deliveries"])
        for delivery_id in ids:
            self._queue.put(delivery_id)
        return ids

    def resend(self, delivery_id: int) -> bool:
        """Send a recorded delivery again, same body and `Idempotency-Key` ("Resend request")."""
        with self._state.transaction() as data:
            rec = data["deliveries"].get(str(delivery_id))
            if rec is None:
                return False
            rec["status"] = "pending"
            # A resend is a new request from a person, not from a webhook: a new event UUID.
            rec["event_uuid"] = None
        self._queue.put(delivery_id)
        return True

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is pending (tests and the demo use it to sequence events)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._state.read() as data:
                if all(d["status"] != "pending" for d in data["deliveries"].values()):
                    return True
            time.sleep(0.02)
        return False

    # ---- worker ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            delivery_id = self._queue.get()
            if delivery_id is None:
                return
            try:
                self._deliver(delivery_id)
            except Exception as e:  # a bug here must not kill hook delivery for good
                self._finish(delivery_id, "failed", {"error": f"sandbox error: {e!r}"})

    def _deliver(self, delivery_id: int) -> None:
        with self._state.read() as data:
            rec = data["deliveries"].get(str(delivery_id))
            if rec is None or rec["status"] != "pending":
                return
            hook = data["hooks"].get(str(rec["hook_id"]))
            url, body = rec["url"], json.dumps(rec["body"]).encode()
            token = (hook or {}).get("token")
        for attempt in range(len(self.retry_delays) + 1):
            if attempt and self._stopping.wait(self.retry_delays[attempt - 1]):
                return  # stopping: leave it pending for the next start
            headers = self._headers(rec, token)
            self._register(headers[EVENT_UUID_HEADER], rec["hook_id"])
            shown = {k: ("[REDACTED]" if k == "X-Gitlab-Token" else v) for k, v in headers.items()}
            result = self._post(url, headers, body)
            result["attempt"] = attempt + 1
            code = result.get("status_code")
            if code is not None and 200 <= code < 300:
                self._finish(delivery_id, "delivered", result, shown)
                return
            retryable = code is None or code == 429 or code >= 500
            if not retryable or attempt == len(self.retry_delays):
                self._finish(delivery_id, "failed", result, shown)
                return
            self._finish(delivery_id, "pending", result, shown)

    def _headers(self, rec: dict[str, Any], token: str | None) -> dict[str, str]:
        """The request headers of one attempt: a fresh `X-Gitlab-Webhook-UUID` every time,
        and a fresh `X-Gitlab-Event-UUID` unless the event came from a webhook's request."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            "X-Gitlab-Event": rec["event"],
            EVENT_UUID_HEADER: rec.get("event_uuid") or str(uuid.uuid4()),
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self._instance_url(),
            "Idempotency-Key": rec["idempotency_key"],
        }
        if token:
            headers["X-Gitlab-Token"] = token
        return headers

    def _blocked(self, event_uuid: str, hook_id: int) -> bool:
        """Whether the chain of `event_uuid` already fired this hook, or 100 hooks."""
        with self._chains_lock:
            fired, touched = self._chains.get(event_uuid, (set(), 0.0))
            if time.monotonic() - touched > RECURSION_TTL:
                return False
            return hook_id in fired or len(fired) >= RECURSION_LIMIT

    def _register(self, event_uuid: str, hook_id: int) -> None:
        """Remember that this hook fired under `event_uuid` (before its request goes out)."""
        now = time.monotonic()
        with self._chains_lock:
            for key in [k for k, (_, t) in self._chains.items() if now - t > RECURSION_TTL]:
                del self._chains[key]
            fired = self._chains.get(event_uuid, (set(), now))[0]
            fired.add(hook_id)
            self._chains[event_uuid] = (fired, now)

    def _post(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        # http.client rather than urllib: urllib re-cases header names
        # ("X-gitlab-event"), and receivers may look them up case-sensitively.
        started = time.monotonic()
        result: dict[str, Any] = {"at": now_iso(), "status_code": None, "error": None}
        parts = urlsplit(url)
        conn_cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(parts.netloc, timeout=self.timeout)
        try:
            target = parts.path or "/"
            conn.request(
                "POST",
                f"{target}?{parts.query}" if parts.query else target,
                body=body,
                headers=headers,
            )
            response = conn.getresponse()
            result["status_code"] = response.status
            result["response_body"] = response.read(2000).decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
        result["duration_ms"] = int((time.monotonic() - started) * 1000)
        return result

    def _finish(
        self,
        delivery_id: int,
        status: str,
        attempt: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._state.transaction() as data:
            rec = data["deliveries"].get(str(delivery_id))
            if rec is None:
                return
            rec["status"] = status
            rec["attempts"].append(attempt)
            if headers is not None:
                rec["request_headers"] = headers


def _request_event_uuid() -> str | None:
    """The `X-Gitlab-Event-UUID` of the API request being served, if it has one.

    GitLab reads it from every request (Gitlab::Middleware::WebhookRecursionDetection);
    only API requests cause events with it here: a git push's events come from a
    background job (PostReceive), which does not carry it.
    """
    if not has_request_context() or not request.path.startswith("/api/"):
        return None
    value = request.headers.get(EVENT_UUID_HEADER, "").strip()
    return value[:255] or None


def _prune(deliveries: dict[str, Any]) -> None:
    """Drop the oldest finished deliveries beyond MAX_DELIVERIES."""
    excess = len(deliveries) - MAX_DELIVERIES
    if excess <= 0:
        return
    finished = sorted(d["id"] for d in deliveries.values() if d["status"] != "pending")
    for delivery_id in finished[:excess]:
        del deliveries[str(delivery_id)]
