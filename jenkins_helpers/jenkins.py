"""Jenkins, through python-jenkins: the only module that imports `jenkins`.

The Jenkins executor hands a promotion to a parameterised job and waits for its
build; onboarding creates an app's job from a template and decommissioning deletes
it. This module gives them our own small types, retries what may succeed a moment
later, and turns python-jenkins' exceptions (which mostly carry an HTTP status
somewhere in their chain) into UserErrors that name the job and say what to check.
The retries and their budget are jenkins_helpers/retry.py's, shared with GitLab.
The token is never put in a message, and a build's console is masked.

Every request ends within GITOPS_HTTP_DEADLINE and every call, its retries and
pauses included, within GITOPS_HTTP_BUDGET: python-jenkins' session sends through
our DeadlineAdapter (jenkins_helpers/http.py), so a Jenkins, or a proxy, that drips
its answer is cut off too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import jenkins
import requests

from jenkins_helpers import http, inputs, retry, secrets
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.jenkins_jobs import job_config
from jenkins_helpers.secrets import mask

__all__ = [
    "BuildOutcome",
    "Jenkins",
    "JenkinsAccess",
    "JobChange",
    "access_from_environment",
    "job_config",
]

T = TypeVar("T")
log = logging.getLogger(__name__)
# How often a waiting build is looked at: soon at first, then every 2 s.
POLL_FIRST, POLL_MAX = 0.2, 2.0
CONSOLE_TAIL_LINES = 60
CONSOLE_TAIL_CHARS = 8000
CREDENTIALS_HINT = (
    "set JENKINS_USER to a Jenkins user and JENKINS_TOKEN to an API token of that user "
    "(Jenkins: the user's page > Security > API Token)"
)
# Characters Jenkins refuses in an item name; `/` separates folders.
_UNSAFE_NAME = set("?*\\%!@#$^&|<>[]:;")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

JobChange = Literal["created", "updated", "unchanged"]
# Elements of a config.xml holding a secret: Jenkins returns them encrypted, so their
# text says nothing about whether a job is configured as wanted.
SECRET_ELEMENTS = frozenset({"secretToken"})


@dataclass(frozen=True)
class JenkinsAccess:
    """Where Jenkins is, and the user and API token that reach it."""

    url: str
    user: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class BuildOutcome:
    """A finished build: Jenkins' result (SUCCESS, FAILURE, ABORTED, UNSTABLE, NOT_BUILT)."""

    job: str
    number: int
    result: str
    url: str
    description: str | None  # as the pipeline set it (gitopsPromoteEnv: what it promoted)
    console_tail: str  # the console's last lines, secrets masked
    # The JSON object a step printed on its marked console line (`run`'s report_marker),
    # secrets masked; None without one, or when it is not a JSON object.
    report: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.result == "SUCCESS"


def access_from_environment(values: Mapping[str, str] | None = None) -> JenkinsAccess:
    """Jenkins from JENKINS_URL, JENKINS_USER and JENKINS_TOKEN (of `values`, else the
    environment); every missing one named at once.

    Inside a Jenkins build JENKINS_URL is Jenkins' own address, as Jenkins sets it.
    """
    source = os.environ if values is None else values
    url = source.get("JENKINS_URL", "").strip()
    user = source.get("JENKINS_USER", "").strip()
    raw_token = source.get("JENKINS_TOKEN", "")
    missing = [
        text
        for value, text in (
            (url, "JENKINS_URL: the Jenkins server, e.g. https://jenkins.example.com"),
            (user, "JENKINS_USER: the Jenkins user the tool acts as"),
            (raw_token.strip(), f"JENKINS_TOKEN: an API token of JENKINS_USER; {CREDENTIALS_HINT}"),
        )
        if not value
    ]
    if missing:
        raise BadInput(
            "missing settings:\n  " + "\n  ".join(missing),
            "set them in the environment (the token never as a command-line flag)",
        )
    try:
        checked_url = inputs.server_url(url, "Jenkins URL")
    except BadInput as e:
        raise BadInput(
            e.message, "e.g. https://jenkins.example.com; the token goes in JENKINS_TOKEN"
        ) from None
    if _CONTROL.search(user):
        raise BadInput("JENKINS_USER contains control characters", "set it to the user name alone")
    return JenkinsAccess(checked_url, user, secrets.checked_token(raw_token, "JENKINS_TOKEN"))


