"""Semantic versions (semver.org 2.0): parsed, ordered, printed.

Used for cue releases (cue/versions.py) and for image tags, when an app's tags are
versions (promotion/ordering.py). Build metadata (`+...`) is ignored for ordering,
as semver says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"(?P<v>v?)(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+\S*)?"
)


@dataclass(frozen=True)
class Version:
    """A release version; `<` orders versions as semver does."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()  # pre-release identifiers: ("rc", "1") for -rc.1

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers before words.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        pre = "-" + ".".join(self.pre) if self.pre else ""
        return f"v{self.major}.{self.minor}.{self.patch}{pre}"


def parse(text: str, *, v_prefix: bool | None = None) -> Version | None:
    """`1.2.3`, `v1.2.3-rc.1` as a Version; None for anything else (`latest`, `2024-05`).

    `v_prefix`: True requires the `v` (as Go modules write versions), False forbids
    it, None takes either (image tags are written both ways).
    """
    match = _SEMVER.fullmatch(text)
    if match is None or (v_prefix is not None and bool(match["v"]) != v_prefix):
        return None
    pre = tuple(match["pre"].split(".")) if match["pre"] else ()
    return Version(int(match["major"]), int(match["minor"]), int(match["patch"]), pre)


def older(tag: str, than: str) -> bool:
    """Whether image tag `tag` is an older version than `than`: False unless both are
    versions (`latest`, `2024-05` cannot be ordered)."""
    a, b = parse(tag), parse(than)
    return a is not None and b is not None and a < b
