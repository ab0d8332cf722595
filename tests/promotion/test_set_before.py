"""`set` on a value env.cue does not set: its MR shows the value the environment ran
(from the app layer, the environment's defaults or the platform's), not "-"."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.operations.edits import parse_setting, with_inherited
from jenkins_helpers.promotion import description
from jenkins_helpers.promotion.plan import apply_edits
from jenkins_helpers.promotion.trailer import Trailer

# slow: a set is rendered and validated, and the layers below env.cue exported.
pytestmark = pytest.mark.slow

DEV = Environment("dev", "dev", "dev")


def test_the_mr_shows_the_inherited_before_value_and_its_layer(dev: Path) -> None:
    values = ["port=9090", "debugPort=6000", "replicas=3", 'labels.team="payments"']
    edits = [parse_setting(v) for v in values]
    plan = apply_edits(dev, DEV, "example-app", edits)
    plan = with_inherited(dev, plan, [path for path, _ in edits])
    text = description.render_edit(plan, "Set example-app", Trailer("dev", {}, unit="settings"))
    assert "| `port` | `8080` (from the app layer) | `9090` |" in text
    assert "| `debugPort` | `5005` (from platform defaults) | `6000` |" in text
    assert "| `replicas` | `1` | `3` |" in text  # env.cue's own value, as before
    assert '| `labels.team` | - | `"payments"` |' in text  # no layer sets it
