"""Promotion planning in a checkout of the target environment, without GitLab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from jenkins_helpers import git
from jenkins_helpers.cuesrc import editor
from jenkins_helpers.deployrepo import checks, layout, render
from jenkins_helpers.deployrepo.checks import Finding
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion import plan as planning
from jenkins_helpers.promotion import proposal
from jenkins_helpers.promotion.model import AppVersion, ImageRef
from jenkins_helpers.promotion.trailer import Trailer
from tests.helpers.apprepo import app_cue
from tests.helpers.deployrepo import copy_repo

# slow: promotions rendered and validated. Which apps a plan renders is the tool's own
# logic: it runs on the run's engine (the engines' renders are compared byte for byte in
# tests/deployrepo/test_usecases_render.py).
pytestmark = pytest.mark.slow

DEV = Environment("dev", "dev", "dev")
IMAGE = "registry.example.com/example-app"
DIGEST = "sha256:" + "c4" * 32


def _version(tag: str, digest: str | None = None, *fields: str) -> AppVersion:
    text = app_cue("example-app", IMAGE, "port: 8080", *fields)
    return AppVersion("example-app", text, ImageRef(IMAGE, tag, digest))


def _apply(repo: Path, version: AppVersion) -> planning.Plan:
    return planning.apply_versions(repo, DEV, [version])


def _image(repo: Path) -> str:
    path = repo / "manifests/dev/example-app/deployment-example-app.yaml"
    return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]["image"]


def test_digest_is_set_then_removed_when_not_given(dev: Path) -> None:
    plan = _apply(dev, _version("1.5.0", DIGEST))
    assert _image(dev) == f"{IMAGE}:1.5.0@{DIGEST}"
    assert plan.apps[0].old_image == ImageRef(IMAGE, "1.0.0", None)
    git.commit_staged(dev, "promote 1.5.0")

    plan = _apply(dev, _version("1.5.1"))
    assert _image(dev) == f"{IMAGE}:1.5.1"
    env = (dev / "env.cue").read_text()
    assert editor.get_value(env, ("apps", "example-app", "env", "deployment", "image")) == {
        "tag": "1.5.1"
    }
    assert plan.apps[0].old_image == ImageRef(IMAGE, "1.5.0", DIGEST)
    assert [c.path for c in plan.changes] == [
        "env.cue",
        "manifests/dev/example-app/deployment-example-app.yaml",
    ]
    assert plan.apps[0].app_layer_diff == "", "same app layer"


def test_only_the_image_changes_in_env_cue_and_kept_settings_are_listed(dev: Path) -> None:
    before = (dev / "env.cue").read_text()
    plan = _apply(dev, _version("1.6.0"))
    after = (dev / "env.cue").read_text()
    assert after == before.replace('tag: "1.0.0"', 'tag: "1.6.0"', 1)
    kept = {(s.path, s.scope): s.value for s in plan.apps[0].kept}
    assert kept[("replicas", 'apps."example-app".env')] == 1
    assert kept[("resources.limits.memory", 'apps."example-app".env')] == "256Mi"
    assert ("deployment.image.tag", 'apps."example-app".env') not in kept


def test_wrong_environment_checkout_is_refused(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "k8s-deployments")
    git.switch(repo, "stage")
    with pytest.raises(UserError, match=r"holds env\.cue of 'stage'"):
        _apply(repo, _version("1.0.1"))


def _finding(path: str, message: str = "bad", severity: str = "error") -> Finding:
    return Finding(severity, path, "schema", message)  # type: ignore[arg-type]


def test_only_errors_this_promotion_brings_block_it() -> None:
    versions = [_version("1.0.1")]
    own = "manifests/dev/example-app/deployment-example-app.yaml"
    other = "manifests/dev/postgres/deployment-postgres.yaml"
    before = {(other, "schema", "old")}
    warnings = planning._blocking(
        [_finding(other, "old"), _finding(own, "w", "warning")], before, DEV, versions
    )
    assert warnings == [
        f"error: {other}: [schema] old (already on the branch)",
        f"warning: {own}: [schema] w",
    ]
    for blocking in (_finding(other, "new"), _finding(own)):
        with pytest.raises(UserError, match=r"dev would not validate with example-app 1\.0\.1"):
            planning._blocking([blocking], before | {(own, "schema", "bad")}, DEV, versions)


# --- only the changed apps are rendered when nothing else changed ---------------------

POSTGRES = "manifests/dev/postgres/deployment-postgres.yaml"


def _stale_postgres(dev: Path) -> str:
    """Commit a hand edit to postgres's Deployment in dev (a full render would undo it)."""
    path = dev / POSTGRES
    path.write_text(path.read_text() + "# edited by hand\n")
    git.commit_all(dev, "postgres: a stale manifest")
    return path.read_text()


