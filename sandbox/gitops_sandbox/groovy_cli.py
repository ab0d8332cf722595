"""Finding and starting Groovy for pipeline runs: Debian's `groovy` 2.4 and a JRE.

The sandbox's Jenkins runs each build as one `groovy` process over the runner in
`jenkins_runner/` (PipelineHarness and friends); the Groovy tests of vars/ run
the same runner (tests/helpers/groovy.py uses this module). Groovy 2.4 is the
line Jenkins itself runs. Debian's launcher takes Java from
/usr/lib/jvm/default-java (package default-jre-headless) unless JAVA_HOME is
set; without either, JAVA_HOME is taken from `java` on PATH.

Compiling the runner takes about a second of every build, so builds run it
compiled: `groovyc` once per version of its sources, into a user cache
(`$XDG_CACHE_HOME/gitops-sandbox`, else `~/.cache/gitops-sandbox`); without
`groovyc` or a writable cache they run it from source, just slower.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

RUNNER_DIR = Path(__file__).resolve().parent / "jenkins_runner"
DEFAULT_JAVA = Path("/usr/lib/jvm/default-java")
INSTALL_HINT = (
    "install Debian's groovy 2.4 and a JRE: apt-get install groovy default-jre-headless "
    "(`make test` does)"
)


def groovy() -> str | None:
    """The `groovy` launcher on PATH, if any."""
    return shutil.which("groovy")


def java_home() -> str | None:
    """JAVA_HOME for Groovy: the one set, else Debian's default-java, else `java` on PATH's."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    if (DEFAULT_JAVA / "bin" / "java").exists():
        return None  # Debian's launcher finds it
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def classpath(*first: Path) -> str:
    """`first` (test scripts), then the runner and its stubs of Jenkins' classes."""
    return os.pathsep.join([*(str(p) for p in first), str(RUNNER_DIR), str(RUNNER_DIR / "stubs")])


def environment(base: dict[str, str]) -> dict[str, str]:
    """`base` plus JAVA_HOME when Groovy needs to be told where Java is."""
    env = dict(base)
    home = java_home()
    if home:
        env["JAVA_HOME"] = home
    return env


_compiling = threading.Lock()


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-sandbox"


def runner_classpath() -> str:
    """The classpath builds run the runner from: its compiled classes, else its sources."""
    compiled = _compiled()
    return str(compiled) if compiled else classpath()


def _compiled() -> Path | None:
    """The runner compiled once per content (None: compiling is not possible here)."""
    compiler = shutil.which("groovyc")
    sources = sorted(p for p in RUNNER_DIR.rglob("*.groovy") if p.name != "RunBuild.groovy")
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.relative_to(RUNNER_DIR).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    target = _cache_root() / f"runner-{digest.hexdigest()[:16]}"
    if target.is_dir() or compiler is None:
        return target if target.is_dir() else None
    with _compiling:
        if target.is_dir():
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix="compiling-", dir=target.parent))
            done = subprocess.run(
                [
                    compiler,
                    "-d",
                    str(scratch),
                    "-cp",
                    str(RUNNER_DIR / "stubs"),
                    *map(str, sources),
                ],
                capture_output=True,
                env=environment(dict(os.environ)),
                timeout=300,
                check=False,
            )
            if done.returncode == 0:
                # Another process may have won the race: its classes are the same.
                with contextlib.suppress(OSError):
                    scratch.rename(target)
            shutil.rmtree(scratch, ignore_errors=True)
        except (OSError, subprocess.SubprocessError):
            return None
    return target if target.is_dir() else None
