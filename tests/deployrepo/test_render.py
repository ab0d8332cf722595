"""Rendering: one CUE evaluation per environment, deterministic files, stale detection."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jenkins_helpers import git
from jenkins_helpers.cue import get_engine
from jenkins_helpers.deployrepo import render
from jenkins_helpers.errors import UserError
from tests.helpers.deployrepo import append, copy_repo, replace_once

pytestmark = pytest.mark.cue


def add_apps(repo: Path, count: int) -> None:
    for i in range(count):
        name = f"svc-{i:03d}"
        (repo / "services/apps" / f"{name}.cue").write_text(
            "package deployments\n\n"
            f'apps: "{name}": app: deployment: image: repository: "registry.example.com/{name}"\n'
        )
        append(repo / "env.cue", f'\napps: "{name}": env: deployment: image: tag: "1.0.{i}"\n')


def test_committed_scaffold_manifests_are_up_to_date(dev: Path) -> None:
    assert render.check(dev, "dev") == []
    assert render.render(dev, "dev").changed == []


def test_render_makes_one_cue_evaluation_up_to_the_batch_size(dev: Path) -> None:
    """Up to GITOPS_RENDER_BATCH (default 200) app files; above, see test_batches.py."""
    engine = get_engine()
    for extra in (0, 25):
        add_apps(dev, extra)
        before = engine.calls
        result = render.render(dev, "dev")
        assert engine.calls - before == 1
        assert len({p.split("/")[2] for p in result.files}) == 2 + extra


def test_render_is_deterministic(dev: Path) -> None:
    add_apps(dev, 3)
    first = render.render(dev, "dev").files
    second = render.render(dev, "dev")
    assert second.files == first
    assert second.changed == []


def test_hand_edited_and_stale_files_are_listed(dev: Path) -> None:
    service = dev / "manifests/dev/example-app/service-example-app.yaml"
    service.write_text(service.read_text().replace("8080", "9090"))
    replace_once(dev / "env.cue", "debug: false", "debug: true")
    stale = render.check(dev, "dev")
    assert stale == [
        "manifests/dev/example-app/deployment-example-app.yaml",
        "manifests/dev/example-app/service-example-app-debug.yaml",
        "manifests/dev/example-app/service-example-app.yaml",
    ]
    assert "9090" in service.read_text(), "check writes nothing"


def test_files_of_removed_apps_and_objects_are_deleted(dev: Path) -> None:
    text = (dev / "env.cue").read_text()
    start = text.index("apps: postgres: env:")
    (dev / "env.cue").write_text(text[:start].rstrip() + "\n")
    result = render.render(dev, "dev")
    assert "manifests/dev/postgres/deployment-postgres.yaml" in result.removed
    assert not (dev / "manifests/dev/postgres").exists()
    assert sorted(p.name for p in (dev / "manifests/dev").iterdir()) == ["example-app"]


def test_strings_yaml_would_read_as_booleans_or_numbers_stay_strings(dev: Path) -> None:
    append(
        dev / "env.cue",
        '\napps: "example-app": env: configMap: data: '
        '{on: "on", yes: "yes", n: "n", "Y": "Y", ttl: "300", exp: "1e3", off: "off"}\n',
    )
    render.render(dev, "dev")
    text = (dev / "manifests/dev/example-app/configmap-example-app-config.yaml").read_text()
    assert yaml.safe_load(text)["data"] == {
        "on": "on",
        "yes": "yes",
        "n": "n",
        "Y": "Y",
        "ttl": "300",
        "exp": "1e3",
        "off": "off",
    }
    assert "'n': 'n'" in text and "exp: '1e3'" in text


def test_yaml_is_sorted_block_style(dev: Path) -> None:
    text = (dev / "manifests/dev/example-app/service-example-app.yaml").read_text()
    top_level = [
        line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")
    ]
    assert top_level == sorted(top_level) == ["apiVersion", "kind", "metadata", "spec"]
    assert "{" not in text


def test_a_cue_error_names_the_file_and_line(dev: Path) -> None:
    append(dev / "env.cue", '\napps: "example-app": env: replicas: "two"\n')
    with pytest.raises(UserError) as error:
        render.render(dev, "dev")
    assert "env.cue:" in error.value.message
    assert (dev / "manifests/dev/example-app/deployment-example-app.yaml").read_text().count(
        "replicas: 1"
    ) == 1


def test_main_renders_nothing(template: Path, tmp_path: Path) -> None:
    repo = copy_repo(template, tmp_path / "main")
    assert git.current_branch(repo) == "main"
    assert render.evaluate(repo) == {}
