"""examples/ and the Jenkinsfiles agree with the library and the scaffold they illustrate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops_sandbox.seed import APP
from gitops_sandbox.seed import JENKINSFILE as SEEDED_JENKINSFILE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/example-app"
STEP = ROOT / "vars" / "gitopsPromote.groovy"
REQUIRED = {"app", "image", "tag"}


def _cue_without_comments(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("//")]


def _accepted_arguments() -> set[str]:
    """The keys of the step's commented default map."""
    block = re.search(r"Map defaults = \[(.*?)\n    \]", STEP.read_text(), re.DOTALL)
    assert block, "no `Map defaults = [...]` in gitopsPromote.groovy"
    return set(re.findall(r"^\s+(\w+)\s*:", block.group(1), re.MULTILINE))


def _promote_calls(text: str) -> list[set[str]]:
    """The argument names of each `gitopsPromote(...)` call in a Jenkinsfile."""
    calls = re.findall(r"gitopsPromote\((.*?)\)", text)
    return [set(re.findall(r"(\w+):", args)) for args in calls]


def test_the_example_app_layer_is_the_scaffolds_catalog_entry() -> None:
    """What example-app's repo holds is what k8s-deployments' catalog carries for it."""
    example = (EXAMPLE / "deployment" / "app.cue").read_text()
    catalog = ROOT / "jenkins_helpers/deployrepo/scaffold/repo/services/apps/example-app.cue"
    assert _cue_without_comments(example) == _cue_without_comments(catalog.read_text())


def test_the_step_accepts_what_its_help_documents() -> None:
    """Every accepted argument has an entry in gitopsPromote.txt, and nothing more."""
    page = STEP.with_suffix(".txt").read_text()
    arguments = page[page.index("<b>Arguments</b>") : page.index("<b>Return value</b>")]
    documented = set(re.findall(r"<dt><code>(\w+)</code> \(", arguments))
    assert _accepted_arguments() == documented


@pytest.mark.parametrize(
    "jenkinsfile",
    [
        (EXAMPLE / "Jenkinsfile").read_text(),
        SEEDED_JENKINSFILE.replace(APP, "example-app"),
        STEP.with_suffix(".txt").read_text(),
    ],
    ids=["examples/example-app", "sandbox seed", "help page"],
)
def test_jenkinsfiles_call_the_step_with_valid_arguments(jenkinsfile: str) -> None:
    """The example pipelines load the library and call gitopsPromote as it accepts."""
    assert "@Library('jenkins-gitops-helpers') _" in jenkinsfile
    calls = _promote_calls(jenkinsfile)
    assert calls
    for names in calls:
        assert REQUIRED <= names <= _accepted_arguments(), names


def test_the_librarys_own_ci_runs_make_test() -> None:
    """The top-level Jenkinsfile is this library's CI: the same `make test` as everywhere."""
    assert "sh 'make test'" in (ROOT / "Jenkinsfile").read_text()
