"""The sandbox's Jenkins driven as python-jenkins' users drive a real one (issue 21).

Each test is written from Jenkins' own documentation and source (Jenkins 2.462.3,
the version the sandbox reports), cited next to what it checks:

- nodes and plugins: hudson/model/ComputerSet.java, Computer.java, Executor.java,
  jenkins/model/Jenkins.java (MasterComputer, getComputer), hudson/PluginManager.java,
  PluginWrapper.java; workflow-durable-task-step's
  ExecutorStepExecution.PlaceholderTask.PlaceholderExecutable;
- `tree` and `depth`: the Remote Access API page
  (https://www.jenkins.io/doc/book/using/remote-access-api/, "Controlling the
  amount of data you fetch": core/src/main/resources/hudson/model/Api/index.jelly)
  and stapler's NamedPathPruner, TreePruner, ResponseImpl.serveExposedBean;
- copy and rename: hudson/model/ItemGroupMixIn.createTopLevelItem and copy,
  Job.onCopiedFrom and holdOffBuildUntilSave, Job.doDoRename,
  AbstractItem.doConfirmRename and doCheckNewName, the messages of
  hudson/model/Messages.properties;
- triggering: jenkins/model/ParameterizedJobMixIn.doBuild and doBuildWithParameters;
- the console: stapler's LargeText.doProgressText and Jenkins'
  hudson/console/AnnotatedLargeText.doProgressiveHtml.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import jenkins
import pytest
import requests

from gitops_sandbox import Sandbox
from tests.gitops_sandbox.jenkins_testing import inline_job, jenkins_client, started

WORKFLOW_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
WORKFLOW_JOB = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
# A Pipeline job with no <definition>: its builds end FAILURE at once, without groovy.
NO_DEFINITION = "<flow-definition><description>no pipeline</description></flow-definition>"
PARAMETERIZED = """<flow-definition>
  <description>with a parameter</description>
  <properties>
    <hudson.model.ParametersDefinitionProperty><parameterDefinitions>
      <hudson.model.StringParameterDefinition>
        <name>TAG</name><defaultValue>1.0</defaultValue>
      </hudson.model.StringParameterDefinition>
    </parameterDefinitions></hudson.model.ParametersDefinitionProperty>
  </properties>
</flow-definition>"""


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[jenkins.Jenkins]:
    with jenkins_client(sandbox) as client:
        yield client


def get(sandbox: Sandbox, path: str, **params: str | int) -> requests.Response:
    """GET a Jenkins URL as the admin, as a requests user would."""
    return requests.get(
        f"{sandbox.jenkins_url}/{path}",
        params=params,
        auth=("admin", sandbox.token),
        timeout=30,
    )


def wait_for(sandbox: Sandbox, job: str, marker: str) -> None:
    """Until the job's build has created `marker` in its workspace."""
    path = sandbox.state_dir / "jenkins" / "workspace" / job / marker
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{job} never made {marker}"
        time.sleep(0.05)


def refused(error: pytest.ExceptionInfo[requests.HTTPError], message: str) -> None:
    """A Failure: 400, the message in the page and in X-Error as Jetty sends a header
    value (characters past U+00FF as spaces: HttpGenerator.putSanitisedValue; the
    client drops the spaces a value starts with)."""
    response = error.value.response
    assert response.status_code == 400 and message in response.text
    header = "".join(" " if ord(c) > 0xFF else c for c in message)
    assert response.headers["X-Error"] == header.lstrip()


def run_builds(sandbox: Sandbox, server: jenkins.Jenkins, job: str, count: int) -> None:
    for _ in range(count):
        server.build_job(job)
    assert sandbox.wait_for_builds()


# ---- 1. nodes and plugins ------------------------------------------------------------------


