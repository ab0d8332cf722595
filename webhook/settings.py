"""The webhook's settings: from Flask config (tests, instance config) over the environment.

GITOPS_WEBHOOK_SECRET   the secret GitLab sends in X-Gitlab-Token (required)
GITLAB_URL, GITLAB_TOKEN   the GitLab server and a token with the api scope
GITOPS_PROJECT          the deployment project (default platform/k8s-deployments)
GITOPS_DATA_DIR         where the job queue and records live (SQLite)
GITOPS_EXECUTOR         inline (default: promotions run in this process) or jenkins
GITOPS_JENKINS_JOB      the Jenkins job promotions run as (default gitops-promote-env)
GITOPS_RECONCILE_INTERVAL  seconds between reconciles (default 300; 0: never)
GITOPS_RETRY_DELAYS     seconds before each retry of a job failing on something that may
                        pass, comma-separated (default 2,5,10,30,60: five retries)
JENKINS_URL, JENKINS_USER, JENKINS_TOKEN   Jenkins, for the jenkins executor and for
                        deleting a decommissioned app's job (optional otherwise)
GITOPS_WORKERS          job threads in this process (default 2; 0: none, e.g. web
                        processes beside one that runs the jobs: docs/WEBHOOK.md)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jenkins_helpers import gitlab, inputs, jenkins, secrets
from jenkins_helpers.deployrepo.settings import DEFAULT_PROJECT
from jenkins_helpers.errors import BadInput
from jenkins_helpers.gitlab import Access
from jenkins_helpers.jenkins import JenkinsAccess

Executor = Literal["inline", "jenkins"]
MAX_BODY = 1024 * 1024  # GitLab payloads are far smaller; anything bigger is refused (413)
# Seconds before the 2nd, 3rd... attempt of a job that failed on something passing (a
# GitLab outage of about two minutes is ridden out; a longer one: GITOPS_RETRY_DELAYS).
RETRY_DELAYS = (2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class WebhookSettings:
    """Everything the webhook needs, checked once at start."""

    secret: str = field(repr=False)
    access: Access
    project: str
    data_dir: Path
    executor: Executor = "inline"
    jenkins: JenkinsAccess | None = None
    jenkins_job: str = "gitops-promote-env"
    reconcile_interval: float = 300.0
    workers: int = 2
    retry_delays: tuple[float, ...] = RETRY_DELAYS


def load(config: Mapping[str, Any]) -> WebhookSettings:
    """Settings from `config` (Flask's, upper-case keys) else the environment; BadInput names
    every missing one."""

    def get(name: str, default: str | None = None) -> str | None:
        value = config.get(name, os.environ.get(name))
        return default if value in (None, "") else str(value)

    executor = get("GITOPS_EXECUTOR", "inline")
    if executor not in ("inline", "jenkins"):
        raise BadInput(f"GITOPS_EXECUTOR must be inline or jenkins, got {executor!r}")
    _require(get, executor)
    return WebhookSettings(
        secret=secrets.checked_token(get("GITOPS_WEBHOOK_SECRET") or "", "GITOPS_WEBHOOK_SECRET"),
        access=gitlab.access_from_environment(
            None, {k: v for k in ("GITLAB_URL", "GITLAB_TOKEN") if (v := get(k))}
        ),
        project=inputs.project_path(get("GITOPS_PROJECT", DEFAULT_PROJECT)),
        data_dir=Path(get("GITOPS_DATA_DIR", "gitops-data") or "gitops-data").resolve(),
        executor=executor,  # type: ignore[arg-type]
        jenkins=jenkins.access_if_configured(
            {k: v for k in ("JENKINS_URL", "JENKINS_USER", "JENKINS_TOKEN") if (v := get(k))}
        ),
        jenkins_job=get("GITOPS_JENKINS_JOB", "gitops-promote-env") or "gitops-promote-env",
        reconcile_interval=_number(
            get("GITOPS_RECONCILE_INTERVAL", "300"), "GITOPS_RECONCILE_INTERVAL"
        ),
        workers=int(_number(get("GITOPS_WORKERS", "2"), "GITOPS_WORKERS")),
        retry_delays=_delays(get("GITOPS_RETRY_DELAYS")),
    )


_REQUIRED = {
    "GITOPS_WEBHOOK_SECRET": "the secret token configured on the GitLab webhook",
    "GITLAB_URL": "the GitLab server, e.g. https://gitlab.example.com",
    "GITLAB_TOKEN": gitlab.TOKEN_HINT.removeprefix("set GITLAB_TOKEN to "),
}
_FOR_JENKINS = {
    "JENKINS_URL": "the Jenkins server (GITOPS_EXECUTOR=jenkins)",
    "JENKINS_USER": "the Jenkins user promotions run as",
    "JENKINS_TOKEN": "an API token of JENKINS_USER",
}


def _require(get: Callable[[str], str | None], executor: str) -> None:
    """Every missing setting in one error, so a first start names all of them (Jenkins'
    only with the jenkins executor, which needs it)."""
    required = _REQUIRED | (_FOR_JENKINS if executor == "jenkins" else {})
    missing = [f"{name}: {why}" for name, why in required.items() if not get(name)]
    if missing:
        raise BadInput(
            "missing settings:\n  " + "\n  ".join(missing),
            "set them in the webhook's environment or its instance/webhook.cfg "
            "(docs/WEBHOOK.md, Settings)",
        )


def _delays(raw: str | None) -> tuple[float, ...]:
    """GITOPS_RETRY_DELAYS: seconds, comma-separated (one number per retry)."""
    if raw is None:
        return RETRY_DELAYS
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        delays = ()
    if not delays or not all(math.isfinite(d) and d >= 0 for d in delays):
        raise BadInput(
            f"GITOPS_RETRY_DELAYS must be seconds separated by commas, got {raw!r}",
            f"e.g. {','.join(f'{d:g}' for d in RETRY_DELAYS)} (the default: five retries)",
        )
    return delays


def _number(raw: str | None, name: str) -> float:
    try:
        value = float(raw or "0")
    except ValueError:
        value = -1
    if value < 0:
        raise BadInput(f"{name} must be a number >= 0, got {raw!r}")
    return value
