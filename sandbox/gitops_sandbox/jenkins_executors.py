"""Running Jenkins builds: a queue, executor threads, one `groovy` process per build.

As on Jenkins, a triggered build first waits in the queue; a free executor takes
it, gives it the next build number (the queue item then points at the build),
and runs it: `building: true, result: null` until it ends SUCCESS, FAILURE,
ABORTED (stopped, or the sandbox stopped) or NOT_BUILT (a job kind the sandbox
does not run). The pipeline runs in `groovy` over `jenkins_runner/RunBuild.groovy`
(the runner the Groovy tests of vars/ use too), which gets the build as JSON on
stdin (credentials included, so never on a command line or on disk) and streams
the console to stdout, appended here to the build's log file as it comes.

Files under `<state>/jenkins/`: `jobs/<job>/builds/<n>/log` (consoleText),
`workspace/<job>` (kept between builds, as Jenkins keeps it; `<job>@2` for a
second build running at the same time), `scm/<job>.git` (Jenkinsfile cache).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from gitops_sandbox import groovy_cli, jenkins_pipeline
from gitops_sandbox.jenkins_config import JenkinsSettings
from gitops_sandbox.jenkins_pipeline import BuildFailed
from gitops_sandbox.state import State

RUN_BUILD = groovy_cli.RUNNER_DIR / "RunBuild.groovy"
STOP_GRACE_SECONDS = 5.0
USER = "admin"


def now_ms() -> int:
    return int(time.time() * 1000)


class BuildRunner:
    """The queue and the executors of the sandbox's Jenkins."""

    def __init__(
        self, state: State, settings: JenkinsSettings, token: str, base_url: Callable[[], str]
    ) -> None:
        self.root = state.root / "jenkins"
        self.settings = settings
        self._state = state
        self._token = token
        self._base_url = base_url
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._running: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self._aborted: set[tuple[str, int]] = set()
        self._workspaces: set[Path] = set()
        self._stopping = threading.Event()

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the executors; builds the last run left running are ABORTED, the queue resumes."""
        waiting = []
        with self._state.transaction() as data:
            for job in data["jenkins"]["jobs"].values():
                for build in job["builds"]:
                    if build.get("building"):
                        build.update(building=False, result="ABORTED")
                        self._append(
                            build["job"], build["number"], b"Aborted: the sandbox stopped\n"
                        )
            for item in data["jenkins"]["queue"].values():
                if item.get("number") is None and not item.get("cancelled"):
                    waiting.append(item["id"])
        for queue_id in sorted(waiting):
            self._queue.put(queue_id)
        for slot in range(self.settings.executors):
            thread = threading.Thread(
                target=self._work, args=(slot,), name=f"sandbox-executor-{slot}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Abort running builds (their processes are killed), stop the executors.

        Builds still waiting in the queue stay there: the next start runs them.
        """
        self._stopping.set()
        with self._lock:
            running = list(self._running)
        for job, number in running:
            self.abort(job, number)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(STOP_GRACE_SECONDS * 2)
        self._threads = []

    def enqueue(self, queue_id: int) -> None:
        """Hand a queue item to the executors."""
        self._queue.put(queue_id)

    def abort(self, job: str, number: int) -> bool:
        """Stop a running build (Jenkins' Stop button): ABORTED; False if it is not running."""
        with self._lock:
            proc = self._running.get((job, number))
            if proc is None:
                return False
            self._aborted.add((job, number))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the build's own process group: groovy and its sh
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or building (tests and the demo sequence on it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._state.read() as data:
                busy = any(
                    i.get("number") is None and not i.get("cancelled")
                    for i in data["jenkins"]["queue"].values()
                ) or any(
                    b.get("building") for j in data["jenkins"]["jobs"].values() for b in j["builds"]
                )
            if not busy:
                return True
            time.sleep(0.05)
        return False

    # ---- files ---------------------------------------------------------------------------

    def build_dir(self, job: str, number: int) -> Path:
        return self.root / "jobs" / job / "builds" / str(number)

    def log_path(self, job: str, number: int) -> Path:
        return self.build_dir(job, number) / "log"

    def forget(self, job: str) -> None:
        """A deleted job's builds and workspace go with it."""
        shutil.rmtree(self.root / "jobs" / job, ignore_errors=True)
        shutil.rmtree(self.root / "workspace" / job, ignore_errors=True)

    def _append(self, job: str, number: int, text: bytes) -> None:
        path = self.log_path(job, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as log:
            log.write(text)

    @contextlib.contextmanager
    def _workspace(self, job: str) -> Iterator[Path]:
        """The job's workspace, or `<job>@2`, `@3`... while another build of it holds that one."""
        with self._lock:
            n = 1
            while (
                path := self.root / "workspace" / (job if n == 1 else f"{job}@{n}")
            ) in self._workspaces:
                n += 1
            self._workspaces.add(path)
        try:
            yield path
        finally:
            with self._lock:
                self._workspaces.discard(path)

    # ---- executors -----------------------------------------------------------------------

    def _work(self, slot: int) -> None:
        while True:
            queue_id = self._queue.get()
            if queue_id is None or self._stopping.is_set():
                return
            try:
                self._build(slot, queue_id)
            except Exception as e:  # a bug here must not take an executor away for good
                self._finish_broken(queue_id, f"sandbox error: {e!r}")

    def _begin(self, queue_id: int, slot: int) -> dict[str, Any] | None:
        """Leave the queue: the next build number, a build record that is building
        (with the executor it runs on, as /computer/api/json shows it)."""
        with self._state.transaction() as data:
            item = data["jenkins"]["queue"].get(str(queue_id))
            if not item or item.get("cancelled") or item.get("number") is not None:
                return None
            job = data["jenkins"]["jobs"].get(item["job"])
            if not job:  # deleted while its build waited
                item["cancelled"] = True
                return None
            number = job["next_build_number"]
            job["next_build_number"] += 1
            build = {
                "number": number,
                "queue_id": queue_id,
                "job": item["job"],
                "parameters": item.get("parameters", []),
                "submitted": item.get("submitted", {}),
                "timestamp": now_ms(),
                "building": True,
                "result": None,
                "duration": 0,
                "description": None,
                "display_name": f"#{number}",
                "executor": slot,
            }
            job["builds"].append(build)
            item["number"] = number
            return {
                "build": dict(build),
                "config": job["config_xml"],
                "cls": job["class"],
                "types": {p["name"]: p["type"] for p in job["parameters"]},
            }

    def _build(self, slot: int, queue_id: int) -> None:
        started = self._begin(queue_id, slot)
        if started is None:
            return
        build = started["build"]
        job, number = build["job"], build["number"]
        log_path = self.log_path(job, number)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        outcome: dict[str, Any] = {"result": "FAILURE"}
        with log_path.open("ab") as log, self._workspace(job) as workspace:
            log.write(f"Started by user {USER}\n".encode())
            log.flush()
            try:
                outcome = self._run(slot, started, workspace, log)
            except BuildFailed as e:
                log.write(f"ERROR: {e}\n".encode())
            if (job, number) in self._aborted:
                outcome["result"] = "ABORTED"
                log.write(f"Aborted by {USER}\n".encode())
            log.write(f"Finished: {outcome['result']}\n".encode())
        self._finish(job, number, outcome)

    def _run(
        self, slot: int, started: dict[str, Any], workspace: Path, log: IO[bytes]
    ) -> dict[str, Any]:
        """Prepare the pipeline, run groovy, read back the outcome."""
        record = started["build"]
        build = jenkins_pipeline.Build(
            job=record["job"],
            number=record["number"],
            slot=slot,
            config=started["config"],
            cls=started["cls"],
            parameters=record["parameters"],
            types=started["types"],
            workspace=workspace,
            result_file=self.build_dir(record["job"], record["number"]) / "result.json",
        )
        spec = jenkins_pipeline.spec(
            self.settings, self._token, self._base_url(), build, self.root, log
        )
        if spec is None:
            return {"result": "NOT_BUILT"}
        exe = groovy_cli.groovy()
        if exe is None:
            raise BuildFailed(f"no groovy to run the pipeline: {groovy_cli.INSTALL_HINT}")
        code = self._groovy(exe, build.job, build.number, spec, log)
        try:
            outcome: dict[str, Any] = json.loads(build.result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BuildFailed(
                f"the pipeline runner stopped without a result (exit {code})"
            ) from None
        return outcome

    def _groovy(self, exe: str, job: str, number: int, spec: dict[str, Any], log: IO[bytes]) -> int:
        """Run one build's groovy process, its output appended to the log as it comes."""
        # The JVM (and Debian's groovy launcher script) run with the sandbox's own PATH;
        # the pipeline's steps get the agent's environment from the spec.
        jvm_env = {**self.settings.agent_env(self._token), "PATH": os.environ.get("PATH", "")}
        jvm_env = groovy_cli.environment(jvm_env)
        proc = subprocess.Popen(
            [exe, "-cp", groovy_cli.runner_classpath(), str(RUN_BUILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=jvm_env,
            cwd=self.root,
            start_new_session=True,  # its own process group, so Stop ends its sh steps too
        )
        with self._lock:
            self._running[(job, number)] = proc
        try:
            assert proc.stdin and proc.stdout  # noqa: S101 - Popen with PIPEs
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(json.dumps(spec).encode())
                proc.stdin.close()
            for line in proc.stdout:
                log.write(line)
                log.flush()
            return proc.wait()
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()
            with self._lock:
                self._running.pop((job, number), None)

    def _finish(self, job: str, number: int, outcome: dict[str, Any]) -> None:
        with self._state.transaction() as data:
            record = data["jenkins"]["jobs"].get(job)
            for build in (record or {}).get("builds", []):
                if build["number"] == number:
                    build.update(
                        building=False,
                        result=outcome.get("result") or "FAILURE",
                        duration=now_ms() - build["timestamp"],
                        description=outcome.get("description"),
                        display_name=outcome.get("displayName") or f"#{number}",
                    )
            declared = outcome.get("parameters")
            if record is not None and declared:
                # Declarative `parameters { }` become the job's parameters, as on Jenkins.
                record["parameters"] = [
                    {
                        "name": p["name"],
                        "type": p["type"],
                        "default": str(p.get("defaultValue", "")).lower()
                        if isinstance(p.get("defaultValue"), bool)
                        else str(p.get("defaultValue", "")),
                        "description": p.get("description", ""),
                    }
                    for p in declared
                ]
        with self._lock:
            self._aborted.discard((job, number))

    def _finish_broken(self, queue_id: int, message: str) -> None:
        """A sandbox bug broke the build: it ends FAILURE (or, not started, leaves the queue)."""
        with self._state.transaction() as data:
            item = data["jenkins"]["queue"].get(str(queue_id)) or {}
            if item and item.get("number") is None:
                item["cancelled"] = True
        if item.get("number") is not None:
            self._append(
                item["job"], item["number"], f"ERROR: {message}\nFinished: FAILURE\n".encode()
            )
            self._finish(item["job"], item["number"], {"result": "FAILURE"})
