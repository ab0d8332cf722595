"""Jenkins' JSON (the remote access API, `.../api/json`): exported objects, `tree` and `depth`.

Jenkins writes its API from `@ExportedBean` objects through Stapler's exporter
(jenkinsci/stapler, core/src/main/java/org/kohsuke/stapler/export/): every object
is a `Bean` here, with all of its exported properties, nested objects as beans
(computed only when written), and each property's `@Exported(visibility=N)`.
What one request gets is decided as Stapler decides it (`Property.writeTo`,
`TreePruner`, `NamedPathPruner`):

- `?depth=N` (default 0; `TreePruner.ByDepth(1 - depth)`): a property is written
  when its visibility is at least the level it sits at; the top object's
  properties are at level `1 - depth`, a nested object's one level deeper, and an
  `inline` property's objects stay at their owner's level. So at depth 0 a job's
  builds show `number` and `url` (visibility 2) and no more, and `depth=1` shows
  whole builds.
- `?tree=a,b[c,d[e]]{M,N}` (`NamedPathPruner`): only the named properties, at any
  depth, `*` for any name; `{M,N}` (from M inclusive to N exclusive), `{M,}`, `{,N}`
  and `{N}` cut a list. A malformed expression is a 500 ("Malformed tree
  expression", a ServletException), as is a `depth` that is not a number.

`_class` is written for an object whose class differs from the property's
declared type (`ClassAttributeBehaviour.IF_NEEDED`): build references, queue
items and the top object carry it; a label (`{"name": "built-in"}`), an
executor of a computer or a plugin do not. Lists and plain maps take no level of
their own; a range applies to the list it follows.

The shapes follow Jenkins 2.462.3 (core/src/main/java/hudson/model/Job.java,
Run.java, Queue.java, Computer.java, Executor.java, hudson/PluginWrapper.java)
and the Pipeline plugins (workflow-job's WorkflowJob and WorkflowRun,
workflow-durable-task-step's ExecutorStepExecution.PlaceholderExecutable).
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_sandbox.jenkins_jobs import WORKFLOW

# Jenkins' permalinks: /job/<name>/lastBuild/... names a build by what it is, and a job's
# api/json has each (core PermalinkProjectAction.Permalink: "successful" is UNSTABLE or
# better, "stable" SUCCESS only; all but lastBuild only once the build has ended).
PERMALINKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "lastBuild": lambda b: True,
    "lastCompletedBuild": lambda b: not b.get("building"),
    "lastFailedBuild": lambda b: not b.get("building") and b.get("result") == "FAILURE",
    "lastStableBuild": lambda b: not b.get("building") and b.get("result") == "SUCCESS",
    "lastSuccessfulBuild": lambda b: (
        not b.get("building") and b.get("result") in ("SUCCESS", "UNSTABLE")
    ),
    "lastUnstableBuild": lambda b: not b.get("building") and b.get("result") == "UNSTABLE",
    "lastUnsuccessfulBuild": lambda b: not b.get("building") and b.get("result") != "SUCCESS",
}

USER = "admin"
RUN_CLASSES = {
    f"{WORKFLOW}WorkflowJob": f"{WORKFLOW}WorkflowRun",
    "hudson.model.FreeStyleProject": "hudson.model.FreeStyleBuild",
}
# The ball colour of a job: its last completed build's result.
COLORS = {"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red", "ABORTED": "aborted"}
# Job.getNewBuilds(): `builds` is the newest 100; `allBuilds` (visibility -2) has all.
NEW_BUILDS = 100
BUILT_IN = "Built-In Node"  # Jenkins.MasterComputer.getDisplayName (Hudson.Computer.DisplayName)
PLACEHOLDER = (
    "org.jenkinsci.plugins.workflow.support.steps."
    "ExecutorStepExecution$PlaceholderTask$PlaceholderExecutable"
)
ALL = (0, 2**31 - 1)  # Range.ALL

Url = Callable[..., str]


# ---- the exporter ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bean:
    """One exported object: `_class` (None where Jenkins leaves it out) and its properties.

    A property's value may be a zero-argument callable: it is computed only when
    the property is written. `visibility` holds the properties whose
    `@Exported(visibility=N)` is not 1; `inline` the `@Exported(inline=true)` ones.
    """

    cls: str | None
    props: Mapping[str, Any]
    visibility: Mapping[str, int] = field(default_factory=dict)
    inline: frozenset[str] = frozenset()


class Pruner(Protocol):
    """Stapler's TreePruner: which properties of an object to write, and a list's range."""

    @property
    def span(self) -> tuple[int, int]: ...

    def accept(self, owner: Bean, name: str) -> Pruner | None: ...


@dataclass(frozen=True)
class ByDepth:
    """`?depth=`: properties visible at level `n` (TreePruner.ByDepth)."""

    n: int
    span: tuple[int, int] = ALL

    def accept(self, owner: Bean, name: str) -> Pruner | None:
        if owner.visibility.get(name, 1) < self.n:
            return None
        return self if name in owner.inline else ByDepth(self.n + 1)


@dataclass
class Tree:
    """`?tree=`: the named properties and, under each, its own tree (NamedPathPruner)."""

    children: dict[str, Tree] = field(default_factory=dict)
    span: tuple[int, int] = ALL

    def accept(self, owner: Bean, name: str) -> Pruner | None:
        found = self.children.get(name)
        return found if found is not None else self.children.get("*")


class TreeError(ValueError):
    """A `tree` expression Stapler's parser refuses (NamedPathPruner.parse)."""


