"""Running Jenkins builds: a queue, executor threads, one `groovy` process per build.

As on Jenkins, a triggered build first waits in the queue; a free executor takes
it, gives it the next build number (the queue item then points at the build),
and runs it: `building: true, result: null` until it ends SUCCESS, UNSTABLE,
FAILURE, ABORTED (stopped, timed out, or the sandbox stopped) or NOT_BUILT (a job
kind the sandbox does not run, or superseded by a newer build). The pipeline runs
in `groovy` over `jenkins_runner/RunBuild.groovy` (the runner the Groovy tests of
vars/ use too), which gets the build as one line of JSON on stdin (credentials
included, so never on a command line or on disk) and streams the console to
stdout, appended here to the build's log file as it comes. Later lines on its
stdin interrupt it (Stop, a newer build): the running step is stopped, `post`
runs, the build ends with the interruption's result and cause; a runner that
does not end within INTERRUPT_GRACE_SECONDS is killed (STOP_GRACE_SECONDS when the
sandbox itself stops).

The job properties a declarative `options { }` sets (the runner writes them as
the build starts) act as on Jenkins:

- `disableConcurrentBuilds()`: a build waits in the queue while another of the
  job runs, "Build #1 is already in progress (ETA: N/A)" (WorkflowJob's
  getCauseOfBlockage, core's BlockedBecauseOfBuildInProgress);
  `disableConcurrentBuilds(abortPrevious: true)`: the new build starts and
  interrupts the running one with NOT_BUILT, "Superseded by #2" (WorkflowRun.run,
  DisableConcurrentBuildsJobProperty.CancelledCause);
- `buildDiscarder(logRotator(numToKeepStr: 'N', daysToKeepStr: 'D'))`: after each
  build, the builds beyond the newest N (or older than D days) are deleted, except
  the last successful (SUCCESS or UNSTABLE) and last stable builds and those still
  building (core's LogRotator.perform).

Files under `<state>/jenkins/`: `jobs/<job>/builds/<n>/log` (consoleText),
`.../<n>/junitResult.json` (the `junit` steps' TestResult), `.../<n>/properties.json`
(the job properties the build set), `workspace/<job>` (kept between builds, as
Jenkins keeps it; `<job>@2` for a second build running at the same time),
`scm/<job>.git` (Jenkinsfile cache).
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
STOP_GRACE_SECONDS = 5.0  # a runner the sandbox's own stop interrupts, then kills
INTERRUPT_GRACE_SECONDS = 20.0  # Stop, a newer build: time for the steps to end and post to run
USER = "admin"
DAY_MS = 86_400_000


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
        # Why a build was interrupted: (result, cause), e.g. ("ABORTED", "Aborted by admin").
        self._aborted: dict[tuple[str, int], tuple[str, str]] = {}
        self._blocked: dict[str, list[int]] = {}  # job -> queue items waiting for its build
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
            self.abort(job, number, grace=STOP_GRACE_SECONDS)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(STOP_GRACE_SECONDS * 2)
        self._threads = []

    def enqueue(self, queue_id: int) -> None:
        """Hand a queue item to the executors."""
        self._queue.put(queue_id)

    def abort(
        self,
        job: str,
        number: int,
        result: str = "ABORTED",
        cause: str = f"Aborted by {USER}",
        grace: float = INTERRUPT_GRACE_SECONDS,
    ) -> bool:
        """Interrupt a running build (Jenkins' Stop button: ABORTED, "Aborted by admin");
        False if it is not running.

        As Executor.interrupt: the running step is stopped and `post` still runs; the
        build ends with `result`, `cause` printed at its end. A build whose runner does
        not end within `grace` seconds is killed, with its steps' processes.
        """
        with self._lock:
            proc = self._running.get((job, number))
            if proc is None:
                return False
            self._aborted.setdefault((job, number), (result, cause))
            command = {"interrupt": {"result": result, "cause": cause}}
            with contextlib.suppress(OSError, ValueError):  # it ended, its stdin closed
                assert proc.stdin is not None  # noqa: S101 - Popen with a PIPE
                proc.stdin.write(json.dumps(command).encode() + b"\n")
                proc.stdin.flush()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # its own process group: groovy and its sh
            try:
                proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        return True

    def job_properties(self, job: str, record: dict[str, Any] | None = None) -> dict[str, Any]:
        """The job properties the job's declarative `options { }` set, as Jenkins has them now.

        A build sets them as it starts (its `properties.json`, read while it runs); the
        job keeps them (`job_properties`) when it ends. `record`: the job's, when the
        caller reads the state already. Keys: `buildDiscarder` (numToKeep, daysToKeep,
        ...; -1 keeps all) and `disableConcurrentBuilds` (abortPrevious).
        """
        if record is None:
            with self._state.read() as data:
                return self.job_properties(job, data["jenkins"]["jobs"].get(job) or {})
        running = [b["number"] for b in record.get("builds", []) if b.get("building")]
        for number in sorted(running, reverse=True):
            path = self.build_dir(job, number) / "properties.json"
            with contextlib.suppress(OSError, ValueError):
                found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return found
        return dict(record.get("job_properties") or {})

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
        (with the executor it runs on, as /computer/api/json shows it).

        None when the item is gone, or must wait: the job does not allow concurrent
        builds and one is running (the item then says why, and runs when it ends).
        """
        with self._state.transaction() as data:
            item = data["jenkins"]["queue"].get(str(queue_id))
            if not item or item.get("cancelled") or item.get("number") is not None:
                return None
            job = data["jenkins"]["jobs"].get(item["job"])
            if not job:  # deleted while its build waited
                item["cancelled"] = True
                return None
            running = [b["number"] for b in job["builds"] if b.get("building")]
            serial = self.job_properties(item["job"], job).get("disableConcurrentBuilds")
            if running and serial is not None and not serial.get("abortPrevious"):
                # BlockedBecauseOfBuildInProgress; the sandbox makes no estimate (Executor:
                # "N/A" without one).
                item.update(
                    blocked=True, why=f"Build #{max(running)} is already in progress (ETA: N/A)"
                )
                with self._lock:
                    self._blocked.setdefault(item["job"], []).append(queue_id)
                return None
            item.pop("blocked", None)
            item.pop("why", None)
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
                "previous": max(running, default=None),
                "properties": self.job_properties(item["job"], job),
            }

    def _build(self, slot: int, queue_id: int) -> None:
        started = self._begin(queue_id, slot)
        if started is None:
            return
        build = started["build"]
        job, number = build["job"], build["number"]
        log_path = self.log_path(job, number)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        outcome: dict[str, Any] | None = {"result": "FAILURE"}
        with log_path.open("ab") as log, self._workspace(job) as workspace:
            log.write(f"Started by user {USER}\n".encode())
            log.flush()
            try:
                outcome = self._run(slot, started, workspace, log)
            except BuildFailed as e:
                log.write(f"{e}\n".encode() if e.raw else f"ERROR: {e}\n".encode())
            with self._lock:
                interrupted = self._aborted.get((job, number))
            if outcome is None:  # the runner was killed, or died, before writing its result
                if interrupted:
                    log.write(f"{interrupted[1]}\n".encode())
                    outcome = {"result": interrupted[0]}
                else:
                    log.write(b"ERROR: the pipeline runner stopped without a result\n")
                    outcome = {"result": "FAILURE"}
            log.write(f"Finished: {outcome['result']}\n".encode())
        self._finish(job, number, outcome)

    def _run(
        self, slot: int, started: dict[str, Any], workspace: Path, log: IO[bytes]
    ) -> dict[str, Any] | None:
        """Prepare the pipeline, run groovy, read back the outcome (None: the runner left none)."""
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
        serial = started["properties"].get("disableConcurrentBuilds") or {}
        if serial.get("abortPrevious") and started["previous"] is not None:
            # WorkflowRun.run: once the new build's pipeline starts, the running one is
            # interrupted, NOT_BUILT (in the background: it may take a while to end).
            threading.Thread(
                target=self.abort,
                args=(
                    build.job,
                    started["previous"],
                    "NOT_BUILT",
                    f"Superseded by #{build.number}",
                ),
                name="sandbox-supersede",
                daemon=True,
            ).start()
        self._groovy(exe, build.job, build.number, spec, log)
        try:
            outcome: dict[str, Any] = json.loads(build.result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
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
            start_new_session=True,  # its own process group, so a kill ends its sh steps too
        )
        assert proc.stdin and proc.stdout  # noqa: S101 - Popen with PIPEs
        with self._lock:
            self._running[(job, number)] = proc
            # The spec on one line; the pipe stays open for interruptions (abort).
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(json.dumps(spec).encode() + b"\n")
                proc.stdin.flush()
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
            return proc.wait()
        finally:
            proc.stdout.close()
            proc.wait()
            with self._lock:
                self._running.pop((job, number), None)
                with contextlib.suppress(OSError):
                    proc.stdin.close()

    def _finish(self, job: str, number: int, outcome: dict[str, Any]) -> None:
        discarded: list[int] = []
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
                    if outcome.get("tests"):  # the TestResultAction's counts
                        build["tests"] = outcome["tests"]
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
            if record is not None and outcome.get("jobProperties") is not None:
                record["job_properties"] = outcome["jobProperties"]
            if record is not None:
                discarded = self._rotate(job, record)
        for gone in discarded:
            shutil.rmtree(self.build_dir(job, gone), ignore_errors=True)
        with self._lock:
            self._aborted.pop((job, number), None)
            waiting = self._blocked.pop(job, [])
        for queue_id in waiting:  # the next one runs; the others wait again
            self._queue.put(queue_id)

    def _rotate(self, job: str, record: dict[str, Any]) -> list[int]:
        """LogRotator.perform after a build: the numbers of the builds it deletes (gone
        from the job already; their directories are the caller's to remove)."""
        rotator = self.job_properties(job, record).get("buildDiscarder") or {}
        keep, days = int(rotator.get("numToKeep", -1)), int(rotator.get("daysToKeep", -1))
        builds = sorted(record["builds"], key=lambda b: b["number"], reverse=True)
        done = [b for b in builds if not b.get("building")]
        successful = next((b for b in done if b.get("result") in ("SUCCESS", "UNSTABLE")), None)
        stable = next((b for b in done if b.get("result") == "SUCCESS"), None)

        def kept(b: dict[str, Any]) -> bool:  # shouldKeepRun
            return b is successful or b is stable or bool(b.get("building"))

        gone = []
        if keep != -1:
            gone += [b for b in builds[keep:] if not kept(b)]
        if days != -1:
            cutoff = now_ms() - days * DAY_MS
            gone += [b for b in builds if b["timestamp"] < cutoff and not kept(b) and b not in gone]
        numbers = {b["number"] for b in gone}
        record["builds"] = [b for b in record["builds"] if b["number"] not in numbers]
        return sorted(numbers)

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