@pytest.fixture(params=["whole", "sparse"])
def clone_of(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Path], Path]:
    """A promotion's clone of a dev checkout: the checkout itself, or a sparse clone
    holding example-app's files only, as `promote` clones the environment branch."""

    def clone(dev: Path) -> Path:
        if request.param == "whole":
            return dev
        tree = tmp_path / "sparse-clone"
        git.clone(dev.as_uri(), tree, "dev", {}, layout.sparse_patterns(["example-app"]))
        assert not (tree / POSTGRES).exists(), "another app's files are not checked out"
        return tree

    return clone


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_a_promotion_renders_and_validates_only_its_app(
    dev: Path, clone_of: Callable[[Path], Path]
) -> None:
    stale = _stale_postgres(dev)
    tree = clone_of(dev)
    untouched = _text(tree / POSTGRES)
    assert untouched in (stale, None)
    plan = _apply(tree, _version("1.7.0"))
    assert _image(tree) == f"{IMAGE}:1.7.0"
    assert _text(tree / POSTGRES) == untouched, "another app's manifests are left alone"
    assert [c.path for c in plan.changes] == [
        "env.cue",
        "manifests/dev/example-app/deployment-example-app.yaml",
        "services/apps/example-app.cue",
    ]
    # The same for an edit of the app's env.cue entry (set, rollback).
    git.commit_staged(tree, "promote 1.7.0")
    edit = planning.apply_edits(tree, DEV, "example-app", [(("replicas",), 3)])
    assert _text(tree / POSTGRES) == untouched
    assert [c.path for c in edit.changes] == [
        "env.cue",
        "manifests/dev/example-app/deployment-example-app.yaml",
    ]


def test_a_platform_change_renders_every_app(dev: Path, clone_of: Callable[[Path], Path]) -> None:
    _stale_postgres(dev)
    tree = clone_of(dev)
    platform = tree / "platform/defaults.cue"
    platform.write_text(platform.read_text() + "\n// a platform change\n")
    plan = _apply(tree, _version("1.7.0"))
    assert POSTGRES in [c.path for c in plan.changes], "rendered again: the hand edit is gone"
    assert "edited by hand" not in (tree / POSTGRES).read_text()


def test_an_environment_setting_renders_every_app(
    dev: Path, clone_of: Callable[[Path], Path]
) -> None:
    _stale_postgres(dev)
    tree = clone_of(dev)
    env = tree / "env.cue"
    env.write_text(env.read_text().replace("defaults: {}", 'defaults: labels: team: "a"'))
    _apply(tree, _version("1.7.0"))
    assert "edited by hand" not in (tree / POSTGRES).read_text()
    assert "team: a" in (tree / POSTGRES).read_text()


def test_an_app_file_with_another_apps_entries_renders_every_app(
    dev: Path, clone_of: Callable[[Path], Path]
) -> None:
    _stale_postgres(dev)
    tree = clone_of(dev)
    text = app_cue("example-app", IMAGE, "port: 8080")
    text += 'apps: postgres: app: podAnnotations: "example.com/touched": "yes"\n'
    plan = _apply(tree, AppVersion("example-app", text, ImageRef(IMAGE, "1.7.0", None)))
    assert POSTGRES in [c.path for c in plan.changes]
    assert "example.com/touched" in (tree / POSTGRES).read_text()


