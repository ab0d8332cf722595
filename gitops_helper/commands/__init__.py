"""One module per CLI command: `run` does the work, `show` prints its result for people.

Commands never import click: `cli.py` parses options, calls `run`, and either
prints the result as JSON or hands `show` a printer.
"""

from __future__ import annotations

from typing import Protocol


class Printer(Protocol):
    """Prints one line (or block) of text; `err=True` sends it to stderr."""

    def __call__(self, text: str, *, err: bool = False) -> None: ...
