"""What the MR of an edit says: `set` on a value env.cue does not set shows the value the
environment ran (from the app layer, the environment's defaults or the platform's), not
"-"; onboarding shows the entry it adds as env.cue will read, formatted as `cue fmt`."""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers.deployrepo.settings import Environment
from jenkins_helpers.git import FileChange
from jenkins_helpers.operations.edits import parse_setting, with_inherited
from jenkins_helpers.promotion import description
from jenkins_helpers.promotion.plan import EditPlan, SettingChange, apply_edits
from jenkins_helpers.promotion.trailer import Trailer

DEV = Environment("dev", "dev", "dev")


@pytest.mark.slow  # a set rendered and validated, and the layers below env.cue exported
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


def test_an_onboarding_mr_shows_the_entry_it_adds_as_cue_fmt_writes_it() -> None:
    entry = {
        "replicas": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "debug": False,
        "debugPort": 5005,
        "labels": {},
    }
    plan = EditPlan(
        DEV,
        "user-service",
        (SettingChange("(the whole entry)", None, entry),),
        None,
        None,
        (FileChange("env.cue", "modified", 11, 0),),
        (),
    )
    trailer = Trailer("dev", {}, unit="onboard", app="user-service")
    text = description.render_edit(plan, "Onboard user-service in dev", trailer)
    assert (
        "The entry added to `env.cue`:\n\n```cue\n"
        'apps: "user-service": env: {\n'
        "\treplicas: 1\n"
        "\tresources: {\n"
        "\t\trequests: {\n"
        '\t\t\tcpu:    "100m"\n'
        '\t\t\tmemory: "128Mi"\n'
        "\t\t}\n"
        "\t}\n"
        "\tdebug:     false\n"
        "\tdebugPort: 5005\n"
        "\tlabels: {}\n"
        "}\n```"
    ) in text
