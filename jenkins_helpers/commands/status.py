"""`gitops-helper status`: the status board (promotion/status.py) in a terminal, or as JSON."""

from __future__ import annotations

from jenkins_helpers import gitlab, inputs
from jenkins_helpers.commands import Printer
from jenkins_helpers.promotion import status, target
from jenkins_helpers.promotion.status import Board, Cell

# The marks after a tag in the table, and what they mean (printed under it).
MARKS = (("*", "pending MR"), ("<", "behind"), ("!", "ahead"), ("~", "went back"))
LEGEND = "  ".join(f"{mark} {meaning}" for mark, meaning in MARKS) + (
    "  - not there  (no image) onboarded, no image yet"
)


def run(project: str, gitlab_url: str | None, check_manifests: bool) -> Board:
    """Read the deployment project's board (and compare manifests, if asked)."""
    project = inputs.project_path(project)
    access = gitlab.access_from_environment(gitlab_url)
    with target.connect(project, access) as deployment:
        return status.board(deployment, check_manifests=check_manifests)


def cell_text(cell: Cell) -> str:
    """A table cell: the tag (or `-`, `(no image)`) and its marks."""
    text = {"deployed": cell.tag or "", "onboarded": "(no image)", "absent": "-"}[cell.state]
    marks = ("*" if cell.pending else "") + ("<" if "behind" in cell.diverged else "")
    marks += ("!" if "ahead" in cell.diverged else "") + ("~" if "back" in cell.diverged else "")
    return f"{text} {marks}" if marks else text


def show(b: Board, out: Printer) -> None:
    """The table, then the pending MRs, divergences, decommissions and manifests."""
    names = [e.name for e in b.environments]
    out(f"{b.project} at {b.generated_at}: {' -> '.join(names)}")
    out("")
    header = ["APP", *(n.upper() for n in names)]
    rows = [[r.app, *(cell_text(c) for c in r.cells)] for r in b.rows]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        out("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
    if not b.rows:
        out("(no app has an entry in any environment)")
    out(LEGEND)
    _section(
        out,
        "Pending merge requests",
        [
            f"!{mr.iid} {mr.env or mr.target_branch}: {mr.title}"
            + (f" (group {mr.group})" if mr.group else "")
            + f"  {mr.url}"
            for mr in b.pending
        ],
    )
    _section(
        out,
        "Divergences",
        [f"{d.app}: {d.text}" + (f"  {d.mr_url}" if d.mr_url else "") for d in b.divergences],
    )
    _section(
        out,
        "Decommissions in progress",
        [
            f"{d.app}: still in {', '.join(d.remaining)}; "
            + ", ".join(f"!{mr.iid} ({mr.state}) {mr.url}" for mr in d.mrs)
            for d in b.decommissions
        ],
    )
    _manifests(b, out)
    problems = [f"{e.name}: {e.problem}" for e in b.environments if e.problem]
    _section(out, "Warnings", [*problems, *b.warnings], empty=None)


def _manifests(b: Board, out: Printer) -> None:
    if not b.manifests_checked:
        out("")
        out("Stale manifests: not checked (--check-manifests renders every environment)")
        return
    lines = [f"{e.name}: {path}" for e in b.environments for path in e.stale or ()]
    lines += [f"{e.name}: not checked (see Warnings)" for e in b.environments if e.stale is None]
    _section(out, "Stale manifests", lines, empty="every environment matches its env.cue")


def _section(out: Printer, title: str, lines: list[str], empty: str | None = "none") -> None:
    if not lines and empty is None:
        return
    out("")
    out(f"{title}:" + ("" if lines else f" {empty}"))
    for line in lines:
        out(f"  {line}")
