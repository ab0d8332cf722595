"""Provenance: the build and the merge requests behind the image a promotion moves on.

A stage or prod MR links where its image came from: the Jenkins build, the app
commit, the upstream MRs. Those facts are read from the merged MR into the source
environment that put the image there, and only when trust.py trusts that MR's
trailer (the tool's own user opened it, and its merge deploys what it says): the
environment branches are the truth, MR text a hint. Anything else is "provenance
unknown", with the reason, never a guess (docs/PROMOTION.md, "Provenance").
"""

from __future__ import annotations

import functools
from dataclasses import replace

from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.forge import MergeRequest
from jenkins_helpers.promotion import merges, trust
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Hop, Provenance, Trailer, TrailerError, parse_trailer

# How many of the source environment's latest merged MRs of an app are looked at.
LOOKBACK = 20


def of_trailer(trailer: Trailer, app: str) -> Provenance:
    """What a trusted trailer says of `app`'s origin: its provenance entry; for a build's
    single-app MR written before that entry existed, its top-level build fields."""
    if app in trailer.provenance:
        return trailer.provenance[app]
    if trailer.unit == "app" and trailer.source_env is None and app in trailer.apps:
        return Provenance(trailer.build_url, trailer.app_repo, trailer.app_commit)
    return Provenance()


class Upstream:
    """The provenance of images in one source environment, for one promotion run (each
    merged MR is judged once, however many apps of a group it carried)."""

    def __init__(self, deployment: DeploymentProject, source: Environment) -> None:
        self.deployment = deployment
        self.source = source
        self._judge = functools.cache(self._verdict)

    def of(self, app: str, image: ImageRef) -> Provenance | str:
        """`app`'s provenance at `image` in the source, or why it is unknown."""
        where = self.source.name
        for mr in self._merged(app):
            claimed = _claimed(mr, app)
            if claimed is None or (claimed.tag, claimed.digest) != (image.tag, image.digest):
                continue
            verdict = self._judge(mr)
            if verdict.trailer is None:
                return (
                    f"!{mr.iid}, which brought {app} {image.tag} to {where}, is not trusted: "
                    + (verdict.ignored or "its trailer cannot be read")
                )
            found = of_trailer(verdict.trailer, app)
            hop = Hop(self.source.name, mr.iid, mr.url)
            return replace(found, merge_requests=(*found.merge_requests, hop))
        return f"no merged merge request of gitops-helper into {where} names {app} {image.tag}"

    def _merged(self, app: str) -> list[MergeRequest]:
        """The source's latest merged MRs labelled for `app`, the last merged first."""
        found = self.deployment.gl.merge_requests(
            self.deployment.project.path,
            labels=(f"app::{app}", f"env::{self.source.name}"),
            target_branch=self.source.branch,
            state="merged",
            newest=LOOKBACK,
        )
        return sorted(found, key=lambda mr: mr.merged_at or "", reverse=True)

    def _verdict(self, mr: MergeRequest) -> trust.Verdict:
        """trust.py's judgement of a merge, as the cascade makes it."""
        deployment, commit = self.deployment, mr.merged_commit
        return trust.judge_merge(
            deployment, mr, commit, lambda: merges.changed(deployment, mr.iid, commit)
        )


def _claimed(mr: MergeRequest, app: str) -> ImageRef | None:
    """The image `mr`'s trailer names for `app` (not yet trusted: a filter only)."""
    try:
        trailer = parse_trailer(mr.description)
    except TrailerError:
        return None
    return trailer.apps.get(app) if trailer is not None else None
