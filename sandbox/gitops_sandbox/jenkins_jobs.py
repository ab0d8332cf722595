"""What a job's config.xml says: its kind, parameters, and pipeline definition.

The two Pipeline definitions python-jenkins users write (Jenkins' XML, as the
"Pipeline" section of a job's configuration saves it):

- `org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition`: the script inline, in
  `<script>`;
- `org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition` with a
  `hudson.plugins.git.GitSCM`: the first `<userRemoteConfigs>` URL and
  `<credentialsId>`, the first branch spec (`*/main`, `main`, `refs/heads/main`),
  `<scriptPath>` (default `Jenkinsfile`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

WORKFLOW = "org.jenkinsci.plugins.workflow.job."
CLASSES = {"flow-definition": f"{WORKFLOW}WorkflowJob", "project": "hudson.model.FreeStyleProject"}
INLINE = "org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"
FROM_SCM = "org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition"
GIT_SCM = "hudson.plugins.git.GitSCM"
# The GitLab plugin's trigger: GitLab's push hook to JENKINS_URL/project/<job> starts a build.
PUSH_TRIGGER = "com.dabsquared.gitlabjenkins.GitLabPushTrigger"
# Characters Jenkins refuses in an item name (Jenkins.checkGoodName).
UNSAFE = set("?*/\\%!@#$^&|<>[]:;")


class ConfigError(Exception):
    """config.xml that Jenkins would refuse; the message is Jenkins' kind of answer."""


@dataclass(frozen=True)
class Job:
    """The parts of a config.xml the sandbox acts on."""

    cls: str
    description: str | None
    parameters: list[dict[str, Any]]


@dataclass(frozen=True)
class Pipeline:
    """Where a build's pipeline script comes from."""

    script: str | None = None  # inline script
    url: str | None = None  # from git: repository, branch, credential, path
    branch: str = "main"
    credentials_id: str | None = None
    script_path: str = "Jenkinsfile"


def check_name(name: str) -> str | None:
    """Jenkins' complaint about a job name, or None when it is fine."""
    if not name.strip():
        return "No name is specified"
    if name in (".", ".."):
        return f"\u201c{name}\u201d is not an allowed name"
    bad = next((c for c in name if c in UNSAFE), None)
    return f"\u2018{bad}\u2019 is an unsafe character" if bad else None


def parse(config: bytes | str) -> Job:
    """The job class, description and parameter definitions of a config.xml."""
    try:
        root = ET.fromstring(config)  # noqa: S314 - from the token holder, on loopback
    except ET.ParseError as e:
        raise ConfigError(f"Failed to parse config.xml: {e}") from e
    params = []
    for prop in root.iter("hudson.model.ParametersDefinitionProperty"):
        for definition in prop.iter():
            name = definition.findtext("name")
            if definition.tag.endswith("ParameterDefinition") and name:
                kind = definition.tag.rsplit(".", 1)[-1]
                choices = [c.text or "" for c in definition.iter("string")]
                default = definition.findtext("defaultValue")
                if default is None:
                    default = choices[0] if choices else ("false" if "Boolean" in kind else "")
                params.append(
                    {
                        "name": name,
                        "type": kind,
                        "default": default,
                        "description": definition.findtext("description") or "",
                    }
                )
    return Job(CLASSES.get(root.tag, root.tag), root.findtext("description"), params)


def pipeline(config: bytes | str) -> Pipeline | None:
    """The job's pipeline definition, or None (not a Pipeline job, or none configured)."""
    root = ET.fromstring(config)  # noqa: S314 - parsed once already when stored
    definition = root.find("definition")
    if root.tag != "flow-definition" or definition is None:
        return None
    kind = definition.get("class")
    if kind == INLINE:
        return Pipeline(script=definition.findtext("script") or "")
    scm = definition.find("scm")
    if kind != FROM_SCM or scm is None or scm.get("class") != GIT_SCM:
        raise ConfigError(f"the sandbox runs {INLINE} and {FROM_SCM} with {GIT_SCM}, not {kind}")
    remote = scm.find("userRemoteConfigs/hudson.plugins.git.UserRemoteConfig")
    url = remote.findtext("url") if remote is not None else None
    if not url:
        raise ConfigError("the GitSCM has no repository URL")
    spec = scm.findtext("branches/hudson.plugins.git.BranchSpec/name") or "*/main"
    return Pipeline(
        url=url.strip(),
        branch=_branch(spec),
        credentials_id=(remote.findtext("credentialsId") or "").strip() or None,
        script_path=(definition.findtext("scriptPath") or "Jenkinsfile").strip(),
    )


def push_token(config: bytes | str) -> str | None:
    """The secret of the GitLab plugin's push trigger, when the job has one that fires on
    pushes (`<com.dabsquared.gitlabjenkins.GitLabPushTrigger>` with `<triggerOnPush>`)."""
    root = ET.fromstring(config)  # noqa: S314 - parsed once already when stored
    # Pipeline jobs keep it in PipelineTriggersJobProperty; older configs at the top.
    trigger = next(root.iter(PUSH_TRIGGER), None)
    if trigger is None or (trigger.findtext("triggerOnPush") or "true").strip() != "true":
        return None
    return (trigger.findtext("secretToken") or "").strip() or None


def push_branch_filter(config: bytes | str) -> list[str] | None:
    """The branches whose pushes start a build, when the push trigger filters by name
    (`<branchFilterType>NameBasedFilter</branchFilterType>`, comma-separated
    `<includeBranchesSpec>`); None: every branch."""
    root = ET.fromstring(config)  # noqa: S314 - parsed once already when stored
    trigger = next(root.iter(PUSH_TRIGGER), None)
    if trigger is None or (trigger.findtext("branchFilterType") or "").strip() != "NameBasedFilter":
        return None
    spec = trigger.findtext("includeBranchesSpec") or ""
    return [b.strip() for b in spec.split(",") if b.strip()]


def _branch(spec: str) -> str:
    """A branch spec as the Git plugin reads it: `*/main`, `origin/main`, `refs/heads/main`."""
    spec = spec.strip()
    for prefix in ("refs/heads/", "*/", "origin/", "refs/remotes/origin/"):
        if spec.startswith(prefix):
            return spec[len(prefix) :]
    return spec