def access_if_configured(values: Mapping[str, str] | None = None) -> JenkinsAccess | None:
    """Jenkins from `values` (else the environment) when a user or token for it is set,
    else None (for tasks that can leave their Jenkins part to a later run). JENKINS_URL
    alone does not count: Jenkins sets it in every build."""
    source = os.environ if values is None else values
    if not any(source.get(n, "").strip() for n in ("JENKINS_USER", "JENKINS_TOKEN")):
        return None
    return access_from_environment(source)


class Jenkins:
    """A Jenkins server, as one user with an API token."""

    def __init__(self, access: JenkinsAccess, *, deadlines: http.Deadlines | None = None) -> None:
        """`deadlines`: how long a request and a call may take (default: from the
        environment, GITOPS_HTTP_DEADLINE and GITOPS_HTTP_BUDGET)."""
        secrets.register(access.token)
        self.access = access
        self.url = access.url
        self.deadlines = deadlines or http.Deadlines.from_environment()
        self._server: Any = jenkins.Jenkins(
            access.url,
            username=access.user,
            password=access.token,
            timeout=self.deadlines.request,
        )
        # python-jenkins builds its own session (a WrappedSession, sent to with
        # `timeout` per socket read): every request of it goes through our adapter.
        self._http = http.mount(self._server._session, http.DeadlineAdapter(self.deadlines.request))

    def close(self) -> None:
        """Close the HTTP session (python-jenkins offers no public way to)."""
        self._server._session.close()

    def __enter__(self) -> Jenkins:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- jobs -----------------------------------------------------------------------

    def job_exists(self, name: str) -> bool:
        """Whether Jenkins has a job called `name` (`folder/job` inside a folder)."""
        name = job_name(name)
        return bool(self._call(f"looking up job {name}", lambda: self._server.job_exists(name)))

    def job_xml(self, name: str) -> str | None:
        """The job's config.xml as Jenkins keeps it; None when there is no such job."""
        name = job_name(name)
        if not self.job_exists(name):
            return None
        try:
            return str(
                self._call(
                    f"reading the configuration of job {name}",
                    lambda: self._server.get_job_config(name),
                    missing=_no_job(name, self.url),
                )
            )
        except _Missing:
            return None  # deleted meanwhile

    def job_change(self, name: str, config_xml: str) -> JobChange:
        """What `ensure_job` would do, without doing it: a dry run's answer."""
        wanted = _meaning(config_xml)
        if wanted is None:
            raise BadInput(f"the configuration for job {name} is not well-formed XML")
        current = self.job_xml(name)
        if current is None:
            return "created"
        return "unchanged" if _meaning(current) == wanted else "updated"

    def ensure_job(self, name: str, config_xml: str, *, new_secrets: bool = False) -> JobChange:
        """Create the job, or bring its configuration to `config_xml`.

        "unchanged" when Jenkins' copy already means the same: layout, the plugin
        versions Jenkins adds when it saves, and secrets (which Jenkins keeps
        encrypted) are not differences. `new_secrets`: write the config even then,
        because its secrets are new.
        """
        name = job_name(name)
        change = self.job_change(name, config_xml)
        if change == "unchanged" and new_secrets:
            change = "updated"
        if change == "created":
            self._call(
                f"creating job {name}",
                lambda: self._server.create_job(name, config_xml),
                write=True,
                missing=f"Jenkins has no folder for job {name}",
            )
        elif change == "updated":
            self._call(
                f"reconfiguring job {name}",
                lambda: self._server.reconfig_job(name, config_xml),
                write=True,
                missing=_no_job(name, self.url),
            )
        return change

    def delete_job(self, name: str) -> bool:
        """Delete the job (its builds and workspace go with it); False when there was none."""
        name = job_name(name)
        if not self.job_exists(name):
            return False
        try:
            self._call(
                f"deleting job {name}",
                lambda: self._server.delete_job(name),
                write=True,
                missing=_no_job(name, self.url),
            )
        except _Missing:
            return False  # deleted by someone else meanwhile: gone all the same
        return True

    # --- builds ---------------------------------------------------------------------

    def run(
        self,
        name: str,
        parameters: dict[str, str],
        timeout: float,
        *,
        report_marker: str | None = None,
    ) -> BuildOutcome:
        """Start a build of `name` with `parameters`, wait for it, and say how it ended.

        `timeout` (seconds) covers the wait in Jenkins' queue and the build. A build
        still queued then is cancelled; a running one is left to finish on Jenkins
        (stopping a promotion half-way is worse) and the error says where it is.
        `report_marker`: the outcome's `report` is the JSON object after the last
        console line's marker (what a step such as gitopsPromoteEnv did, as data).
        """
        name = job_name(name)
        params = build_parameters(parameters)
        deadline = time.monotonic() + timeout
        queue_id = int(
            self._call(
                f"starting a build of job {name}",
                lambda: self._server.build_job(name, params or None),
                write=True,
                missing=_no_job(name, self.url),
            )
        )
        number = self._started(name, queue_id, deadline, timeout)
        info = self._finished(name, number, deadline, timeout)
        console = self._call(
            f"reading the console of {name} #{number}",
            lambda: self._server.get_build_console_output(name, number),
        )
        return BuildOutcome(
            job=name,
            number=number,
            result=str(info["result"]),
            url=str(info.get("url") or f"{self.url}/job/{name}/{number}/"),
            description=mask(info["description"]) if info.get("description") else None,
            console_tail=console_tail(str(console)),
            report=console_report(str(console), report_marker) if report_marker else None,
        )

    def _started(self, name: str, queue_id: int, deadline: float, timeout: float) -> int:
        """The number of the build that queue item `queue_id` became."""
        why = "no reason given"
        for _ in _polls(deadline):
            item = self._call(
                f"following the queued build of job {name}",
                lambda: self._server.get_queue_item(queue_id),
            )
            if item.get("executable"):
                return int(item["executable"]["number"])
            if item.get("cancelled"):
                raise UserError(
                    f"the build of job {name} was cancelled while waiting in Jenkins' queue",
                    "see who cancelled it on the job's page, then start it again",
                )
            why = item.get("why") or "no reason given"
        self._call(
            f"cancelling the queued build of job {name}",
            lambda: self._server.cancel_queue(queue_id),
            write=True,
        )
        raise UserError(
            f"the build of job {name} did not start within {timeout:g} s "
            f"(Jenkins: {why}); it was taken out of the queue",
            "free an executor for it or raise the timeout, then run it again",
        )

    def _finished(self, name: str, number: int, deadline: float, timeout: float) -> Any:
        """The build's information once it has a result."""
        info: Any = {}
        for _ in _polls(deadline):
            info = self._call(
                f"following build #{number} of job {name}",
                lambda: self._server.get_build_info(name, number),
            )
            if not info.get("building") and info.get("result"):
                return info
        raise UserError(
            f"build #{number} of job {name} was still running after {timeout:g} s: "
            f"{info.get('url') or self.url}",
            "it goes on running on Jenkins: follow it there, or stop it there",
        )

    # --- errors and retries ---------------------------------------------------------

    def _call(
        self,
        what: str,
        func: Callable[[], T],
        *,
        write: bool = False,
        missing: str | None = None,
    ) -> T:
        """Run one python-jenkins call, retrying transient failures; translate the rest.

        A read is retried on connection errors, timeouts and 5xx answers. A write
        only when Jenkins cannot have acted on it (connection refused, 503): a
        second build or job must not come from a retry. All within the call's
        budget (GITOPS_HTTP_BUDGET), as jenkins_helpers/retry.py does it.
        """

        def transient(e: Exception) -> retry.Transient:
            failure = _Failure.of(e)
            if failure.status == 404 and missing is not None:
                raise _Missing(
                    missing, "check the name; jobs are created as docs/JENKINS.md says"
                ) from e
            if not failure.transient(write):
                raise self._translate(failure, what, e) from e
            return retry.Transient(failure.describe(self.url), self._translate(failure, what, e))

        return retry.call(
            what,
            func,
            failures=(jenkins.JenkinsException, requests.RequestException),
            transient=transient,
            deadlines=self.deadlines,
            deadline_hint=self._deadline_hint(),
            log=log,
            adapter=self._http,
        )

    def _translate(self, failure: _Failure, what: str, error: BaseException) -> UserError:
        user = self.access.user
        if failure.unreachable:
            return UserError(
                f"cannot reach Jenkins at {self.url} ({failure.unreachable}) while {what}",
                self._deadline_hint()
                if failure.timed_out
                else "check JENKINS_URL and the network; then rerun",
            )
        if failure.status == 401:
            return UserError(
                f"Jenkins rejected user {user} and its token (JENKINS_USER, JENKINS_TOKEN) "
                f"while {what}",
                f"{CREDENTIALS_HINT}; check that the token has not been revoked",
            )
        if failure.status == 403:
            return UserError(
                f"Jenkins refused {what}: user {user} lacks the permission",
                f"give {user} Overall/Read and, on the job, Job/Read, Build, Configure, "
                "Create and Delete as the task needs",
            )
        if failure.status is None:
            text = str(error).strip()
            detail = text.splitlines()[0] if text else type(error).__name__
            return UserError(mask(f"Jenkins failed {what}: {detail}"))
        return UserError(
            mask(f"Jenkins failed {what}: HTTP {failure.status} {failure.detail}".rstrip()),
            "rerun; if it keeps failing, check Jenkins' log"
            if failure.status >= 500
            else "check the job's name, its parameters and its configuration",
        )

    def _deadline_hint(self) -> str:
        d = self.deadlines
        return (
            "Jenkins, or a proxy in front of it, answers too slowly or not at all: a request "
            f"may take {http.seconds(d.request)} s (GITOPS_HTTP_DEADLINE), a call with its "
            f"retries {http.seconds(d.call)} s (GITOPS_HTTP_BUDGET); check Jenkins and the "
            "network, then rerun"
        )


