"""What follows a merge (cascade.py): which environment comes next, what stops the chain,
and which units travel: the trailer's when trust.py trusts it, else what the merge changed.

Each case merges a real commit on FakeForge (tests/helpers/fakeforge.py) and runs the
cascade with a recording `promote`: nothing is rendered, cloned or pushed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.operations.between_envs import EnvPromotion, Selection
from jenkins_helpers.operations.cascade import Cascade, Merged, cascade
from jenkins_helpers.promotion import trust
from jenkins_helpers.promotion.model import ImageRef
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer
from tests.helpers.fakeforge import (
    BOT,
    PERSON,
    PLATFORM_FILE,
    PROJECT,
    FakeForge,
    app_layer,
    deployment_project,
    env_cue,
    propose,
)

START = {"a": "1.0.0", "b": "1.0.0"}


@pytest.fixture
def deployment(tmp_path: Path) -> DeploymentProject:
    return deployment_project(FakeForge(tmp_path), {env: START for env in ("dev", "stage", "prod")})


def forge_of(deployment: DeploymentProject) -> FakeForge:
    assert isinstance(deployment.gl, FakeForge)
    return deployment.gl


def change(env: str, what: str) -> dict[str, str | None]:
    """The files a merge into `env` changes: `what` names the kind of change."""
    tags = {"image": {**START, "a": "1.1.0"}, "images": {"a": "1.1.0", "b": "1.1.0"}}
    if what in tags:
        return {layout.ENV_FILE: env_cue(tags[what], env)}
    if what == "replicas":
        return {layout.ENV_FILE: env_cue(START, env).replace("replicas: 1", "replicas: 3")}
    if what == "layer":
        return {layout.app_file("a"): app_layer("a", "port: 9090")}
    if what == "platform":
        return {PLATFORM_FILE: "package deployments\n// changed\n"}
    if what == "image+platform":
        return {**change(env, "image"), **change(env, "platform")}
    return {"README.md": "docs\n"}


def merged(
    deployment: DeploymentProject,
    target: str,
    files: Mapping[str, str | None],
    title: str = "Change",
    *,
    trailer: Trailer | None = None,
    labels: tuple[str, ...] = ("gitops",),
    author: int = PERSON,
    text: str = "",
    fast_forward: bool = False,
) -> Merged:
    """An MR into `target` changing `files`, merged; as the webhook hands it over."""
    forge = forge_of(deployment)
    mr = propose(
        forge, target, files, title, trailer=trailer, labels=labels, author=author, text=text
    )
    done = forge.merge(PROJECT, mr.iid, fast_forward=fast_forward)
    return Merged(
        done.iid,
        done.title,
        done.description,
        done.labels,
        target,
        done.merged_commit,  # the event's merge_commit_sha, else the API's (webhook/jobs.py)
        done.merged_at,
        done.author_id,
    )


def run(deployment: DeploymentProject, merge: Merged) -> tuple[Cascade, list[tuple[str, str]]]:
    """The cascade with a `promote` that records (source, target) and does nothing."""
    calls: list[tuple[str, str]] = []

    def promote(_: DeploymentProject, source: str, target: str, sel: Selection) -> EnvPromotion:
        calls.append((source, target))
        return EnvPromotion(PROJECT, source, target, "0" * 40, dry_run=False)

    return cascade(deployment, merge, promote), calls


def image(app: str, tag: str) -> ImageRef:
    return ImageRef(f"registry.example.com/{app}", tag)


# --- which environment follows which, and what stops the chain -------------------------


@pytest.mark.parametrize(
    ("target", "what", "step"),
    [
        ("dev", "image", ("dev", "stage", ("a",), False)),
        ("stage", "image", ("stage", "prod", ("a",), False)),
        ("dev", "images", ("dev", "stage", ("a", "b"), False)),
        ("dev", "layer", ("dev", "stage", ("a",), False)),
        ("dev", "platform", ("dev", "stage", (), True)),
        ("stage", "image+platform", ("stage", "prod", ("a",), True)),
        ("main", "layer", ("main", "dev", ("a",), False)),
        ("main", "platform", ("main", "dev", (), True)),
    ],
)
def test_a_merge_is_promoted_to_the_next_environment(
    deployment: DeploymentProject,
    target: str,
    what: str,
    step: tuple[str, str, tuple[str, ...], bool],
) -> None:
    result, calls = run(deployment, merged(deployment, target, change(target, what)))
    assert result.step is not None, result.stopped
    selection = result.step.selection
    assert (result.step.source, result.step.target, selection.apps, selection.platform) == step
    assert calls == [step[:2]] and result.stopped is None


@pytest.mark.parametrize(
    ("target", "what", "title", "labels", "text", "why"),
    [
        ("prod", "image", "Change", (), "", "prod is the last environment"),
        ("dev", "replicas", "Change", (), "", "changed no app layer, image or platform layer"),
        ("dev", "readme", "Change", (), "", "changed no app layer, image or platform layer"),
        ("main", "readme", "Change", (), "", "touched no platform or app layer"),
        ("dev", "image", "Pin a [no-promote]", (), "", "[no-promote] in the title"),
        ("dev", "image", "Pin a", (), "Hotfix. [no-promote]", "[no-promote] in the title or desc"),
        ("dev", "image", "Pin a", ("no-promote",), "", "the no-promote label"),
        ("stage", "image", 'Revert "Promote a 1.1.0 to stage"', (), "", "a revert"),
        ("main", "platform", "Platform [no-promote]", (), "", "[no-promote]"),
    ],
)
def test_what_stops_the_chain(
    deployment: DeploymentProject,
    target: str,
    what: str,
    title: str,
    labels: tuple[str, ...],
    text: str,
    why: str,
) -> None:
    merge = merged(deployment, target, change(target, what), title, labels=labels, text=text)
    result, calls = run(deployment, merge)
    assert result.step is None and calls == []
    assert result.stopped is not None and why in result.stopped


def test_a_merge_into_a_branch_of_no_environment_is_not_promoted(
    deployment: DeploymentProject,
) -> None:
    forge_of(deployment).commit(PROJECT, "feature", {"x": "1"}, "x", start="main")
    result, calls = run(deployment, merged(deployment, "feature", change("dev", "image")))
    assert calls == [] and result.stopped == "not promoted: feature is not an environment branch"


# --- which units travel: the trailer when trusted, else what the merge changed ----------


def promotion(apps: dict[str, str], **extra: object) -> Trailer:
    """The trailer of the tool's promotion into dev of `apps` at their tags."""
    fields: dict[str, object] = {"source_env": "main", **extra}
    return Trailer(
        target_env="dev",
        apps={app: image(app, tag) for app, tag in apps.items()},
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("case", "what", "trailer", "author", "ff", "apps", "platform", "ignored"),
    [
        ("trusted", "image", promotion({"a": "1.1.0"}), BOT, False, ("a",), False, None),
        (
            "trusted group",
            "images",
            promotion({"a": "1.1.0", "b": "1.1.0"}, unit="group", group="g1"),
            BOT,
            False,
            ("a", "b"),
            None,
            None,
        ),
        (
            "trusted platform",
            "image+platform",
            promotion({"a": "1.1.0"}, platform=True),
            BOT,
            False,
            ("a",),
            True,
            None,
        ),
        (
            "a person's MR",
            "image",
            promotion({"a": "1.1.0", "b": "1.0.0"}),
            PERSON,
            False,
            ("a",),
            False,
            trust.NOT_OURS,
        ),
        (
            "claims another tag",
            "image",
            promotion({"a": "1.2.0"}),
            BOT,
            False,
            ("a",),
            False,
            "the trailer says a 1.2.0, the merged env.cue has 1.1.0",
        ),
        (
            "omits an app",
            "images",
            promotion({"a": "1.1.0"}),
            BOT,
            False,
            ("a", "b"),
            False,
            "the merge changed b, which the trailer omits",
        ),
        (
            "omits the platform",
            "image+platform",
            promotion({"a": "1.1.0"}),
            BOT,
            False,
            ("a",),
            True,
            "the merge changed the platform layer, which the trailer omits",
        ),
        # A fast-forward merge has no merge commit: the target points at the MR's head,
        # which is what the trailer is checked against and the change read from.
        (
            "fast-forward, trusted",
            "image",
            promotion({"a": "1.1.0"}),
            BOT,
            True,
            ("a",),
            False,
            None,
        ),
        (
            "fast-forward, an image change of a person's MR",
            "image",
            promotion({"a": "1.1.0"}),
            PERSON,
            True,
            ("a",),
            False,
            trust.NOT_OURS,
        ),
        (
            "fast-forward, claims another tag",
            "image",
            promotion({"a": "1.2.0"}),
            BOT,
            True,
            ("a",),
            False,
            "the trailer says a 1.2.0, the merged env.cue has 1.1.0",
        ),
    ],
)
def test_which_units_travel_on(
    deployment: DeploymentProject,
    case: str,
    what: str,
    trailer: Trailer,
    author: int,
    ff: bool,
    apps: tuple[str, ...],
    platform: bool | None,
    ignored: str | None,
) -> None:
    """A trusted trailer decides the units (a group moves as one); an untrusted one is
    ignored, saying why, and the units are what the merge changed."""
    merge = merged(
        deployment,
        "dev",
        change("dev", what),
        "Promote",
        trailer=trailer,
        labels=("gitops", "promotion"),
        author=author,
        fast_forward=ff,
    )
    result, _ = run(deployment, merge)
    assert result.step is not None, (case, result.stopped)
    selection = result.step.selection
    assert (selection.apps, selection.platform) == (apps, platform), case
    assert selection.group == (trailer.group if ignored is None else None), case
    if ignored is None:
        assert result.ignored_trailer is None, case
    else:
        assert result.ignored_trailer is not None and ignored in result.ignored_trailer, case