_TOKENS = {",": "COMMA", "[": "LBRACE", "]": "RBRACE", "{": "QLBRACE", "}": "QRBRACE"}


class _Reader:
    """The tokens of a tree expression: `,` `[` `]` `{` `}` and the names between them."""

    SPECIAL = ",[]{}"

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def peek(self) -> str | None:
        """The next token: one special character, a name, or None at the end."""
        if self.pos == len(self.text):
            return None
        if self.text[self.pos] in self.SPECIAL:
            return self.text[self.pos]
        end = min(
            (i for i in (self.text.find(c, self.pos) for c in self.SPECIAL) if i != -1),
            default=len(self.text),
        )
        return self.text[self.pos : end]

    def name(self) -> str:
        token = self.peek()
        if token is None or token in self.SPECIAL:
            raise TreeError(f"expected name at {self.pos}")
        self.pos += len(token)
        return token

    def accept(self, token: str) -> bool:
        if self.peek() == token:
            self.pos += 1
            return True
        return False

    def expect(self, token: str | None) -> None:
        if self.peek() != token:
            raise TreeError(f"expected {_TOKENS.get(token or '', 'EOF')} at {self.pos}")
        self.pos += 1 if token else 0

    def number(self) -> int:
        token = self.peek()
        if token is None or not token.isdigit() or not token.isascii():
            raise TreeError(f"expected number at {self.pos}")
        self.pos += len(token)
        return int(token)


def parse_tree(spec: str) -> Tree:
    """A `tree` expression as Stapler parses it: `a,b[c]{0,10}`; TreeError if malformed."""
    reader = _Reader(spec)
    tree = Tree()
    _list(reader, tree)
    reader.expect(None)
    return tree


def _list(reader: _Reader, tree: Tree) -> None:
    while True:
        sub = tree.children[reader.name()] = Tree()
        if reader.accept("["):
            _list(reader, sub)
            reader.expect("]")
        if reader.accept("{"):
            sub.span = _range(reader)
            reader.expect("}")
        if not reader.accept(","):
            return


def _range(reader: _Reader) -> tuple[int, int]:
    """`{M,N}`, `{M,}`, `{,N}`, `{N}` (NamedPathPruner.parseRange)."""
    if reader.accept(","):
        return (0, reader.number())
    low = reader.number()
    if reader.peek() == "}":
        return (low, low + 1)
    reader.expect(",")
    return (low, ALL[1]) if reader.peek() == "}" else (low, reader.number())


