"""Which trailers the chain acts on: its own, and after a merge only when the branch agrees.

GitLab does not display HTML comments, so no reviewer ever sees a trailer, and anyone
who can open an MR can write one. The environment branches are the truth
(docs/PROMOTION.md, "What the chain trusts"):

- a trailer counts only on an MR that the tool's own GitLab user opened (the token's
  user, `GET /user`); on anybody else's MR it is ignored, whatever it says;
- and only while the MR's head commit carries the same trailer (publish.py writes
  the MR's text into the commit it pushes): a Developer can edit the description
  of the tool's MR unseen, but not the commit under it without the MR showing it;
- after a merge, only when the merge commit deploys what it claims: each app it
  names runs the image it names there, and the merge changed no app layer, image or
  platform layer that it does not name;
- a decommission step only when the merge really removed the app from its branch.

An ignored trailer leaves an ordinary change: its units are read from what the
merge changed (cascade.py), and the reason is reported (the webhook counts it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.forge import MergeRequest
from jenkins_helpers.promotion.publish import mr_text
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer, TrailerError, parse_trailer

NOT_OURS = "the merge request was not opened by gitops-helper's own GitLab user"
EDITED = (
    "the merge request's trailer differs from the one its head commit carries "
    "(its description was edited)"
)


class Authored(Protocol):
    """An MR as far as trust goes: its text and who opened it."""

    @property
    def description(self) -> str: ...

    @property
    def author_id(self) -> int | None: ...


@dataclass(frozen=True)
class Verdict:
    """A merged MR's trailer if the chain may act on it, else why it was ignored."""

    trailer: Trailer | None
    ignored: str | None = None  # None: there was none to ignore, or it was trusted


def opened_by_tool(deployment: DeploymentProject, mr: Authored) -> bool:
    """Whether the tool's own GitLab user (the token's) opened `mr`."""
    return mr.author_id is not None and mr.author_id == deployment.gl.user_id()


def own_trailer(deployment: DeploymentProject, mr: MergeRequest) -> Trailer | None:
    """The trailer of an MR the tool's own user opened, as its head commit carries it;
    None for anyone else's MR, for none, and for one that cannot be read or was edited."""
    trailer, _ = read_proposal(deployment, mr)
    return trailer


def read_proposal(
    deployment: DeploymentProject, mr: MergeRequest
) -> tuple[Trailer | None, str | None]:
    """`read_own`, and the trailer must be the one the MR's head commit carries."""
    trailer, ignored = read_own(deployment, mr)
    if trailer is None or mr.sha is None:
        return None, ignored or (None if trailer is None else EDITED)
    text = mr_text(deployment.gl.commit_message(deployment.project.path, mr.sha))
    try:
        carried = parse_trailer(text[1]) if text else None
    except TrailerError:
        carried = None
    return (trailer, None) if carried == trailer else (None, EDITED)


def judge_merge(
    deployment: DeploymentProject,
    mr: Authored,
    merge_commit: str | None,
    changed: Callable[[], tuple[set[str], bool]],
) -> Verdict:
    """The trailer of a merged MR, if its author is the tool and its merge agrees with it.

    `changed()` gives the apps whose layer or image the merge changed and whether it
    changed the platform layer (asked only when needed: it costs API calls).
    """
    trailer, ignored = read_own(deployment, mr)
    if trailer is None:
        return Verdict(None, ignored)
    if trailer.unit == "decommission":
        return Verdict(trailer)  # judged by `removed`: the branch must lack the app
    if merge_commit is None:
        return _ignored("the merge commit is unknown, so the trailer cannot be checked")
    apps, platform = changed()
    text = deployment.gl.file_text(deployment.project.path, layout.ENV_FILE, merge_commit) or ""
    claimed = set(trailer.apps) | ({trailer.app} if trailer.app else set())
    # An app with no image there deploys nothing yet (onboarded, not promoted): its
    # app layer may travel with a sync unclaimed.
    unclaimed = sorted(a for a in apps - claimed if _image(text, a).get("tag"))
    if unclaimed:
        return _ignored(f"the merge changed {', '.join(unclaimed)}, which the trailer omits")
    if platform and not trailer.platform:
        return _ignored("the merge changed the platform layer, which the trailer omits")
    for app, image in sorted(trailer.apps.items()):
        deployed = _image(text, app)
        if (deployed.get("tag"), deployed.get("digest")) != (image.tag, image.digest):
            return _ignored(
                f"the trailer says {app} {image.tag}, the merged env.cue has "
                f"{deployed.get('tag') or 'none'}"
            )
    return Verdict(trailer)


def removed(deployment: DeploymentProject, app: str, branch: str, commit: str | None) -> bool:
    """Whether `branch` at `commit` holds nothing of `app` (no env.cue entry, no app file):
    the evidence a decommission step needs before anything is deleted."""
    if commit is None:
        return False
    gl, path = deployment.gl, deployment.project.path
    if gl.file_text(path, layout.app_file(app), commit) is not None:
        return False
    if branch == deployment.settings.main_branch:
        return True
    text = gl.file_text(path, layout.ENV_FILE, commit) or ""
    try:
        return app not in editor.child_labels(text, ("apps",))
    except editor.EditError:
        return False


def read_own(deployment: DeploymentProject, mr: Authored) -> tuple[Trailer | None, str | None]:
    """`mr`'s trailer if the tool's own user opened it; else None, and why one there was
    ignored (unreadable, or someone else's)."""
    try:
        trailer = parse_trailer(mr.description)
    except TrailerError as e:
        return None, e.message
    if trailer is None:
        return None, None
    if not opened_by_tool(deployment, mr):
        return None, NOT_OURS
    return trailer, None


def _ignored(reason: str) -> Verdict:
    return Verdict(None, reason)


def _image(env_text: str, app: str) -> dict[str, Any]:
    try:
        value = editor.get_value(env_text, ("apps", app, "env", "deployment", "image"))
    except editor.EditError:
        return {}
    return value if isinstance(value, dict) else {}
