"""Every relative link and file reference in README.md and docs/*.md resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path in backquotes that names a file of ours: `jenkins_helpers/x.py`, `docs/X.md`...
FILE_REF = re.compile(
    r"`((?:gitops_helper|jenkins_helpers|webhook|sandbox|gitops_sandbox|gitops_demo|tests|bench|vars|docs|\.ci)/[\w./-]+\.\w+)`"
)


def _anchors(doc: Path) -> set[str]:
    titles = re.findall(r"^#+ (.+)$", doc.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", t).strip().lower().replace(" ", "-") for t in titles}


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        wrong_anchor = anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)
        if not resolved.exists() or wrong_anchor:
            broken.append(target)
    assert not broken, f"{doc.name}: broken links {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_file_references_exist(doc: Path) -> None:
    missing = [ref for ref in FILE_REF.findall(doc.read_text()) if not (ROOT / ref).exists()]
    assert not missing, f"{doc.name} cites files that do not exist: {missing}"


BARE_NAME = re.compile(r"`([\w-]+\.(?:py|groovy|xml|js))`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_file_names_exist(doc: Path) -> None:
    """A file named without its directory (`seed.py`) is still a file of the repository."""
    ours = {
        p.name for p in ROOT.rglob("*") if ".venv" not in p.parts and "node_modules" not in p.parts
    }
    missing = sorted({name for name in BARE_NAME.findall(doc.read_text()) if name not in ours})
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_nothing_cites_the_teams_private_notes() -> None:
    """Users have the repository only: the facts we rely on are copied into docs/."""
    private = re.compile(r"\b(DESIGN|STYLE|GITLAB_WEBHOOK)\.md\b|\.\./shared/(?!tools/cue)")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = [
        name
        for name in tracked
        if name.endswith((".py", ".md", ".groovy", ".txt", ".cue", ".tmpl"))
        and private.search((ROOT / name).read_text(errors="replace"))
        and name != "tests/test_docs_links.py"
    ]
    assert not citing, f"these cite files users do not have: {citing}"