def test_a_decommission_trailer_whose_merge_left_the_app_removes_nothing_and_moves_nothing(
    deployment: DeploymentProject,
) -> None:
    """The trailer is not acted on (the branch still holds the app), and the units it names
    (none) are what the chain carries on."""
    trailer = Trailer(target_env="dev", apps={}, unit="decommission", app="a")
    merge = merged(
        deployment, "dev", change("dev", "image"), "Remove a", trailer=trailer, author=BOT
    )
    result, calls = run(deployment, merge)
    assert result.decommission is None and calls == []
    assert result.ignored_trailer == "a decommission of a whose merge left it in dev"
    assert result.stopped is not None and "changed no app layer" in result.stopped


def _img(tag: str) -> ImageRef:
    return ImageRef("registry.example.com/a", tag)


@pytest.mark.parametrize(
    ("trailer", "expected"),
    [
        (
            Trailer("stage", {"b": _img("2"), "a": _img("1")}, source_env="dev"),
            Selection(("a", "b"), False),
        ),
        (
            Trailer("stage", {}, unit="platform", source_env="dev", platform=True),
            Selection((), True),
        ),
        (
            Trailer("dev", {"a": _img("1")}, unit="sync", source_env="main", platform=False),
            Selection(("a",), False),
        ),
        (
            Trailer("stage", {"b": _img("2"), "a": _img("1")}, unit="group", group="g"),
            Selection(("a", "b"), None, "g"),
        ),
    ],
    ids=["apps", "platform", "sync without the platform layer", "group"],
)
def test_a_trailer_selects_what_it_carries(trailer: Trailer, expected: Selection) -> None:
    """One mapping for the cascade and refresh: `platform: false` stays False (from main,
    None would add the platform layer the MR did not carry); a group's apps move as one."""
    assert Selection.from_trailer(trailer) == expected
