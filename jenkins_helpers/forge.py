"""The forge the promotion chain talks to: exactly the operations it uses, as a Protocol.

Why a protocol: the chain's decisions (what follows a merge, which trailer counts,
which open MRs to refresh or close, what reconcile finds missing) are tested
against an in-memory forge holding real git repositories
(tests/helpers/fakeforge.py), in milliseconds and without a server. GitLab
(gitlab.py, through python-gitlab) is the one production implementation; mypy
checks there that it satisfies this protocol. `promotion` depends on `Forge`,
never on the concrete class (only `target.connect` constructs a `GitLab`).

The plain data the operations return live here too, so a forge needs nothing of
python-gitlab; gitlab.py re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True)
class Access:
    """Where the forge is and the token that reaches it."""

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Project:
    path: str
    id: int
    http_url_to_repo: str
    web_url: str
    default_branch: str


@dataclass(frozen=True)
class MergeRequest:
    iid: int
    url: str
    title: str
    source_branch: str
    target_branch: str
    labels: tuple[str, ...]
    state: str
    description: str
    sha: str | None = None  # head commit of the source branch
    merge_commit_sha: str | None = None  # once merged (null for some merge methods)
    merged_at: str | None = None  # ISO 8601, once merged
    author_id: int | None = None  # who opened it (trailers count only from our own user)
    squash_commit_sha: str | None = None  # squashed and fast-forwarded: the squash commit

    @property
    def merged_commit(self) -> str | None:
        """The commit the merge put on the target branch; None until merged.

        GitLab's merge methods differ: a merge commit (`merge_commit_sha`); squash and
        fast-forward (`merge_commit_sha` null, `squash_commit_sha` set); fast-forward
        alone (both null: the target now points at the source's head, `sha`). GitLab
        reads its own merged commit the same way (MergeRequest#merged_commit_sha).
        """
        if self.state != "merged":
            return None
        return self.merge_commit_sha or self.squash_commit_sha or self.sha


@dataclass(frozen=True)
class Deployment:
    """A deployment GitLab recorded: `ref` and `sha` deployed to `environment` (a name)."""

    id: int
    iid: int
    environment: str
    ref: str
    sha: str
    status: str  # created, running, success, failed, canceled, ...


@dataclass(frozen=True)
class ForgeEnvironment:
    """An environment on GitLab's Environments page: its id, tier and page."""

    id: int
    name: str
    tier: str | None
    web_url: str  # the environment's page: <project web_url>/-/environments/<id>


# The events a project webhook can be told to send (those the tool sets up).
HookEvent = Literal["merge_requests", "push"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("merge_requests", "push")


@dataclass(frozen=True)
class Hook:
    id: int
    url: str
    events: tuple[HookEvent, ...]
    ssl_verification: bool


class Forge(Protocol):
    """A GitLab as the promotion package and the webhook use it (gitlab.GitLab's
    docstrings say what each operation does)."""

    @property
    def access(self) -> Access:
        """The server and token (git clones and pushes with it)."""
        ...

    def user_id(self) -> int: ...

    def project(self, path: str) -> Project: ...

    def file_text(self, path: str, file_path: str, ref: str) -> str | None: ...

    def merge_requests(
        self,
        path: str,
        *,
        labels: Sequence[str],
        target_branch: str | None,
        state: str = "opened",
        newest: int | None = None,
    ) -> list[MergeRequest]: ...

    def blob_ids(
        self, path: str, ref: str, under: str = "", *, recursive: bool = True
    ) -> dict[str, str]: ...

    def create_merge_request(
        self,
        path: str,
        *,
        source: str,
        target: str,
        title: str,
        description: str,
        labels: Sequence[str],
    ) -> tuple[MergeRequest, bool]: ...

    def update_merge_request(
        self, path: str, iid: int, *, title: str, description: str, labels: Sequence[str]
    ) -> MergeRequest: ...

    def merge_request(self, path: str, iid: int) -> MergeRequest: ...

    def merge_request_paths(self, path: str, iid: int) -> list[str]: ...

    def commit_parents(self, path: str, sha: str) -> list[str]: ...

    def commit_message(self, path: str, sha: str) -> str: ...

    def hooks(self, path: str) -> list[Hook]: ...

    def ensure_hook(
        self, path: str, url: str, secret: str, *, events: Sequence[HookEvent] = ("merge_requests",)
    ) -> str: ...

    def delete_hook(self, path: str, hook_id: int) -> None: ...

    def close_merge_request(self, path: str, iid: int, note: str) -> None: ...

    def add_note(self, path: str, iid: int, body: str) -> None: ...

    def is_ancestor(self, path: str, ancestor: str, descendant: str) -> bool: ...

    def branch_head(self, path: str, branch: str) -> str | None: ...

    def environments(self, path: str) -> list[ForgeEnvironment]: ...

    def deployments(self, path: str, environment: str, *, newest: int) -> list[Deployment]: ...

    def record_deployment(
        self, path: str, *, environment: str, ref: str, sha: str, tier: str | None
    ) -> Deployment: ...