def pruner(tree: str | None, depth: str | None) -> Pruner:
    """The pruner a request asks for (ResponseImpl.serveExposedBean); ValueError if bad."""
    if tree is not None:
        try:
            return parse_tree(tree)
        except TreeError as e:
            raise ValueError(
                f"Malformed tree expression: java.lang.IllegalArgumentException: {e}"
            ) from e
    try:
        levels = int(depth) if depth is not None else 0
    except ValueError:
        raise ValueError("Depth parameter must be a number") from None
    return ByDepth(1 - levels)


def render(value: Any, prune: Pruner) -> Any:
    """`value` as JSON, its objects pruned (Property.writeValue)."""
    if callable(value):
        value = value()
    if isinstance(value, Bean):
        out: dict[str, Any] = {"_class": value.cls} if value.cls else {}
        for name, prop in value.props.items():
            child = prune.accept(value, name)
            if child is not None:
                out[name] = render(prop, child)
        return out
    if isinstance(value, list | tuple):
        low, high = prune.span
        return [render(item, prune) for item in value[low:high]]
    if isinstance(value, dict):
        return {str(k): render(v, prune) for k, v in value.items()}
    return value


# ---- jobs and builds ---------------------------------------------------------------------


def color(job: dict[str, Any]) -> str:
    """`blue`, `red`, ... of the last completed build; `_anime` while one is building."""
    if job["disabled"]:
        return "disabled"
    done = [b for b in job["builds"] if not b.get("building")]
    base = COLORS.get(done[-1].get("result") or "", "notbuilt") if done else "notbuilt"
    return f"{base}_anime" if any(b.get("building") for b in job["builds"]) else base


def _serial(job: dict[str, Any]) -> bool:
    serial = (job.get("job_properties") or {}).get("disableConcurrentBuilds")
    return serial is not None and not serial.get("abortPrevious")


def buildable(job: dict[str, Any]) -> bool:
    """ParameterizedJob.isBuildable: enabled, and not a copy whose config was never saved."""
    return not job["disabled"] and not job.get("hold_off_build")


def _run_class(job: dict[str, Any]) -> str:
    return RUN_CLASSES.get(job["class"], "hudson.model.Run")


def _cause() -> Bean:
    # Cause.getShortDescription and UserIdCause's userId/userName: @Exported(visibility = 3).
    return Bean(
        "hudson.model.Cause$UserIdCause",
        {"shortDescription": f"Started by user {USER}", "userId": USER, "userName": USER},
        {"shortDescription": 3, "userId": 3, "userName": 3},
    )


def _test_action(b: dict[str, Any]) -> list[Bean]:
    """The junit steps' TestResultAction (AbstractTestResultAction's counts, visibility 2)."""
    tests = b.get("tests")
    if not tests:
        return []
    counts = {k: tests[k] for k in ("failCount", "skipCount", "totalCount")}
    shown = dict.fromkeys(counts, 2)
    return [Bean("hudson.tasks.junit.TestResultAction", {**counts, "urlName": "testReport"}, shown)]


def actions(parameters: list[dict[str, Any]]) -> list[Bean]:
    """A build's (or queue item's) actions: its parameters and cause.

    CauseAction.getCauses and ParametersAction.getParameters are
    @Exported(visibility = 2), ParameterValue's properties visibility 3, so at
    depth 0 a build shows them whole.
    """
    found = [Bean("hudson.model.CauseAction", {"causes": [_cause()]}, {"causes": 2})]
    if parameters:
        values = [
            Bean(
                "hudson.model.StringParameterValue",
                {"name": p["name"], "value": p["value"]},
                {"name": 3, "value": 3},
            )
            for p in parameters
        ]
        found.insert(
            0, Bean("hudson.model.ParametersAction", {"parameters": values}, {"parameters": 2})
        )
    return found