def test_another_app_file_with_this_apps_entries_renders_every_app(
    dev: Path, clone_of: Callable[[Path], Path]
) -> None:
    """postgres.cue also annotates example-app: a sparse clone does not hold that file,
    which must still be found (at HEAD) and make the render whole."""
    postgres = dev / "services/apps/postgres.cue"
    postgres.write_text(
        postgres.read_text() + 'apps: "example-app": app: podAnnotations: by: "postgres"\n'
    )
    render.render(dev, "dev")
    git.commit_all(dev, "postgres.cue annotates example-app")
    _stale_postgres(dev)
    tree = clone_of(dev)
    plan = _apply(tree, _version("1.7.0"))
    assert POSTGRES in [c.path for c in plan.changes], "the whole environment was rendered"
    deployment = (tree / "manifests/dev/example-app/deployment-example-app.yaml").read_text()
    assert "by: postgres" in deployment


def test_an_apps_own_validation_finds_duplicates_in_other_apps(
    dev: Path, clone_of: Callable[[Path], Path]
) -> None:
    tree = clone_of(dev)
    copy = "manifests/dev/example-app/service-postgres.yaml"
    (tree / copy).write_text(
        git.file_at(tree, "HEAD", "manifests/dev/postgres/service-postgres.yaml") or ""
    )
    mine = checks.check_app_manifests(tree, DEV, ["example-app"])
    assert [(f.path, f.rule) for f in mine if f.severity == "error"] == [(copy, "duplicate")]
    assert "manifests/dev/postgres/service-postgres.yaml" in mine[0].message
    assert not [f for f in mine if not f.path.startswith("manifests/dev/example-app/")]


# --- the image before: what the environment ran -----------------------------------------

COMPUTED = (
    'package deployments\n\napps: "example-app": app: {\n'
    '\tdeployment: image: repository: "registry.example.com/" + "example-app"\n'
    "\tport: 8080\n}\n"
)


@pytest.mark.parametrize("digest", [None, DIGEST])
def test_the_image_before_is_what_the_rendered_deployment_ran(
    dev: Path, clone_of: Callable[[Path], Path], digest: str | None
) -> None:
    """An app layer may compute its repository: the MR still shows the image before."""
    tree = clone_of(dev)
    computed = AppVersion("example-app", COMPUTED, ImageRef(IMAGE, "1.5.0", digest))
    _apply(tree, computed)
    git.commit_staged(tree, "promote 1.5.0")
    plan = _apply(tree, AppVersion("example-app", COMPUTED, ImageRef(IMAGE, "1.6.0", None)))
    assert plan.apps[0].old_image == ImageRef(IMAGE, "1.5.0", digest)
    trailer = Trailer(target_env="dev", apps={"example-app": plan.apps[0].image})
    text = proposal.app_change(plan, trailer, [], None).description
    assert "new in dev" not in text
    assert f"| repository | `{IMAGE}` | `{IMAGE}` |" in text
    assert "| tag | `1.5.0` | `1.6.0` |" in text
    assert f"| digest | {f'`{digest}`' if digest else '-'} | - |" in text


def test_an_app_without_a_deployment_yet_is_new_in_the_environment(dev: Path) -> None:
    """Onboarded (an env.cue entry) with no image yet renders nothing: the MR says so."""
    env = dev / "env.cue"
    env.write_text(env.read_text().replace('deployment: image: tag: "1.0.0"\n', "", 1))
    render.render(dev, "dev")
    git.commit_all(dev, "example-app without an image")
    plan = _apply(dev, _version("1.0.1"))
    assert plan.apps[0].old_image == ImageRef(IMAGE, "-", None)
