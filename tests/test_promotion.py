"""Promotion planning in a checkout of the target environment, without GitLab."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jenkins_helpers import git, promotion
from jenkins_helpers.cuesrc import applayer, editor
from jenkins_helpers.deployrepo.checks import Finding
from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.errors import UserError
from jenkins_helpers.promotion_mr import ImageRef
from tests.helpers.apprepo import app_cue
from tests.helpers.deployrepo import copy_repo

DEV = Environment("dev", "dev", "dev")
IMAGE = "registry.example.com/example-app"
DIGEST = "sha256:" + "c4" * 32


def _request(tag: str, digest: str | None = None, *fields: str) -> promotion.Request:
    source = app_cue("example-app", IMAGE, "port: 8080", *fields)
    layer = applayer.AppLayer("example-app", "deployment/app.cue", source, IMAGE)
    return promotion.Request(
        "example-app",
        ImageRef(IMAGE, tag, digest),
        DEV,
        layer,
        "https://gitlab.example.com/apps/example-app.git",
        "c0ffee",
    )


def _image(repo: Path) -> str:
    path = repo / "manifests/dev/example-app/deployment-example-app.yaml"
    return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]["image"]


def test_digest_is_set_then_removed_when_not_given(dev: Path) -> None:
    plan = promotion.prepare(dev, _request("1.5.0", DIGEST))
    assert _image(dev) == f"{IMAGE}:1.5.0@{DIGEST}"
    assert plan.old_image == ImageRef(IMAGE, "1.0.0", None)
    git.commit_staged(dev, "promote 1.5.0")

    plan = promotion.prepare(dev, _request("1.5.1"))
    assert _image(dev) == f"{IMAGE}:1.5.1"
    env = (dev / "env.cue").read_text()
    assert editor.get_value(env, ("apps", "example-app", "env", "deployment", "image")) == {
        "tag": "1.5.1"
    }
    assert plan.old_image == ImageRef(IMAGE, "1.5.0", DIGEST)
    assert plan.changed_files == [
        "env.cue",
        "manifests/dev/example-app/deployment-example-app.yaml",
    ]
    assert plan.app_layer_diff == "", "same app layer, same commit"


def test_only_the_image_changes_in_env_cue_and_kept_settings_are_listed(dev: Path) -> None:
    before = (dev / "env.cue").read_text()
    plan = promotion.prepare(dev, _request("1.6.0"))
    after = (dev / "env.cue").read_text()
    assert after == before.replace('tag: "1.0.0"', 'tag: "1.6.0"', 1)
    kept = {(s.path, s.scope): s.value for s in plan.kept}
    assert kept[("replicas", 'apps."example-app".env')] == 1
    assert kept[("resources.limits.memory", 'apps."example-app".env')] == "256Mi"
    assert ("deployment.image.tag", 'apps."example-app".env') not in kept


def test_wrong_environment_checkout_is_refused(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "k8s-deployments")
    git.switch(repo, "stage")
    with pytest.raises(UserError, match=r"holds env\.cue of 'stage'"):
        promotion.prepare(repo, _request("1.0.1"))


def _finding(path: str, message: str = "bad", severity: str = "error") -> Finding:
    return Finding(severity, path, "schema", message)  # type: ignore[arg-type]


def test_only_errors_this_promotion_brings_block_it() -> None:
    req = _request("1.0.1")
    own = "manifests/dev/example-app/deployment-example-app.yaml"
    other = "manifests/dev/postgres/deployment-postgres.yaml"
    before = {(other, "schema", "old")}
    warnings = promotion._blocking(
        [_finding(other, "old"), _finding(own, "w", "warning")], before, req
    )
    assert warnings == [
        f"error: {other}: [schema] old (already on the branch)",
        f"warning: {own}: [schema] w",
    ]
    for blocking in (_finding(other, "new"), _finding(own)):
        with pytest.raises(UserError, match=r"dev would not validate with example-app 1\.0\.1"):
            promotion._blocking([blocking], before | {(own, "schema", "bad")}, req)