@dataclass(frozen=True)
class Model:
    """The state's jobs and the URL maker: everything a bean of a job, build or queue item needs.

    Used while the state is read-locked (beans are rendered under the same lock).
    """

    jobs: Mapping[str, dict[str, Any]]
    url: Url
    queue: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    # -- builds --

    def build(self, name: str, b: dict[str, Any], *, typed: bool = True) -> Bean:
        """A build (Run / WorkflowRun): whole, as `job/<name>/<n>/api/json` writes it.

        `typed=False` where the declared type is the run's own class (WorkflowRun's
        previousBuild/nextBuild), so Jenkins writes no `_class` there.
        """
        job = self.jobs[name]
        number = b["number"]
        building = bool(b.get("building"))
        return Bean(
            _run_class(job) if typed else None,
            {
                "actions": lambda: actions(b["parameters"]) + _test_action(b),
                "artifacts": [],
                "building": building,
                "description": b.get("description"),
                "displayName": b.get("display_name") or f"#{number}",
                "duration": b.get("duration", 0),
                "estimatedDuration": -1,
                "executor": (lambda: self.run_executor(name, b)) if building else None,
                "fullDisplayName": f"{name} #{number}",
                "id": str(number),
                "inProgress": building,
                "keepLog": False,
                "number": number,
                "queueId": b["queue_id"],
                "result": b.get("result"),
                "timestamp": b["timestamp"],
                "url": self.url("job", name, str(number)),
                "changeSets": [],
                "culprits": [],
                "nextBuild": lambda: self._neighbour(name, number, later=True),
                "previousBuild": lambda: self._neighbour(name, number, later=False),
            },
            # Run.getNumber and Run.getAbsoluteUrl: @Exported(visibility = 2).
            {"number": 2, "url": 2},
        )

    def _neighbour(self, name: str, number: int, *, later: bool) -> Bean | None:
        builds = self.jobs[name]["builds"]
        found = [b for b in builds if (b["number"] > number if later else b["number"] < number)]
        if not found:
            return None
        pick = min if later else max
        return self.build(name, pick(found, key=lambda b: b["number"]), typed=False)

    def run_executor(self, name: str, b: dict[str, Any]) -> Bean:
        """Run.getExecutor: a Pipeline run's flyweight OneOffExecutor; another run's slot."""
        if self.jobs[name]["class"] == f"{WORKFLOW}WorkflowJob":
            return executor("hudson.model.OneOffExecutor", -1, lambda: self.build(name, b))
        return executor(None, int(b.get("executor") or 0), lambda: self.build(name, b))

    def placeholder(self, name: str, b: dict[str, Any]) -> Bean:
        """What a Pipeline build's `node` block holds a node's executor with.

        ExecutorStepExecution.PlaceholderTask.PlaceholderExecutable
        (workflow-durable-task-step): the run's number, timestamp and absolute
        `url`, and "part of <job> #<n>" as its names.
        """
        shown = f"part of {name} #{b['number']}"
        return Bean(
            PLACEHOLDER,
            {
                "number": b["number"],
                "fullDisplayName": shown,
                "displayName": shown,
                "estimatedDuration": -1,
                "timestamp": b["timestamp"],
                "url": self.url("job", name, str(b["number"])),
            },
        )

    # -- jobs --

    def job(self, name: str) -> Bean:
        """A job (WorkflowJob, FreeStyleProject), whole: `job/<name>/api/json`."""
        job = self.jobs[name]

        def newest() -> list[dict[str, Any]]:
            return sorted(job["builds"], key=lambda b: b["number"], reverse=True)

        def last(test: Callable[[dict[str, Any]], bool]) -> Callable[[], Bean | None]:
            def pick() -> Bean | None:
                found = [b for b in newest() if test(b)]
                return self.build(name, found[0]) if found else None

            return pick

        waiting = self.waiting_record(name)
        return Bean(
            job["class"],
            {
                "actions": [],
                "description": job["description"],
                "displayName": name,
                "displayNameOrNull": None,
                "fullDisplayName": name,
                "fullName": name,
                "name": name,
                "url": self.url("job", name),
                "buildable": buildable(job),
                "builds": lambda: [self.build(name, b) for b in newest()[:NEW_BUILDS]],
                "allBuilds": lambda: [self.build(name, b) for b in newest()],
                "color": color(job),
                "firstBuild": lambda: self.build(name, newest()[-1]) if job["builds"] else None,
                "healthReport": [],
                "inQueue": waiting is not None,
                "keepDependencies": False,
                **{name: last(test) for name, test in PERMALINKS.items()},
                "nextBuildNumber": job["next_build_number"],
                "property": _properties(job["parameters"]),
                "queueItem": (lambda: self.queue_item(waiting)) if waiting else None,
                # WorkflowJob.isConcurrentBuild: false only under disableConcurrentBuilds()
                # without abortPrevious (a job property the sandbox's builds set).
                "concurrentBuild": not _serial(job),
                "disabled": job["disabled"],
                "resumeBlocked": False,
            },
            # AbstractItem name/url: 999; Job.getIconColor: 2; Job.getBuilds ("allBuilds"): -2.
            {"name": 999, "url": 999, "color": 2, "allBuilds": -2},
            # Job.getAllProperties: @Exported(name = "property", inline = true).
            frozenset({"property"}),
        )

    # -- the queue --

    def waiting_record(self, name: str) -> dict[str, Any] | None:
        """The job's queue item still waiting for an executor, if any."""
        for item in sorted(self.queue.values(), key=lambda i: i["id"]):
            if item["job"] == name and item.get("number") is None and not item.get("cancelled"):
                return item
        return None

    def queue_item(self, item: dict[str, Any]) -> Bean:
        """A queue item: waiting for an executor, or left (to its build, or cancelled).

        Queue.Item is @ExportedBean(defaultVisibility = 999): its properties show at
        any depth; its `actions` (Actionable's) do not, nor its task's colour.
        """
        name = item["job"]
        job = self.jobs.get(name)
        build = next(
            (b for b in (job or {}).get("builds", []) if b["number"] == item.get("number")), None
        )
        waiting = build is None and not item.get("cancelled")
        # Held back by its job (disableConcurrentBuilds: jenkins_executors sets `why`).
        blocked = waiting and bool(item.get("blocked"))
        props: dict[str, Any] = {
            "actions": actions(item.get("parameters", [])),
            "blocked": blocked,
            "buildable": waiting and not blocked,
            "id": item["id"],
            "inQueueSince": item.get("in_queue_since", 0),
            "params": "".join(f"\n{p['name']}={p['value']}" for p in item.get("parameters", [])),
            "stuck": False,
            "task": lambda: self._task(name, job),
            "url": f"queue/item/{item['id']}/",
            "why": (item.get("why") if blocked else "Waiting for next available executor")
            if waiting
            else None,
        }
        if not waiting:
            props["cancelled"] = bool(item.get("cancelled"))
            props["executable"] = self.build(name, build) if job and build else None
        shown = {k: 999 for k in props if k != "actions"}
        kind = "BlockedItem" if blocked else ("WaitingItem" if waiting else "LeftItem")
        return Bean(f"hudson.model.Queue${kind}", props, shown)

    def _task(self, name: str, job: dict[str, Any] | None) -> Bean:
        if job is not None and name in self.jobs:
            return self.job(name)
        return Bean(
            "hudson.model.FreeStyleProject",
            {"name": name, "url": self.url("job", name), "color": "notbuilt"},
            {"name": 999, "url": 999, "color": 2},
        )


