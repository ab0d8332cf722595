"""The trailer: what a promotion MR moves, as JSON in an HTML comment ending its description.

It is the contract between the commands that open promotion MRs and the webhook
that acts on them once merged (docs/PROMOTION.md): change it only together with
that document and a new `version` (a new optional key, which older readers ignore,
needs none). The webhook imports only this module to read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion.model import ImageRef

TRAILER_VERSION = 1
TRAILER_TAG = "gitops-promotion"
_TRAILER = re.compile(r"<!--\s*" + TRAILER_TAG + r"\s+(\{.*?\})\s*-->", re.DOTALL)


# What an MR moves: one app, the platform layer, main's changes (platform and app
# layers) on their way to the first environment, or a named group of apps; or an
# operation on one environment: settings (`set`), a rollback, a revert, onboarding
# or decommissioning an app.
Unit = Literal[
    "app", "platform", "sync", "group", "settings", "rollback", "revert", "onboard", "decommission"
]
UNITS: tuple[Unit, ...] = (
    "app",
    "platform",
    "sync",
    "group",
    "settings",
    "rollback",
    "revert",
    "onboard",
    "decommission",
)
PROMOTIONS: tuple[Unit, ...] = ("app", "platform", "sync", "group")


class TrailerError(UserError):
    """A promotion trailer is present but not one we can read."""


@dataclass(frozen=True)
class Hop:
    """A merged MR that carried an app's image one environment further."""

    env: str  # the environment it merged into
    iid: int
    url: str


@dataclass(frozen=True)
class Provenance:
    """Where an app's image came from: the build, the app commit, and each MR that carried
    it since (oldest first). Copied from a trusted upstream trailer only (provenance.py)."""

    build_url: str | None = None
    app_repo: str | None = None
    app_commit: str | None = None
    merge_requests: tuple[Hop, ...] = ()


@dataclass(frozen=True)
class Trailer:
    """What a promotion MR moves, machine-readable: the webhook acts on this after the merge."""

    target_env: str
    apps: dict[str, ImageRef]  # every app the MR moves, with its image in target_env after it
    unit: Unit = "app"
    source_env: str | None = None  # None: from an app's CI (or main), not another environment
    source_commit: str | None = None  # the source branch's commit the content came from
    platform: bool = False  # the MR moves the platform layer
    skipped: tuple[str, ...] = ()  # environments skipped on the way (promote-env --skip-env)
    app_repo: str | None = None
    app_commit: str | None = None
    app_layer_sha256: str | None = None
    build_url: str | None = None  # the CI build that promoted it (from an app's CI)
    app: str | None = None  # the app an operation is about (set, rollback, onboard...)
    group: str | None = None  # the group a `group` unit moves
    # Per app: the build and MRs behind its image; optional (omitted when empty), so
    # readers of version 1 that do not know it ignore it.
    provenance: dict[str, Provenance] = field(default_factory=dict)
    version: int = TRAILER_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["apps"] = {name: asdict(image) for name, image in sorted(self.apps.items())}
        data["skipped"] = list(self.skipped)
        data.pop("provenance")
        if self.provenance:
            data["provenance"] = {
                name: asdict(p) | {"merge_requests": [asdict(h) for h in p.merge_requests]}
                for name, p in sorted(self.provenance.items())
            }
        return data

    def to_comment(self) -> str:
        """The HTML comment (invisible in GitLab) that ends the MR description."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(", ", ": "))
        # JSON escapes for <, > and &: nothing inside can close the comment early.
        for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
            text = text.replace(char, escaped)
        return f"<!-- {TRAILER_TAG} {text} -->"


def parse_trailer(description: str | None) -> Trailer | None:
    """The trailer of an MR description (the last one if edited in twice); None without one."""
    found = _TRAILER.findall(description or "")
    if not found:
        return None
    try:
        data = json.loads(found[-1])
    except json.JSONDecodeError as e:
        raise TrailerError(f"the {TRAILER_TAG} trailer is not valid JSON: {e}") from e
    return _trailer(data)


def _trailer(data: Any) -> Trailer:
    if not isinstance(data, dict):
        raise TrailerError(f"the {TRAILER_TAG} trailer is not a JSON object")
    if data.get("version") != TRAILER_VERSION:
        raise TrailerError(
            f"{TRAILER_TAG} trailer version {data.get('version')!r} is not supported "
            f"(this gitops-helper reads version {TRAILER_VERSION})",
            "upgrade gitops-helper to the version that wrote the merge request",
        )
    apps = data.get("apps")
    platform = data.get("platform", False)
    unit = data.get("unit")
    if unit not in UNITS:
        raise TrailerError(f"the {TRAILER_TAG} trailer's unit is {unit!r}, expected one of {UNITS}")
    if not isinstance(apps, dict) or not isinstance(platform, bool):
        raise TrailerError(f"the {TRAILER_TAG} trailer's apps or platform is malformed")
    if unit in PROMOTIONS and not (apps or platform):
        raise TrailerError(f"the {TRAILER_TAG} trailer moves nothing (no `apps`, no `platform`)")
    skipped = data.get("skipped", [])
    if not isinstance(skipped, list):
        raise TrailerError(f"the {TRAILER_TAG} trailer's skipped is {skipped!r}, expected a list")
    return Trailer(
        target_env=_text(data, "target_env"),
        apps={_str(name, "apps key"): _image(name, image) for name, image in apps.items()},
        unit=unit,
        source_env=_text(data, "source_env", optional=True),
        source_commit=_text(data, "source_commit", optional=True),
        platform=platform,
        skipped=tuple(_str(env, "skipped") for env in skipped),
        app_repo=_text(data, "app_repo", optional=True),
        app_commit=_text(data, "app_commit", optional=True),
        app_layer_sha256=_text(data, "app_layer_sha256", optional=True),
        build_url=_text(data, "build_url", optional=True),
        app=_text(data, "app", optional=True),
        group=_text(data, "group", optional=True),
        provenance=_provenance(data.get("provenance")),
    )


def _provenance(data: Any) -> dict[str, Provenance]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrailerError(f"the {TRAILER_TAG} trailer's provenance is not an object")
    found = {}
    for name, entry in data.items():
        hops = entry.get("merge_requests", []) if isinstance(entry, dict) else None
        if not isinstance(hops, list):
            raise TrailerError(f"the {TRAILER_TAG} trailer's provenance.{name} is malformed")
        found[_str(name, "provenance key")] = Provenance(
            build_url=_text(entry, "build_url", optional=True),
            app_repo=_text(entry, "app_repo", optional=True),
            app_commit=_text(entry, "app_commit", optional=True),
            merge_requests=tuple(_hop(name, hop) for hop in hops),
        )
    return found


def _hop(name: str, hop: Any) -> Hop:
    iid = hop.get("iid") if isinstance(hop, dict) else None
    if not isinstance(iid, int) or isinstance(iid, bool) or iid < 1:
        raise TrailerError(f"the {TRAILER_TAG} trailer's provenance.{name} has a bad MR iid")
    return Hop(env=_text(hop, "env"), iid=iid, url=_text(hop, "url"))


def _image(name: str, image: Any) -> ImageRef:
    if not isinstance(image, dict):
        raise TrailerError(f"the {TRAILER_TAG} trailer's apps.{name} is not an object")
    return ImageRef(
        repository=_text(image, "repository"),
        tag=_text(image, "tag"),
        digest=_text(image, "digest", optional=True),
    )


def _text(data: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    return _str(value, key)


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise TrailerError(f"the {TRAILER_TAG} trailer's {key} is {value!r}, expected a string")
    return value
