"""Provenance (provenance.py): which build and MRs a stage or prod MR links, on FakeForge.

The facts come from the merged MR into the source environment that brought the image,
and only when trust.py trusts it; anything else is "provenance unknown", with why.
The description links what is known (description.py); the trailer carries it on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.git import FileChange
from jenkins_helpers.promotion import description
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.provenance import Upstream
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import (
    Hop,
    Provenance,
    Trailer,
    TrailerError,
    parse_trailer,
)
from tests.helpers.fakeforge import (
    PERSON,
    PROJECT,
    WEB,
    FakeForge,
    deployment_project,
    env_cue,
    propose,
)

START = {"a": "1.0.0", "b": "1.0.0"}
BUILD = "https://jenkins.example.com/job/a/12/"
REPO = "https://gitlab.example.com/apps/a.git"
COMMIT = "c0ffee" + "0" * 34
ORIGIN = Provenance(BUILD, REPO, COMMIT)


@pytest.fixture
def deployment(tmp_path: Path) -> DeploymentProject:
    return deployment_project(FakeForge(tmp_path), {env: START for env in ("dev", "stage", "prod")})


def image(app: str, tag: str = "1.1.0") -> ImageRef:
    return ImageRef(f"registry.example.com/{app}", tag)


def merge_into(
    deployment: DeploymentProject,
    env: str,
    tags: dict[str, str],
    trailer: Trailer,
    *,
    author: int | None = None,
) -> int:
    """An MR into `env` deploying `tags`, labelled as the tool labels it, merged."""
    assert isinstance(deployment.gl, FakeForge)
    apps = tuple(f"app::{a}" for a in sorted(trailer.apps))
    labels = ("gitops", "promotion", *apps, f"env::{env}")
    extra = {"author": author} if author is not None else {}
    files = {layout.ENV_FILE: env_cue({**START, **tags}, env)}
    mr = propose(deployment.gl, env, files, "Promote", trailer=trailer, labels=labels, **extra)
    return deployment.gl.merge(PROJECT, mr.iid).iid


def from_build(**fields: object) -> Trailer:
    """The trailer of a build's MR into dev (from_build.py) of `a` 1.1.0."""
    values: dict = {
        "target_env": "dev",
        "apps": {"a": image("a")},
        "app_repo": REPO,
        "app_commit": COMMIT,
        "build_url": BUILD,
        "provenance": {"a": ORIGIN},
    }
    return Trailer(**(values | fields))


def upstream(deployment: DeploymentProject, env: str) -> Upstream:
    return Upstream(deployment, deployment.settings.environment(env))


def url(iid: int) -> str:
    return f"{WEB}/{PROJECT}/-/merge_requests/{iid}"


def test_a_trusted_build_mr_gives_the_build_commit_and_itself(
    deployment: DeploymentProject,
) -> None:
    iid = merge_into(deployment, "dev", {"a": "1.1.0"}, from_build())
    found = upstream(deployment, "dev").of("a", image("a"))
    assert found == Provenance(BUILD, REPO, COMMIT, (Hop("dev", iid, url(iid)),))


def test_a_build_mr_of_an_older_tool_gives_its_top_level_fields(
    deployment: DeploymentProject,
) -> None:
    iid = merge_into(deployment, "dev", {"a": "1.1.0"}, from_build(provenance={}))
    found = upstream(deployment, "dev").of("a", image("a"))
    assert found == Provenance(BUILD, REPO, COMMIT, (Hop("dev", iid, url(iid)),))


@pytest.mark.parametrize(
    ("case", "tags", "author", "why"),
    [
        ("a person's MR", {"a": "1.1.0"}, PERSON, "not opened by gitops-helper's own GitLab"),
        ("the merge changed more", {"a": "1.1.0", "b": "1.1.0"}, None, "changed b, which the"),
    ],
)
def test_an_untrusted_upstream_mr_leaves_provenance_unknown(
    deployment: DeploymentProject, case: str, tags: dict[str, str], author: int | None, why: str
) -> None:
    iid = merge_into(deployment, "dev", tags, from_build(), author=author)
    found = upstream(deployment, "dev").of("a", image("a"))
    assert isinstance(found, str), case
    assert found.startswith(f"!{iid}, which brought a 1.1.0 to dev, is not trusted: ")
    assert why in found


def test_no_mr_naming_the_image_leaves_provenance_unknown(deployment: DeploymentProject) -> None:
    merge_into(deployment, "dev", {"a": "1.1.0"}, from_build())
    found = upstream(deployment, "dev").of("a", image("a", "1.2.0"))
    assert found == "no merged merge request of gitops-helper into dev names a 1.2.0"


