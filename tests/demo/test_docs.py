"""docs/USE_CASES.md is what the catalogue and the last recorded demo run make it."""

from __future__ import annotations

import json

from gitops_demo import docs
from gitops_demo.catalog import USE_CASES


def test_use_cases_doc_is_generated_from_the_recorded_run() -> None:
    results = json.loads(docs.RESULTS.read_text())
    assert docs.DOC.read_text() == docs.render(results), (
        "docs/USE_CASES.md is stale: run `python -m gitops_demo.docs`"
    )


def test_the_recorded_run_covers_every_use_case_and_passed() -> None:
    results = json.loads(docs.RESULTS.read_text())
    assert [r["id"] for r in results["use_cases"]] == [c.id for c in USE_CASES]
    assert [r["title"] for r in results["use_cases"]] == [c.title for c in USE_CASES]
    assert results["failed"] == 0
