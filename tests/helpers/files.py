"""Write trees of small text files for tests."""

from __future__ import annotations

from pathlib import Path

MODULE_CUE = 'module: "example.com/x"\nlanguage: version: "v0.9.0"\n'


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` ({relative path: text}) under `root` and return `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def make_module(root: Path, files: dict[str, str]) -> Path:
    """A CUE module: cue.mod/module.cue plus `files`."""
    return write_tree(root, {"cue.mod/module.cue": MODULE_CUE, **files})
