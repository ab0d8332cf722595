"""Finding and starting Groovy for pipeline runs: Debian's `groovy` 2.4 and a JRE.

The sandbox's Jenkins runs each build as one `groovy` process over the runner in
`jenkins_runner/` (PipelineHarness and friends); the Groovy tests of vars/ run
the same runner (tests/helpers/groovy.py uses this module). Groovy 2.4 is the
line Jenkins itself runs. Debian's launcher takes Java from
/usr/lib/jvm/default-java (package default-jre-headless) unless JAVA_HOME is
set; without either, JAVA_HOME is taken from `java` on PATH.
"""

from __future__ import annotations

import os
import shutil
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