class _Missing(UserError):
    """A 404 where the caller said what it means (no such job, no such folder)."""


@dataclass(frozen=True)
class _Failure:
    """What went wrong with one request, as far as python-jenkins lets us see."""

    status: int | None  # the HTTP status, when Jenkins answered
    detail: str  # Jenkins' short reason, for messages
    unreachable: str | None  # why there was no answer: refused, host not found...
    refused: bool
    timed_out: bool = False  # no (complete) answer in time

    @staticmethod
    def of(error: BaseException) -> _Failure:
        chain = list(_chain(error))
        response = next((r for e in chain if (r := getattr(e, "response", None)) is not None), None)
        status = int(response.status_code) if response is not None else None
        return _Failure(
            status,
            _short(response) if response is not None else "",
            _unreachable(chain),
            any(isinstance(e, ConnectionRefusedError) for e in chain),
            any(isinstance(e, jenkins.TimeoutException | requests.Timeout) for e in chain),
        )

    def transient(self, write: bool) -> bool:
        if write:
            return self.refused or self.status == 503
        return self.unreachable is not None or (self.status or 0) >= 500

    def describe(self, url: str) -> str:
        if self.unreachable:
            return f"Jenkins at {url} not reachable ({self.unreachable})"
        return f"Jenkins answered HTTP {self.status}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every error behind it (python-jenkins wraps requests' errors)."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [x for x in (e.__cause__, e.__context__) if x is not None]
        stack += [a for a in e.args if isinstance(a, BaseException)]
        stack += [r for r in (getattr(e, "reason", None),) if isinstance(r, BaseException)]