def executor(cls: str | None, number: int, executable: Callable[[], Bean] | None) -> Bean:
    """An executor: currentExecutable, idle, likelyStuck, number, progress (visibility 1)."""
    return Bean(
        cls,
        {
            "currentExecutable": executable,
            "idle": executable is None,
            "likelyStuck": False,
            "number": number,
            "progress": -1,  # no estimated duration (Executor.getProgress)
        },
    )


def _properties(parameters: list[dict[str, Any]]) -> list[Bean]:
    """The job's properties: its parameter definitions, if any.

    ParameterDefinition and ParameterValue are @ExportedBean(defaultVisibility = 3).
    """
    if not parameters:
        return []
    definitions = [
        Bean(
            f"hudson.model.{p['type']}",
            {
                "defaultParameterValue": Bean(
                    "hudson.model.StringParameterValue",
                    {"name": p["name"], "value": p["default"]},
                    {"name": 3, "value": 3},
                ),
                "description": p["description"],
                "name": p["name"],
                "type": p["type"],
            },
            {"defaultParameterValue": 3, "description": 3, "name": 3, "type": 3},
        )
        for p in parameters
    ]
    return [
        Bean(
            "hudson.model.ParametersDefinitionProperty",
            {"parameterDefinitions": definitions},
        )
    ]


