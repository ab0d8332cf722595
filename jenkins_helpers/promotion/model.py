"""The promotion vocabulary: images, app versions, kept settings and outcomes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Self

# What became of one proposed change; every operation's result reports one of these.
Status = Literal[
    "created",  # a new MR opened (dry run: would be)
    "updated",  # the open MR of the same branch rewritten in place
    "noop",  # nothing to do: the target, or an open MR, already has the change
    "superseded",  # a build older than what a pending MR proposes (or moved by another run)
    "blocked",  # the change would not evaluate or validate on the target: no MR
    "closed",  # refresh: the MR was closed, its target already has what it carries
    "skipped",  # refresh: the MR was left alone (not the tool's, or its branch lacks an image)
]


@dataclass(frozen=True)
class ImageRef:
    """A container image as env.cue pins it: repository, tag and optional digest."""

    repository: str
    tag: str
    digest: str | None = None

    @property
    def ref(self) -> str:
        """`repository:tag[@digest]`, exactly as the rendered Deployment names it."""
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        """`registry:5000/team/app:1.2@sha256:...` as repository, tag and digest (a port's
        colon is not a tag's: only the last path component can carry the tag)."""
        name, _, digest = ref.partition("@")
        last = name.rsplit("/", 1)[-1]
        repository, tag = name.rsplit(":", 1) if ":" in last else (name, "")
        return cls(repository, tag, digest or None)


@dataclass(frozen=True)
class AppVersion:
    """An app as a build or an environment has it: what a promotion copies into the target."""

    app: str
    app_file: str  # the text of services/apps/<app>.cue
    image: ImageRef


@dataclass(frozen=True)
class Setting:
    """One env.cue value a promotion keeps, for the MR's 'kept' table."""

    path: str  # e.g. resources.limits.cpu
    value: Any
    scope: str  # where it is set: `apps."x".env` or `environment.defaults`


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What became of one proposed change: what `publish` returns, and the base of every
    operation's result, so each reports status, branch and MR under the same names."""

    status: Status
    branch: str | None = None  # the MR's source branch; None: nothing proposed, no branch
    mr_iid: int | None = None
    mr_url: str | None = None
    superseded: tuple[int, ...] = ()  # other open MRs of the same unit, closed (dry run: to close)
    dry_run: bool = False
    moved_by: str | None = None  # another run's commit on the branch, which the MR now describes

    @classmethod
    def of(cls, outcome: Outcome, **fields: Any) -> Self:
        """A richer result built on `outcome` (what `publish` did): its fields, then
        `fields`, which add the operation's own and may override one (e.g. `status`)."""
        own = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(Outcome)}
        return cls(**(own | fields))