def test_nodes_plugins_and_running_builds_as_python_jenkins_reads_them(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    # The built-in node: displayName "Built-In Node" (Hudson.Computer.DisplayName),
    # found at computer/(built-in)/ and, for old URLs, computer/(master)/
    # (Jenkins.getComputer), which python-jenkins asks for.
    assert server.get_nodes() == [{"name": "Built-In Node", "offline": False}]
    node = server.get_node_info("Built-In Node")
    assert node["_class"] == "hudson.model.Hudson$MasterComputer"
    assert (node["displayName"], node["numExecutors"], node["idle"]) == ("Built-In Node", 2, True)
    assert node["assignedLabels"] == [{"name": "built-in"}]
    # depth=0: an executor's properties (visibility 1) are one level too deep.
    assert node["executors"] == [{}, {}]
    assert get(sandbox, "computer/(built-in)/api/json").json()["displayName"] == "Built-In Node"
    assert get(sandbox, "computer/nosuchnode/api/json").status_code == 404
    nodes = get(sandbox, "computer/api/json").json()
    assert nodes["_class"] == "hudson.model.ComputerSet"
    assert (nodes["totalExecutors"], nodes["busyExecutors"]) == (2, 0)
    assert server.get_running_builds() == []

    # pluginManager/api/json?depth=2: every PluginWrapper's properties.
    plugins = server.get_plugins()
    assert plugins["workflow-job"]["longName"] == "Pipeline: Job"
    assert plugins["Pipeline: Groovy"]["shortName"] == "workflow-cps"
    git = server.get_plugin_info("git")
    assert git["active"] and git["enabled"] and git["version"] >= "5.0"
    # The plugins docs/JENKINS.md says a controller needs are there.
    needed = {"workflow-aggregator", "git", "credentials", "plain-credentials"}
    needed |= {"credentials-binding", "gitlab-plugin", "junit", "pipeline-groovy-lib"}
    assert needed <= {p["shortName"] for p in plugins.values()}
    # At depth 0 a plugin is one level too deep to show anything.
    shallow = get(sandbox, "pluginManager/api/json").json()
    assert shallow["_class"] == "hudson.LocalPluginManager" and shallow["plugins"][0] == {}

    # A running Pipeline build holds an executor of the node (its `node` block's
    # PlaceholderExecutable: number and absolute url) and a one-off executor (the run).
    server.create_job("sleepy", inline_job("node { sh 'touch started; sleep 60' }"))
    number = started(server, server.build_job("sleepy"))
    wait_for(sandbox, "sleepy", "started")
    running = server.get_running_builds()
    assert running == [
        {
            "name": "sleepy",
            "number": number,
            "url": f"{sandbox.jenkins_url}/job/sleepy/{number}/",
            "node": "(master)",
            "executor": running[0]["executor"],
        }
    ]
    deep = server.get_node_info("(built-in)", depth=2)
    busy = [e for e in deep["executors"] if e["currentExecutable"]]
    assert [e["number"] for e in busy] == [running[0]["executor"]]
    assert busy[0]["currentExecutable"]["displayName"] == f"part of sleepy #{number}"
    assert deep["idle"] is False
    one_off = deep["oneOffExecutors"][0]["currentExecutable"]
    assert (one_off["_class"], one_off["number"], one_off["building"]) == (
        WORKFLOW_RUN,
        number,
        True,
    )
    assert get(sandbox, "computer/api/json").json()["busyExecutors"] == 1

    server.stop_build("sleepy", number)
    assert sandbox.wait_for_builds()
    assert server.get_running_builds() == []


# ---- 2. tree and depth ---------------------------------------------------------------------


def test_tree_selects_nested_fields_and_ranges_and_depth_deepens(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job("nodef", NO_DEFINITION)
    run_builds(sandbox, server, "nodef", 3)

    # "tree=jobs[name]": only the named properties; _class stays where Jenkins writes it.
    assert get(sandbox, "api/json", tree="jobs[name]").json() == {
        "_class": "hudson.model.Hudson",
        "jobs": [{"_class": WORKFLOW_JOB, "name": "nodef"}],
    }
    # Nested fields at any depth: each build's result, which depth 0 leaves out.
    assert get(sandbox, "job/nodef/api/json", tree="builds[number,result]").json() == {
        "_class": WORKFLOW_JOB,
        "builds": [{"_class": WORKFLOW_RUN, "number": n, "result": "FAILURE"} for n in (3, 2, 1)],
    }
    assert "result" not in server.get_job_info("nodef")["builds"][0]
    # Ranges: {M,N} from M (inclusive) to N (exclusive), {M,}, {,N}, {N}.
    for spec, numbers in (("{0,2}", [3, 2]), ("{1,}", [2, 1]), ("{,1}", [3]), ("{2}", [1])):
        answer = get(sandbox, "job/nodef/api/json", tree=f"builds[number]{spec}").json()
        assert [b["number"] for b in answer["builds"]] == numbers, spec
    # Deeper paths, `*`, and an object named without sub-properties (only its _class).
    last = get(
        sandbox, "job/nodef/api/json", tree="lastBuild[result,actions[causes[userId]]],firstBuild"
    ).json()
    assert last["lastBuild"]["result"] == "FAILURE"
    cause = {"_class": "hudson.model.Cause$UserIdCause", "userId": "admin"}
    assert {"_class": "hudson.model.CauseAction", "causes": [cause]} in last["lastBuild"]["actions"]
    assert last["firstBuild"] == {"_class": WORKFLOW_RUN}
    star = get(sandbox, "job/nodef/2/api/json", tree="*").json()
    assert star["number"] == 2 and star["previousBuild"] == {}
    assert get(sandbox, "job/nodef/2/api/json").json()["previousBuild"]["number"] == 1
    # python-jenkins' own tree queries: job_exists (tree=name), get_all_jobs.
    assert server.job_exists("nodef") and server.get_job_name("nodef") == "nodef"
    assert server.get_all_jobs() == [
        {
            "_class": WORKFLOW_JOB,
            "name": "nodef",
            "url": f"{sandbox.jenkins_url}/job/nodef/",
            "color": "red",
            "fullname": "nodef",
        }
    ]
    # The queue and a build take `tree` too.
    assert get(sandbox, "queue/api/json", tree="items[id]").json() == {
        "_class": "hudson.model.Queue",
        "items": [],
    }
    assert get(sandbox, "job/nodef/1/api/json", tree="result,number").json() == {
        "_class": WORKFLOW_RUN,
        "number": 1,
        "result": "FAILURE",
    }

    # depth=1: the builds whole.
    deep = get(sandbox, "job/nodef/api/json", depth=1).json()
    assert deep["builds"][0]["result"] == "FAILURE" and deep["builds"][0]["building"] is False

    # A malformed expression, or a depth that is not a number: ServletException, 500.
    assert get(sandbox, "job/nodef/api/json", tree="builds[number").status_code == 500
    assert get(sandbox, "job/nodef/api/json", tree="").status_code == 500
    assert get(sandbox, "job/nodef/api/json", depth="deep").status_code == 500


def test_a_job_lists_its_newest_100_builds_and_all_of_them_on_request(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    # Job.getNewBuilds: `builds` is the newest 100; `allBuilds` (visibility -2) has
    # every build, and python-jenkins' get_job_info(fetch_all_builds=True) asks for
    # it with tree=allBuilds[number,url] when the oldest listed is not the first.
    server.create_job("many", "<project><description/></project>")
    run_builds(sandbox, server, "many", 101)
    info = server.get_job_info("many")
    assert len(info["builds"]) == 100 and info["builds"][-1]["number"] == 2
    assert info["firstBuild"]["number"] == 1
    every = server.get_job_info("many", fetch_all_builds=True)
    assert [b["number"] for b in every["builds"]] == list(range(101, 0, -1))
    assert "allBuilds" not in server.get_job_info("many", depth=2)


# ---- 3. copy and rename --------------------------------------------------------------------


def test_copy_and_rename_jobs_as_python_jenkins_does(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job("source", PARAMETERIZED)
    run_builds(sandbox, server, "source", 1)

    # createItem?name=copy&mode=copy&from=source: 302 to the copy's configure page,
    # which python-jenkins follows, then checks that the job exists.
    server.copy_job("source", "copy")
    assert server.get_job_config("copy") == server.get_job_config("source")
    copy = server.get_job_info("copy")
    assert (copy["nextBuildNumber"], copy["builds"], copy["lastBuild"]) == (1, [], None)
    assert copy["property"][0]["parameterDefinitions"][0]["name"] == "TAG"
    raw = requests.post(
        f"{sandbox.jenkins_url}/createItem",
        params={"name": "copy2", "mode": "copy", "from": "source"},
        auth=("admin", sandbox.token),
        allow_redirects=False,
        timeout=30,
    )
    assert (raw.status_code, raw.headers["Location"]) == (
        302,
        f"{sandbox.jenkins_url}/job/copy2/configure",
    )

    # "Newly copied jobs get this flag set, so that Hudson doesn't try to run the
    # job until its configuration is saved once" (Job.holdOffBuildUntilSave): not
    # buildable, a build is 409; disabling and enabling it saves it.
    assert copy["buildable"] is False
    with pytest.raises(requests.HTTPError, match="409"):
        server.build_job("copy")
    server.enable_job("copy")  # no change: no save (ParameterizedJob.makeDisabled)
    assert server.get_job_info("copy")["buildable"] is False
    server.disable_job("copy")
    server.enable_job("copy")
    assert server.get_job_info("copy")["buildable"] is True
    assert server.build_job("copy") > 0
    assert sandbox.wait_for_builds()

    # Refusals are Failures: 400 with Jenkins' message in X-Error.
    with pytest.raises(requests.HTTPError) as taken:
        server.copy_job("source", "copy")
    refused(taken, "A job already exists with the name \u2018copy\u2019")
    with pytest.raises(requests.HTTPError) as nowhere:
        server.copy_job("nosuchjob", "other")
    refused(nowhere, "No such job: nosuchjob")

    # job/source/doRename?newName=renamed: 302 to ../renamed; builds and consoles move.
    server.rename_job("source", "renamed")
    assert not server.job_exists("source") and server.job_exists("renamed")
    assert server.get_build_info("renamed", 1)["result"] == "FAILURE"
    assert "no pipeline definition" in server.get_build_console_output("renamed", 1)
    assert server.get_job_info("renamed")["nextBuildNumber"] == 2
    with pytest.raises(requests.HTTPError) as in_use:
        server.rename_job("renamed", "copy")
    refused(in_use, "The name \u201ccopy\u201d is already in use.")
    with pytest.raises(requests.HTTPError) as same:
        server.rename_job("renamed", "renamed")
    refused(same, "The new name is the same as the current name.")
    with pytest.raises(requests.HTTPError) as unsafe:
        server.rename_job("renamed", "a?b")
    refused(unsafe, "\u2018?\u2019 is an unsafe character")
    with pytest.raises(jenkins.NotFoundException):
        server.rename_job("source", "again")


def test_a_building_job_cannot_be_renamed(sandbox: Sandbox, server: jenkins.Jenkins) -> None:
    server.create_job("busy", inline_job("node { sh 'touch started; sleep 60' }"))
    number = started(server, server.build_job("busy"))
    wait_for(sandbox, "busy", "started")
    with pytest.raises(requests.HTTPError) as building:
        server.rename_job("busy", "idle")
    refused(building, "Unable to rename a job while it is building.")
    server.stop_build("busy", number)
    assert sandbox.wait_for_builds()


# ---- 4. triggering -------------------------------------------------------------------------


def test_build_with_parameters_on_a_job_without_parameters_is_a_500(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    # doBuildWithParameters: IllegalStateException("This build is not parameterized!"),
    # a 500, which python-jenkins turns into a JenkinsException.
    server.create_job("plain", "<project><description/></project>")
    with pytest.raises(jenkins.JenkinsException, match=r"\[500\]"):
        server.build_job("plain", {"X": "1"})
    assert server.get_job_info("plain")["nextBuildNumber"] == 1
    # A job that is not buildable: 409 "<name> is not buildable" (before anything else).
    server.disable_job("plain")
    with pytest.raises(requests.HTTPError) as disabled:
        server.build_job("plain")
    assert disabled.value.response.status_code == 409
    assert "plain is not buildable" in disabled.value.response.text


# ---- 5. the console, progressively ---------------------------------------------------------

# Steps that write to the console while the build goes on (echo writes at once, as
# Jenkins' does; how `sh` streams its own output is the runner's business).
STREAMING = """node {
    echo 'first part <b>&'
    sh 'touch started; sleep 3'
    echo 'second part'
    sh 'sleep 30'
}"""


def test_the_console_streams_while_the_build_runs(
    sandbox: Sandbox, server: jenkins.Jenkins
) -> None:
    server.create_job("talky", inline_job(STREAMING))
    number = started(server, server.build_job("talky"))
    wait_for(sandbox, "talky", "started")
    progressive = f"job/talky/{number}/logText/progressiveText"

    # While it runs: what is written so far, X-More-Data: true, X-Text-Size to go on from.
    first = get(sandbox, progressive, start=0)
    assert first.headers["Content-Type"] == "text/plain;charset=UTF-8"
    assert first.headers["X-More-Data"] == "true"
    assert "first part" in first.text and "second part" not in first.text
    offset = int(first.headers["X-Text-Size"])
    assert offset == len(first.text.replace("\r\n", "\n").encode())
    # Lines go out with CR+LF (LineEndNormalizingWriter); the offset counts the file's bytes.
    assert "first part <b>&\r\n" in first.text
    # A start past the end: "text rolled over", from 0 again.
    rolled = get(sandbox, progressive, start=offset + 10_000)
    assert rolled.text.startswith(first.text) and int(rolled.headers["X-Text-Size"]) >= offset
    # progressiveHtml: the same text, HTML-escaped, and the same offsets.
    html = get(sandbox, f"job/talky/{number}/logText/progressiveHtml", start=offset)
    assert html.headers["Content-Type"] == "text/html;charset=UTF-8"
    assert html.headers["X-More-Data"] == "true" and "first part" not in html.text
    # Escaped as for <pre> (MarkupText.toString(true), Util.xmlEscape): <, > and & only.
    escaped = get(sandbox, f"job/talky/{number}/logText/progressiveHtml", start=0).text
    assert "first part &lt;b&gt;&amp;\r\n" in escaped and "first part <b>&\r\n" in first.text

    # Following it as a client does, until the second part arrives.
    text = first.text
    deadline = time.monotonic() + 60
    while "second part" not in text:
        assert time.monotonic() < deadline, "the second part never came"
        time.sleep(0.2)
        more = get(sandbox, progressive, start=offset)
        text += more.text
        offset = int(more.headers["X-Text-Size"])
    assert server.get_build_info("talky", number)["building"] is True

    server.stop_build("talky", number)
    assert sandbox.wait_for_builds()
    last = get(sandbox, progressive, start=offset)
    assert "X-More-Data" not in last.headers
    text += last.text
    assert text.replace("\r\n", "\n") == server.get_build_console_output("talky", number)
    assert get(sandbox, f"job/talky/{number + 1}/logText/progressiveText").status_code == 404