def _unreachable(chain: list[BaseException]) -> str | None:
    """Why no answer came, in a few words: the most specific reason the chain holds."""
    deadline = next((e for e in chain if isinstance(e, http.DeadlineExceeded)), None)
    if deadline is not None:
        return deadline.reason
    for kind, reason in (
        (ConnectionRefusedError, "connection refused"),
        (socket.gaierror, "host not found"),
        (ssl.SSLError, "TLS handshake failed"),
        (jenkins.TimeoutException, "timed out"),
        (requests.Timeout, "timed out"),
        (requests.ConnectionError, "connection failed"),
    ):
        if any(isinstance(e, kind) for e in chain):
            return reason
    return None


def _short(response: requests.Response) -> str:
    """Jenkins' reason for an error answer: a short plain-text body, else the status text."""
    body = (response.text or "").strip()
    if body and "<" not in body and len(body) <= 300:
        return body.splitlines()[0]
    return str(response.reason or "")


def _no_job(name: str, url: str) -> str:
    return f"Jenkins has no job {name} at {url}"


def _polls(deadline: float) -> Iterator[None]:
    """Yield until `deadline`, pausing a little longer each time (at most POLL_MAX)."""
    pause = POLL_FIRST
    while True:
        yield
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(pause, left))
        pause = min(pause * 1.5, POLL_MAX)


