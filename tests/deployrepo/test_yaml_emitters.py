"""libyaml writes the manifests when PyYAML has it: byte for byte what PyYAML's own emitter writes.

The two emitters differ in corners (characters outside the BMP, control characters,
an empty key, folding lines longer than the width); `to_yaml` gives libyaml only
objects where they cannot differ. The use-case repositories are checked the same
way as they are rendered (tests/helpers/engines.py, `assert_renders_alike`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers import git
from jenkins_helpers.deployrepo import render
from tests.helpers.deployrepo import ENVS, copy_repo


def pure(obj: Any) -> str:
    """What PyYAML's own (pure Python) emitter writes for `obj`."""
    return render._dump(obj, render._ManifestDumper)


def test_pyyaml_has_libyaml() -> None:
    """PyYAML's wheels carry libyaml; without it every render is about 5x slower in Python."""
    assert render._FastDumper is not None


TEXT = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "y", "1e3", "x" * 1200 + " \nz", "\U0001f680", "a\rb", " lead", "trail ", "#x", "- y"]
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(TEXT, VALUES, min_size=1, max_size=6))
def test_to_yaml_writes_what_the_pure_emitter_writes(obj: dict[str, Any]) -> None:
    assert render.to_yaml(obj) == pure(obj)


@pytest.mark.parametrize("env", ENVS)
def test_the_scaffolds_manifests_are_the_pure_emitters(
    template: Path, tmp_path: Path, env: str
) -> None:
    repo = copy_repo(template, tmp_path / "repo")
    git.switch(repo, env)
    objects = render.evaluate(repo)
    written = render.manifest_files(env, objects)
    assert written == render.existing_files(repo, env)
    assert sorted(written.values()) == sorted(pure(o) for app in objects.values() for o in app)
