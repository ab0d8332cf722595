"""GitLab, through python-gitlab: the only module that imports `gitlab`.

It returns our own small dataclasses, retries what may succeed a moment later
(5xx answers, connection errors, timeouts) with a growing pause (the policy of
jenkins_helpers/retry.py), and turns every python-gitlab exception into a UserError
that names the project or merge request and says what to check. The token is never
put in a message.

Every request ends within GITOPS_HTTP_DEADLINE and every call, its retries and
pauses included, within GITOPS_HTTP_BUDGET (jenkins_helpers/http.py: a server that
drips its answer a byte at a time is cut off too). python-gitlab's own waits on
429 answers (up to ten, as long as Retry-After says) are turned off: a 429 is a
TransientError at once. python-gitlab's own retries (`retry_transient_errors`) stay
off: they know nothing of a call's budget (jenkins_helpers/retry.py says why).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.v4.objects import Project as _GlProject

from jenkins_helpers import __version__, http, inputs, retry, secrets
from jenkins_helpers.errors import BadInput, TransientError, UserError
from jenkins_helpers.forge import HOOK_EVENTS as HOOK_EVENTS
from jenkins_helpers.forge import Access as Access
from jenkins_helpers.forge import Deployment as Deployment
from jenkins_helpers.forge import Forge
from jenkins_helpers.forge import ForgeEnvironment as ForgeEnvironment
from jenkins_helpers.forge import Hook as Hook
from jenkins_helpers.forge import HookEvent as HookEvent
from jenkins_helpers.forge import MergeRequest as MergeRequest
from jenkins_helpers.forge import Project as Project
from jenkins_helpers.secrets import mask

T = TypeVar("T")
log = logging.getLogger(__name__)
TOKEN_HINT = "set GITLAB_TOKEN to a token with the api scope (a project or personal access token)"  # noqa: S105


def access_from_environment(
    url: str | None = None, environ: Mapping[str, str] | None = None
) -> Access:
    """The server from `url` or GITLAB_URL, the token from GITLAB_TOKEN (never a flag).

    Every missing setting is named in one error, so a new user fixes them in one go.
    """
    environ = os.environ if environ is None else environ
    url = url or environ.get("GITLAB_URL", "").strip()
    raw_token = environ.get("GITLAB_TOKEN", "")
    missing = []
    if not url:
        missing.append(
            "GITLAB_URL (or --gitlab-url): the GitLab server, e.g. https://gitlab.example.com"
        )
    if not raw_token.strip():
        missing.append(f"GITLAB_TOKEN: {TOKEN_HINT}")
    if missing:
        raise BadInput(
            "missing settings:\n  " + "\n  ".join(missing),
            "set them in the environment; on Jenkins, GITLAB_URL as a global property and "
            "the token as a Secret text credential (docs: vars/gitopsPromote.txt)",
        )
    return Access(
        inputs.server_url(url, "GitLab URL"), secrets.checked_token(raw_token, "GITLAB_TOKEN")
    )


class GitLab:
    """A GitLab server, authenticated with one token."""

    def __init__(
        self, access: Access, *, retries: bool = True, deadlines: http.Deadlines | None = None
    ) -> None:
        """`deadlines`: how long a request and a call may take (default: from the
        environment, GITOPS_HTTP_DEADLINE and GITOPS_HTTP_BUDGET)."""
        self.access = access
        self.url = access.url
        # A health check wants the answer now; everything else rides out a short outage.
        self._retries = retries
        self.deadlines = deadlines or http.Deadlines.from_environment()
        session = requests.Session()
        self._http = http.mount(session, http.DeadlineAdapter(self.deadlines.request))
        self._gl = _Gitlab(
            access.url,
            private_token=access.token,
            timeout=self.deadlines.request,
            user_agent=f"gitops-helper/{__version__}",
            session=session,
        )
        self._projects: dict[str, _GlProject] = {}
        self._user_id: int | None = None

    def close(self) -> None:
        """Close the HTTP session."""
        self._gl.session.close()

    def __enter__(self) -> GitLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def user_id(self) -> int:
        """The id of the token's own user (`GET /user`), asked once."""
        if self._user_id is None:
            self._call("reading the token's user", self._gl.auth)
            user = self._gl.user
            if user is None:
                raise UserError(f"GitLab at {self.url} did not say whose token this is")
            self._user_id = int(user.id)
        return self._user_id

    # --- projects and files -------------------------------------------------------------

    def project(self, path: str) -> Project:
        """The project at `path` (e.g. platform/k8s-deployments)."""
        p = self._project(path)
        return Project(
            p.path_with_namespace, p.id, p.http_url_to_repo, p.web_url, p.default_branch or "main"
        )

    def _project(self, path: str) -> _GlProject:
        if path not in self._projects:
            self._projects[path] = self._call(
                f"reading project {path}", lambda: self._gl.projects.get(path), project=path
            )
        return self._projects[path]

    def file_text(self, path: str, file_path: str, ref: str) -> str | None:
        """A file's content on `ref`, or None if the file does not exist there."""
        project = self._project(path)
        try:
            raw = self._call(
                f"reading {file_path} on {ref} of {path}",
                lambda: project.files.raw(file_path=file_path, ref=ref),
                missing_ok=True,
            )
        except _Missing:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    # --- merge requests -----------------------------------------------------------------

    def merge_requests(
        self,
        path: str,
        *,
        labels: Sequence[str],
        target_branch: str | None,
        state: str = "opened",
        newest: int | None = None,
    ) -> list[MergeRequest]:
        """MRs into `target_branch` (None: any) carrying all of `labels`, newest first
        (only the `newest` ones, if given: the recently merged, say)."""
        project = self._project(path)
        query: dict[str, Any] = {"state": state}
        if target_branch is not None:
            query["target_branch"] = target_branch
        if labels:
            query["labels"] = list(labels)
        if newest is None:
            query["get_all"] = True
        else:
            query |= {"per_page": newest, "page": 1, "order_by": "updated_at", "sort": "desc"}
        found = self._call(
            f"listing merge requests of {path}", lambda: project.mergerequests.list(**query)
        )
        return [_merge_request(mr) for mr in found]

    def blob_ids(
        self, path: str, ref: str, under: str = "", *, recursive: bool = True
    ) -> dict[str, str]:
        """Files below directory `under` ('': the root) at `ref`, with their blob ids
        (equal ids: equal content)."""
        project = self._project(path)
        try:
            items = self._call(
                f"listing {under or 'the root'} on {ref} of {path}",
                lambda: project.repository_tree(
                    path=under, ref=ref, recursive=recursive, get_all=True
                ),
                missing_ok=True,
            )
        except _Missing:
            return {}
        return {i["path"]: i["id"] for i in items if isinstance(i, dict) and i["type"] == "blob"}

    def create_merge_request(
        self,
        path: str,
        *,
        source: str,
        target: str,
        title: str,
        description: str,
        labels: Sequence[str],
    ) -> tuple[MergeRequest, bool]:
        """Open an MR, and say True; if one is already open for `source` (a concurrent
        run opened it first), update that one instead, and say False."""
        project = self._project(path)
        data = {
            "source_branch": source,
            "target_branch": target,
            "title": mask(title),
            "description": mask(description),
            "labels": list(labels),
            "remove_source_branch": True,
        }
        try:
            mr = self._call(
                f"opening a merge request {source} -> {target} in {path}",
                lambda: project.mergerequests.create(data),
                conflict_ok=True,
            )
        except _Conflict:
            open_ones = self._call(
                f"listing merge requests of {path}",
                lambda: project.mergerequests.list(
                    state="opened", source_branch=source, target_branch=target, get_all=True
                ),
            )
            if not open_ones:
                raise UserError(
                    f"GitLab refused to open a merge request {source} -> {target} "
                    f"in {path}: it says one exists, but none is open"
                ) from None
            updated = self.update_merge_request(
                path, open_ones[0].iid, title=title, description=description, labels=labels
            )
            return updated, False
        return _merge_request(mr), True

    def update_merge_request(
        self, path: str, iid: int, *, title: str, description: str, labels: Sequence[str]
    ) -> MergeRequest:
        """Replace an MR's title, description and labels in place (secrets masked)."""
        mr = self._project(path).mergerequests.get(iid, lazy=True)
        mr.title = mask(title)
        mr.description = mask(description)
        mr.labels = list(labels)
        self._call(f"updating merge request !{iid} of {path}", mr.save)
        return self.merge_request(path, iid)

    def merge_request(self, path: str, iid: int) -> MergeRequest:
        """One MR by its iid."""
        project = self._project(path)
        return _merge_request(
            self._call(
                f"reading merge request !{iid} of {path}", lambda: project.mergerequests.get(iid)
            )
        )

    def merge_request_paths(self, path: str, iid: int) -> list[str]:
        """Every path an MR changes (old and new names of a move)."""
        mr = self._project(path).mergerequests.get(iid, lazy=True)
        changes = self._call(f"reading the changes of merge request !{iid} of {path}", mr.changes)
        found = set()
        for change in changes.get("changes", []) if isinstance(changes, dict) else []:
            found |= {change.get("old_path"), change.get("new_path")}
        return sorted(p for p in found if isinstance(p, str))

    def commit_parents(self, path: str, sha: str) -> list[str]:
        """The parents of a commit (a merge commit's first parent is the target before it)."""
        return [str(p) for p in self._commit(path, sha).parent_ids]

    def commit_message(self, path: str, sha: str) -> str:
        """A commit's full message."""
        return str(self._commit(path, sha).message or "")

    def _commit(self, path: str, sha: str) -> Any:
        project = self._project(path)
        return self._call(f"reading commit {sha[:12]} of {path}", lambda: project.commits.get(sha))

    def hooks(self, path: str) -> list[Hook]:
        """The project's webhooks (GitLab never shows their secret tokens)."""
        project = self._project(path)
        found = self._call(f"listing the hooks of {path}", lambda: project.hooks.list(get_all=True))
        return [
            Hook(int(h.id), str(h.url), _events(h), bool(h.enable_ssl_verification)) for h in found
        ]

    def ensure_hook(
        self, path: str, url: str, secret: str, *, events: Sequence[HookEvent] = ("merge_requests",)
    ) -> str:
        """A webhook to `url` with `secret` for `events`: 'created', or 'updated' when one
        with that URL exists (its token is rewritten: GitLab cannot show the old one)."""
        project = self._project(path)
        settings: dict[str, Any] = {
            "url": url,
            "token": secret,
            **{f"{e}_events": e in events for e in HOOK_EVENTS},
            "enable_ssl_verification": url.startswith("https://"),
        }
        existing = next((h for h in self.hooks(path) if h.url == url), None)
        if existing is not None:
            hook = project.hooks.get(existing.id, lazy=True)
            for key, value in settings.items():
                setattr(hook, key, value)
            self._call(f"updating the webhook of {path}", hook.save)
            return "updated"
        self._call(f"adding a webhook to {path}", lambda: project.hooks.create(settings))
        return "created"

    def delete_hook(self, path: str, hook_id: int) -> None:
        """Remove a webhook; one already gone is gone all the same."""
        project = self._project(path)
        with contextlib.suppress(_Missing):
            self._call(
                f"deleting webhook {hook_id} of {path}",
                lambda: project.hooks.delete(hook_id),
                missing_ok=True,
            )

    def close_merge_request(self, path: str, iid: int, note: str) -> None:
        """Comment `note` on an MR (secrets masked), then close it."""
        self.add_note(path, iid, note)
        mr = self._project(path).mergerequests.get(iid, lazy=True)
        mr.state_event = "close"
        self._call(f"closing merge request !{iid} of {path}", mr.save)

    def add_note(self, path: str, iid: int, body: str) -> None:
        """Comment `body` on an MR, secrets masked (doc/api/notes.md)."""
        mr = self._project(path).mergerequests.get(iid, lazy=True)
        note = {"body": mask(body)}
        self._call(f"commenting on merge request !{iid} of {path}", lambda: mr.notes.create(note))

    # --- environments and deployments (docs.gitlab.com/api/deployments/) --------------

    def is_ancestor(self, path: str, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` is `ancestor` or has it in its history: their merge base
        is `ancestor` (doc/api/repositories.md#merge-base; 404: none)."""
        if ancestor == descendant:
            return True
        project = self._project(path)
        try:
            base = self._call(
                f"reading the merge base of {ancestor[:12]} and {descendant[:12]} of {path}",
                lambda: project.repository_merge_base([ancestor, descendant]),
                missing_ok=True,
            )
        except _Missing:
            return False
        return isinstance(base, dict) and str(base.get("id", "")) == ancestor

    def branch_head(self, path: str, branch: str) -> str | None:
        """The commit `branch` points at; None when there is no such branch."""
        project = self._project(path)
        try:
            found = self._call(
                f"reading branch {branch} of {path}",
                lambda: project.branches.get(branch),
                missing_ok=True,
            )
        except _Missing:
            return None
        return str(found.commit["id"])

    def environments(self, path: str) -> list[ForgeEnvironment]:
        """The project's environments (GitLab's Operate > Environments)."""
        project = self._project(path)
        found = self._call(
            f"listing the environments of {path}",
            lambda: project.environments.list(get_all=True),
        )
        return [_environment(project.web_url, e) for e in found]

    def deployments(self, path: str, environment: str, *, newest: int) -> list[Deployment]:
        """The `newest` deployments of `environment` (a name), newest first."""
        project = self._project(path)
        found = self._call(
            f"listing the deployments of {environment} in {path}",
            lambda: project.deployments.list(
                environment=environment, order_by="id", sort="desc", per_page=newest, page=1
            ),
        )
        return [_deployment(d) for d in found]

    def record_deployment(
        self, path: str, *, environment: str, ref: str, sha: str, tier: str | None
    ) -> Deployment:
        """A successful deployment of `sha` (on branch `ref`) to `environment`. GitLab
        creates a missing environment and guesses its tier from the name; with `tier`,
        a missing one is created with that tier first. GitLab links the merge requests
        the deployment shipped itself (a client cannot name them)."""
        project = self._project(path)
        if tier is not None and not self._has_environment(path, environment):
            with contextlib.suppress(UserError):  # created meanwhile: the deployment finds it
                self._call(
                    f"creating environment {environment} in {path}",
                    lambda: project.environments.create({"name": environment, "tier": tier}),
                )
        data = {"environment": environment, "ref": ref, "sha": sha, "tag": False}
        found = self._call(
            f"recording a deployment of {sha[:12]} to {environment} in {path}",
            lambda: project.deployments.create({**data, "status": "success"}),
        )
        return _deployment(found)

    def _has_environment(self, path: str, name: str) -> bool:
        project = self._project(path)
        found = self._call(
            f"reading environment {name} of {path}",
            lambda: project.environments.list(name=name, get_all=True),
        )
        return any(e.name == name for e in found)

    # --- errors and retries -------------------------------------------------------------

    def _call(
        self,
        what: str,
        func: Callable[[], T],
        *,
        project: str | None = None,
        missing_ok: bool = False,
        conflict_ok: bool = False,
    ) -> T:
        """Run one API call, retrying transient failures within the call's budget
        (GITOPS_HTTP_BUDGET, jenkins_helpers/retry.py); translate the rest."""

        def transient(e: Exception) -> retry.Transient:
            """5xx answers, connection errors and deadlines: worth another attempt."""
            if not isinstance(e, gitlab.exceptions.GitlabError) or isinstance(
                e, gitlab.exceptions.GitlabConnectionError
            ):
                return retry.Transient(
                    f"GitLab at {self.url} not reachable ({_unreachable_reason(e)})",
                    self._unreachable(e, what),
                )
            code = e.response_code or 0
            if code == 404 and missing_ok:
                raise _Missing from e
            if code == 409 and conflict_ok:
                raise _Conflict from e
            if code < 500:
                raise self._translate(e, what, project) from e
            return retry.Transient(
                f"GitLab answered HTTP {code}", self._translate(e, what, project)
            )

        return retry.call(
            what,
            func,
            failures=(
                requests.ConnectionError,
                requests.Timeout,
                gitlab.exceptions.GitlabConnectionError,
                gitlab.exceptions.GitlabError,
            ),
            transient=transient,
            deadlines=self.deadlines,
            deadline_hint=self._deadline_hint(),
            log=log,
            retries=self._retries,
            adapter=self._http,
        )

    def _unreachable(self, error: Exception, what: str) -> TransientError:
        """The error for a request that got no (complete) answer."""
        timed_out = isinstance(error, requests.Timeout)
        return TransientError(
            f"cannot reach GitLab at {self.url} ({_unreachable_reason(error)}) while {what}",
            self._deadline_hint() if timed_out else _unreachable_hint(self.url),
        )

    def _deadline_hint(self) -> str:
        d = self.deadlines
        return (
            "GitLab, or a proxy in front of it, answers too slowly or not at all: a request "
            f"may take {http.seconds(d.request)} s (GITOPS_HTTP_DEADLINE), a call with its "
            f"retries {http.seconds(d.call)} s (GITOPS_HTTP_BUDGET); check GitLab's status "
            "and the network, then rerun"
        )

    def _translate(
        self, e: gitlab.exceptions.GitlabError, what: str, project: str | None
    ) -> UserError:
        code = e.response_code
        if isinstance(e, gitlab.exceptions.GitlabAuthenticationError) or code == 401:
            return UserError(
                f"GitLab rejected the token (GITLAB_TOKEN) while {what}",
                f"{TOKEN_HINT}; check that it has not expired",
            )
        if code == 404 and project is not None:
            return UserError(
                f"GitLab project {project} not found at {self.url}",
                "check --project (the path in the project's URL) and that the "
                "token's user is a member of it",
            )
        if code == 403:
            return UserError(
                f"GitLab refused {what}: the token's user lacks permission",
                "give the token's user the Developer role (or higher) on the project",
            )
        detail = _message(e)
        if code == 429:
            return TransientError(
                mask(f"GitLab failed {what}: HTTP 429 {detail}".rstrip()),
                "GitLab limits the requests of this token or address: rerun in a minute",
            )
        kind = TransientError if (code or 0) >= 500 else UserError
        return kind(
            mask(f"GitLab failed {what}: HTTP {code or '?'} {detail}".rstrip()),
            "rerun; if it keeps failing, check GitLab's status" if (code or 0) >= 500 else None,
        )


# GitLab is a Forge (jenkins_helpers/forge.py): mypy checks it here, where both are known.
_: type[Forge] = GitLab


class _Gitlab(gitlab.Gitlab):
    """python-gitlab's client without its own waits on 429 answers: it sleeps for as
    long as Retry-After says, up to ten times, outside any deadline."""

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        return super().http_request(*args, **kwargs)


class _Missing(Exception):
    """A 404 the caller asked to see as 'absent'."""


class _Conflict(Exception):
    """A 409 the caller handles itself."""


def _unreachable_reason(error: BaseException) -> str:
    """Why a connection failed, in a few words (urllib3's own text is a paragraph)."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "host not found"
        if isinstance(e, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(e, http.DeadlineExceeded):
            return e.reason
        if isinstance(e, TimeoutError | requests.Timeout):
            return "timed out"
        stack += [x for x in (e.__cause__, e.__context__) if x is not None]
        stack += [a for a in e.args if isinstance(a, BaseException)]
        stack += [r for r in (getattr(e, "reason", None),) if isinstance(r, BaseException)]
    return "connection failed"


def _message(e: gitlab.exceptions.GitlabError) -> str:
    text: object = e.error_message  # a list when GitLab answers {"message": [...]}
    if isinstance(text, list | tuple):
        text = "; ".join(str(t) for t in text)
    return str(text)[:500]


def _events(hook: Any) -> tuple[HookEvent, ...]:
    return tuple(e for e in HOOK_EVENTS if getattr(hook, f"{e}_events", False))


SANDBOX_URL = "http://127.0.0.1:8929"  # `gitops-helper sandbox up`'s default address


def _unreachable_hint(url: str) -> str:
    """What to check when GitLab does not answer; the sandbox's address gets its own."""
    if url.rstrip("/") in (SANDBOX_URL, SANDBOX_URL.replace("127.0.0.1", "localhost")):
        return (
            "that is the sandbox's default address: start it with "
            "`gitops-helper sandbox up --port 8929`, then rerun"
        )
    return "check --gitlab-url / GITLAB_URL and the network; then rerun"


def _merge_request(mr: Any) -> MergeRequest:
    return MergeRequest(
        iid=int(mr.iid),
        url=str(mr.web_url),
        title=str(mr.title),
        source_branch=str(mr.source_branch),
        target_branch=str(mr.target_branch),
        labels=tuple(mr.labels or ()),
        state=str(mr.state),
        description=str(mr.description or ""),
        sha=getattr(mr, "sha", None),
        merge_commit_sha=getattr(mr, "merge_commit_sha", None),
        merged_at=getattr(mr, "merged_at", None),
        author_id=_user_id(getattr(mr, "author", None)),
        squash_commit_sha=getattr(mr, "squash_commit_sha", None),
    )


def _environment(project_url: str, env: Any) -> ForgeEnvironment:
    """An environment as the API lists it; GitLab's page for it is under the project's."""
    tier = getattr(env, "tier", None)
    return ForgeEnvironment(
        int(env.id),
        str(env.name),
        str(tier) if tier else None,
        f"{project_url}/-/environments/{int(env.id)}",
    )


def _deployment(dep: Any) -> Deployment:
    env = getattr(dep, "environment", None) or {}
    return Deployment(
        id=int(dep.id),
        iid=int(dep.iid),
        environment=str(env.get("name", "")) if isinstance(env, dict) else "",
        ref=str(dep.ref),
        sha=str(dep.sha),
        status=str(dep.status),
    )


def _user_id(user: Any) -> int | None:
    """A `UserBasic`'s id (MR author, merge user), or None when GitLab sent none."""
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        return int(user["id"])
    return None