def job_name(value: object) -> str:
    """A job name Jenkins accepts (`folder/job` inside folders); else BadInput."""
    name = value.strip() if isinstance(value, str) else ""
    parts = name.split("/")
    bad = sorted({c for c in name if c in _UNSAFE_NAME})
    if not name or _CONTROL.search(name) or bad or any(p in ("", ".", "..") for p in parts):
        raise BadInput(
            f"invalid Jenkins job name {inputs.show(value)}",
            "a job name has no control characters nor any of ? * \\ % ! @ # $ ^ & | < > [ ] : ; "
            "(folders: folder/job)",
        )
    return name


def build_parameters(parameters: dict[str, str]) -> dict[str, str]:
    """The build's parameters, checked: names as Jenkins declares them, values as text."""
    for key, value in parameters.items():
        if not _PARAMETER.fullmatch(key) or not isinstance(value, str):
            raise BadInput(
                f"invalid build parameter {inputs.show(key)}={inputs.show(value)}",
                "parameter names are letters, digits and _; values are text (true/false too)",
            )
    return dict(parameters)


def console_tail(console: str) -> str:
    """The last lines of a build's console, secrets masked."""
    tail = "\n".join(console.rstrip("\n").splitlines()[-CONSOLE_TAIL_LINES:])
    return mask(tail[-CONSOLE_TAIL_CHARS:])


def console_report(console: str, marker: str) -> dict[str, Any] | None:
    """The JSON object after `marker` on the console's last line that carries it, masked.

    The marker may follow a prefix (a timestamp some plugins add to each line). Only
    the last marked line counts: an earlier one, or a malformed last one, is no report.
    """
    line = next((x for x in reversed(console.splitlines()) if marker in x), None)
    if line is None:
        return None
    try:
        found = json.loads(mask(line.split(marker, 1)[1]))
    except ValueError:
        log.warning("the build's %r line is not JSON: ignored", marker.strip())
        return None
    return found if isinstance(found, dict) else None


def _meaning(config_xml: str) -> object | None:
    """What a config.xml says, for comparing two: None if it is not XML."""
    try:
        root = ET.fromstring(config_xml)  # noqa: S314 - our template or Jenkins' own copy
    except ET.ParseError:
        return None
    return _element(root)


def _element(e: ET.Element) -> object:
    # `plugin="git@5.2.1"`: Jenkins adds its installed version when it saves.
    attrs = {k: (v.split("@", 1)[0] if k == "plugin" else v) for k, v in e.attrib.items()}
    text = "" if e.tag in SECRET_ELEMENTS else (e.text or "").strip()
    return (e.tag, sorted(attrs.items()), text, [_element(c) for c in e])