def test_each_hop_keeps_the_build_and_adds_its_mr(deployment: DeploymentProject) -> None:
    """dev -> stage -> prod: prod's MR links the build, dev's MR and stage's MR."""
    dev = merge_into(deployment, "dev", {"a": "1.1.0"}, from_build())
    at_dev = upstream(deployment, "dev").of("a", image("a"))
    assert isinstance(at_dev, Provenance)
    to_stage = Trailer("stage", {"a": image("a")}, source_env="dev", provenance={"a": at_dev})
    stage = merge_into(deployment, "stage", {"a": "1.1.0"}, to_stage)
    found = upstream(deployment, "stage").of("a", image("a"))
    hops = (Hop("dev", dev, url(dev)), Hop("stage", stage, url(stage)))
    assert found == Provenance(BUILD, REPO, COMMIT, hops)


def test_a_group_gives_each_member_its_own(deployment: DeploymentProject) -> None:
    """A group from a build: the built app has its build; the other member only the MR."""
    group = from_build(apps={"a": image("a"), "b": image("b")}, unit="group", group="g1")
    iid = merge_into(deployment, "dev", {"a": "1.1.0", "b": "1.1.0"}, group)
    source = upstream(deployment, "dev")
    hop = (Hop("dev", iid, url(iid)),)
    assert source.of("a", image("a")) == Provenance(BUILD, REPO, COMMIT, hop)
    assert source.of("b", image("b")) == Provenance(merge_requests=hop)


# --- the trailer carries it; the description links it ------------------------------------


def test_the_trailer_carries_provenance_and_omits_it_when_empty() -> None:
    hop = Hop("dev", 3, url(3))
    trailer = Trailer(
        "stage", {"a": image("a")}, provenance={"a": Provenance(BUILD, REPO, COMMIT, (hop,))}
    )
    assert parse_trailer(trailer.to_comment()) == trailer
    assert trailer.to_json()["provenance"]["a"]["merge_requests"] == [
        {"env": "dev", "iid": 3, "url": url(3)}
    ]
    assert "provenance" not in Trailer("stage", {"a": image("a")}).to_json()


@pytest.mark.parametrize(
    "provenance",
    [[], {"a": []}, {"a": {"merge_requests": {}}}, {"a": {"merge_requests": [{"iid": "3"}]}}],
)
def test_a_malformed_provenance_is_a_trailer_error(provenance: object) -> None:
    data = Trailer("stage", {"a": image("a")}).to_json() | {"provenance": provenance}
    with pytest.raises(TrailerError, match="provenance"):
        parse_trailer(f"<!-- gitops-promotion {json.dumps(data)} -->")


def content(provenance: Provenance | str | None, **trailer: object) -> description.Content:
    digest = "sha256:" + "ab" * 32
    return description.Content(
        app="a",
        env="prod",
        image=ImageRef("registry.example.com/a", "1.1.0", digest),
        old_image=image("a", "1.0.0"),
        app_file=layout.app_file("a"),
        app_layer_diff="",
        changes=[FileChange(layout.ENV_FILE, "modified", 1, 1)],
        kept=[],
        trailer=Trailer("prod", {"a": image("a")}, source_env="stage", source_commit="d" * 40)
        if not trailer
        else Trailer("prod", {"a": image("a")}, **trailer),  # type: ignore[arg-type]
        provenance=provenance,
        project_url=f"{WEB}/{PROJECT}",
    )


def test_the_description_links_the_build_the_app_commit_and_each_mr() -> None:
    hops = (Hop("dev", 3, url(3)), Hop("stage", 5, url(5)))
    text = description.render(content(Provenance(BUILD, REPO, COMMIT, hops)))
    assert f"- Build: [{BUILD}]({BUILD})" in text
    commit = f"https://gitlab.example.com/apps/a/-/commit/{COMMIT}"
    assert f"- App commit: [`{COMMIT[:12]}`]({commit})" in text
    assert (
        "- App repository: [https://gitlab.example.com/apps/a](https://gitlab.example.com/apps/a)"
        in text
    )
    assert f"- Image digest: `sha256:{'ab' * 32}`" in text
    assert f"- Merged: [!3]({url(3)}) into dev, [!5]({url(5)}) into stage" in text
    source = f"[`{'d' * 12}`]({WEB}/{PROJECT}/-/commit/{'d' * 40})"
    assert f"from **stage** ({source}) to **prod**" in text


def test_the_description_says_unknown_and_why() -> None:
    text = description.render(content("!4, which brought a 1.1.0 to stage, is not trusted: x"))
    assert "Provenance unknown: !4, which brought a 1.1.0 to stage, is not trusted: x." in text
    assert "Build:" not in text


def test_a_skipping_mr_names_the_skip_and_its_provenance() -> None:
    hops = (Hop("dev", 3, url(3)),)
    provenance = Provenance(BUILD, "/work/apps/a", None, hops)
    text = description.render(
        content(provenance, source_env="dev", source_commit="d" * 40, skipped=("stage",))
    )
    assert "from **dev** (" in text and "to **prod**, skipping stage." in text
    assert "- App commit: unknown" in text and "- App repository: `/work/apps/a`" in text
    assert f"- Merged: [!3]({url(3)}) into dev" in text