def queue(jobs: Model) -> Bean:
    """`queue/api/json`: the items waiting for an executor (Queue.getItems, inline)."""
    items = [
        jobs.queue_item(i)
        for i in sorted(jobs.queue.values(), key=lambda i: i["id"])
        if i.get("number") is None and not i.get("cancelled")
    ]
    return Bean(
        "hudson.model.Queue",
        {"discoverableItems": [], "items": items},
        inline=frozenset({"discoverableItems", "items"}),
    )


# ---- the controller ----------------------------------------------------------------------


def _view(url: Url) -> Bean:
    # View.getViewName / getAbsoluteUrl: @Exported(visibility = 2, ...).
    return Bean("hudson.model.AllView", {"name": "all", "url": url()}, {"name": 2, "url": 2})


def _label() -> Bean:
    # Label.getName: @Exported(visibility = 2); the declared type: no _class.
    return Bean(None, {"name": "built-in"}, {"name": 2})


def controller(jobs: Model, executors: int) -> Bean:
    """`api/json`: the controller (hudson.model.Hudson) with its jobs and views."""
    return Bean(
        "hudson.model.Hudson",
        {
            "assignedLabels": [_label()],
            "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "",
            "numExecutors": executors,
            "description": None,
            "jobs": lambda: [jobs.job(n) for n in sorted(jobs.jobs)],
            "overallLoad": Bean(None, {}),
            "primaryView": _view(jobs.url),
            "quietDownReason": None,
            "quietingDown": False,
            "slaveAgentPort": -1,
            "unlabeledLoad": Bean("jenkins.model.UnlabeledLoadStatistics", {}),
            "url": jobs.url(),
            "useCrumbs": True,
            "useSecurity": True,
            "views": [_view(jobs.url)],
        },
    )


def _disk(path: str) -> Bean:
    # DiskSpaceMonitorDescriptor.DiskSpace: path, size (free bytes), totalSize.
    usage = shutil.disk_usage(path)
    return Bean(
        "hudson.node_monitors.DiskSpaceMonitorDescriptor$DiskSpace",
        {"path": path, "size": usage.free, "totalSize": usage.total},
    )


def _monitors(home: str) -> dict[str, Any]:
    """Computer.getMonitorData: what the node monitors last saw of the built-in node."""
    arch = f"{platform.system()} ({platform.machine()})"
    return {
        "hudson.node_monitors.ArchitectureMonitor": arch,
        "hudson.node_monitors.ClockMonitor": Bean("hudson.util.ClockDifference", {"diff": 0}),
        "hudson.node_monitors.DiskSpaceMonitor": _disk(home),
        "hudson.node_monitors.TemporarySpaceMonitor": _disk(os.environ.get("TMPDIR", "/tmp")),  # noqa: S108
    }


