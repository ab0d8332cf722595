"""Promotion MR conventions: the trailer the webhook parses, and the description people read."""

from __future__ import annotations

import json

import pytest

from jenkins_helpers.git import FileChange
from jenkins_helpers.promotion import description, naming
from jenkins_helpers.promotion.model import ImageRef, Setting
from jenkins_helpers.promotion.trailer import Trailer, TrailerError, parse_trailer

DIGEST = "sha256:" + "0f" * 32


def _trailer(**overrides: object) -> Trailer:
    values: dict = {
        "target_env": "dev",
        "apps": {"example-app": ImageRef("registry.example.com/example-app", "1.4.2", DIGEST)},
        "app_repo": "https://gitlab.example.com/apps/example-app.git",
        "app_commit": "a" * 40,
        "app_layer_sha256": "b" * 64,
    }
    return Trailer(**(values | overrides))


def test_trailer_round_trips_through_a_description() -> None:
    trailer = _trailer()
    text = f"Some description\n\n{trailer.to_comment()}\n"
    assert parse_trailer(text) == trailer


def test_trailer_json_is_the_documented_shape() -> None:
    comment = _trailer().to_comment()
    assert comment.startswith("<!-- gitops-promotion {") and comment.endswith("} -->")
    data = json.loads(comment.removeprefix("<!-- gitops-promotion ").removesuffix(" -->"))
    assert data == {
        "version": 1,
        "unit": "app",
        "source_env": None,
        "source_commit": None,
        "platform": False,
        "skipped": [],
        "target_env": "dev",
        "apps": {
            "example-app": {
                "repository": "registry.example.com/example-app",
                "tag": "1.4.2",
                "digest": DIGEST,
            }
        },
        "app_repo": "https://gitlab.example.com/apps/example-app.git",
        "app_commit": "a" * 40,
        "app_layer_sha256": "b" * 64,
        "build_url": None,
        "app": None,
        "group": None,
    }


def test_nothing_in_the_json_can_close_the_comment() -> None:
    trailer = _trailer(app_repo="/work/x --> <b>&")
    comment = trailer.to_comment()
    assert comment.count("-->") == 1 and "<b>" not in comment
    assert parse_trailer(comment) == trailer


def test_no_trailer_is_none_and_the_last_one_wins() -> None:
    assert parse_trailer("Promote x\n<!-- another comment -->") is None
    assert parse_trailer(None) is None
    newer = _trailer(target_env="stage")
    assert parse_trailer(_trailer().to_comment() + "\n" + newer.to_comment()) == newer


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json}", "not valid JSON"),
        ('{"version": 2, "apps": {}}', "version 2 is not supported"),
        ('{"version": 1, "unit": "app", "target_env": "dev", "apps": {}}', "moves nothing"),
        (
            '{"version": 1, "unit": "train", "target_env": "dev", "apps": {}, "platform": true}',
            "unit is",
        ),
        (
            '{"version": 1, "unit": "app", "target_env": "dev", "apps": {"a": {"tag": "1"}}}',
            "repository",
        ),
        (
            '{"version": 1, "unit": "app", "target_env": 3, "apps": {"a": {"repository": "r", '
            '"tag": "1"}}}',
            "target_env",
        ),
    ],
)
def test_malformed_trailers_are_errors(body: str, message: str) -> None:
    with pytest.raises(TrailerError, match=message):
        parse_trailer(f"<!-- gitops-promotion {body} -->")


def test_names_and_labels() -> None:
    assert naming.source_branch("dev", "example-app") == "promote/dev/example-app"
    assert naming.title("example-app", "1.4.2", "dev") == "Promote example-app 1.4.2 to dev"
    assert naming.labels("example-app", "dev") == (
        "gitops",
        "promotion",
        "app::example-app",
        "env::dev",
    )
    assert naming.superseded_note(7) == "Superseded by !7"


def _content(**overrides: object) -> description.Content:
    values: dict = {
        "app": "example-app",
        "env": "dev",
        "image": ImageRef("registry.example.com/example-app", "1.4.2", DIGEST),
        "old_image": ImageRef("registry.example.com/example-app", "1.4.1"),
        "app_file": "services/apps/example-app.cue",
        "app_layer_diff": "@@ -1 +1 @@\n-\tport: 8080\n+\tport: 9090\n",
        "changes": [
            FileChange("env.cue", "modified", 1, 1),
            FileChange("manifests/dev/example-app/deployment-example-app.yaml", "modified", 2, 1),
            FileChange(
                "manifests/dev/example-app/configmap-example-app-config.yaml", "added", 9, 0
            ),
        ],
        "kept": [
            Setting("replicas", 1, 'apps."example-app".env'),
            Setting("labels.team", "a|b", "environment.defaults"),
        ],
        "trailer": _trailer(),
        "build_url": "https://jenkins.example.com/job/example-app/12",
    }
    return description.Content(**(values | overrides))


def test_description_shows_image_diffs_kept_settings_build_and_trailer() -> None:
    text = description.render(_content())
    assert "| tag | `1.4.1` | `1.4.2` |" in text
    assert f"| digest | - | `{DIGEST}` |" in text
    assert "```diff\n@@ -1 +1 @@\n-\tport: 8080\n+\tport: 9090\n```" in text
    assert "<details><summary>2 manifest file(s): 1 added, 1 changed, 0 removed (+11 -1)" in text
    row = "| `manifests/dev/example-app/deployment-example-app.yaml` | modified | +2 | -1 |"
    assert row in text
    assert "Also changed: `env.cue`." in text
    assert '| `replicas` | `1` | `apps."example-app".env` |' in text
    assert '| `labels.team` | `"a\\|b"` | `environment.defaults` |' in text
    assert "https://jenkins.example.com/job/example-app/12" in text
    assert parse_trailer(text) == _trailer()


def test_description_of_a_new_app_and_an_unchanged_layer() -> None:
    text = description.render(_content(old_image=None, app_layer_diff="", kept=[], build_url=None))
    assert "example-app is new in dev: its env.cue entry gets the image only." in text
    assert "Unchanged." in text and "None: example-app has no settings of its own" in text
    assert "Jenkins" not in text


def test_a_diff_with_backticks_gets_a_longer_fence() -> None:
    text = description.render(_content(app_layer_diff="+// ```cue\n"))
    assert "````diff\n+// ```cue\n````" in text