def built_in(jobs: Model, executors: int, home: str) -> Bean:
    """`computer/(built-in)/api/json`: the built-in node (Hudson$MasterComputer).

    Its `executors` are the N executor slots; a running build's slot holds what a
    Pipeline's `node` holds it with (a PlaceholderExecutable; another job's build
    holds it with the run itself), and each running Pipeline build also has its
    OneOffExecutor in `oneOffExecutors` (the flyweight task a WorkflowRun is).
    """
    running = [
        (name, b)
        for name, job in sorted(jobs.jobs.items())
        for b in sorted(job["builds"], key=lambda b: b["number"])
        if b.get("building")
    ]
    slots: dict[int, tuple[str, dict[str, Any]]] = {}
    for name, b in running:  # each on the executor it runs on (its EXECUTOR_NUMBER)
        slot = b.get("executor")
        if isinstance(slot, int) and 0 <= slot < executors and slot not in slots:
            slots[slot] = (name, b)
    placed = {id(b) for _, b in slots.values()}
    for name, b in running:  # a record from before builds named their executor
        free = next((i for i in range(executors) if i not in slots), None)
        if id(b) not in placed and free is not None:
            slots[free] = (name, b)

    def holding(slot: int) -> Callable[[], Bean] | None:
        if slot not in slots:
            return None
        name, b = slots[slot]
        if jobs.jobs[name]["class"] == f"{WORKFLOW}WorkflowJob":
            return lambda: jobs.placeholder(name, b)
        return lambda: jobs.build(name, b)

    executor_list = [executor(None, i, holding(i)) for i in range(executors)]
    one_offs = [
        executor(None, -1, (lambda n=name, r=b: jobs.build(n, r)))
        for name, b in running
        if jobs.jobs[name]["class"] == f"{WORKFLOW}WorkflowJob"
    ]
    return Bean(
        "hudson.model.Hudson$MasterComputer",
        {
            "actions": [],
            "assignedLabels": [_label()],
            "description": "the Jenkins controller's built-in node",
            "displayName": BUILT_IN,
            "executors": executor_list,
            "icon": "symbol-computer",
            "iconClassName": "symbol-computer",
            "idle": not running,
            "jnlpAgent": False,
            "launchSupported": True,
            "loadStatistics": Bean("hudson.model.Label$1", {}),
            "manualLaunchAllowed": True,
            "monitorData": lambda: _monitors(home),
            "numExecutors": executors,
            "offline": False,
            "offlineCause": None,
            "offlineCauseReason": "",
            "oneOffExecutors": one_offs,
            "temporarilyOffline": False,
        },
        # Computer.getMonitorData: @Exported(inline = true).
        inline=frozenset({"monitorData"}),
    )


def computers(jobs: Model, executors: int, home: str) -> Bean:
    """`computer/api/json`: the nodes (ComputerSet; `computer` is inline), only the built-in."""
    node = built_in(jobs, executors, home)
    busy = sum(1 for e in node.props["executors"] if e.props["currentExecutable"] is not None)
    return Bean(
        "hudson.model.ComputerSet",
        {
            "busyExecutors": busy,
            "computer": [node],
            "displayName": "Nodes",
            "totalExecutors": executors,
        },
        inline=frozenset({"computer"}),
    )


def plugins(installed: tuple[tuple[str, str, str], ...]) -> Bean:
    """`pluginManager/api/json`: the installed plugins (PluginManager.getPlugins).

    Each PluginWrapper's exported properties (all visibility 1, declared type: no
    `_class`), so python-jenkins asks with depth=2. Dependencies are not listed.
    """
    return Bean(
        "hudson.LocalPluginManager",
        {
            "plugins": [
                Bean(
                    None,
                    {
                        "active": True,
                        "backupVersion": None,
                        "bundled": False,
                        "deleted": False,
                        "dependencies": [],
                        "detached": False,
                        "downgradable": False,
                        "enabled": True,
                        "hasUpdate": False,
                        "longName": long_name,
                        "pinned": False,
                        "requiredCoreVersion": None,
                        "shortName": short,
                        "supportsDynamicLoad": "MAYBE",
                        "url": f"https://plugins.jenkins.io/{short}",
                        "version": version,
                    },
                )
                for short, long_name, version in installed
            ]
        },
    )


def whoami(url: Url) -> Bean:
    """`me/api/json`: the authenticated user (hudson.model.User)."""
    return Bean(
        "hudson.model.User",
        {
            "absoluteUrl": url("user", USER),
            "description": None,
            "fullName": USER,
            "id": USER,
            "property": [],
        },
    )


def crumb_issuer(value: str) -> Bean:
    """`crumbIssuer/api/json`: a crumb (DefaultCrumbIssuer)."""
    return Bean(
        "hudson.security.csrf.DefaultCrumbIssuer",
        {"crumb": value, "crumbRequestField": "Jenkins-Crumb"},
    )
