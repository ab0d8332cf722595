"""The `gitops-helper` command line: the only module that imports click.

Each command turns its options into arguments, calls its module's `run` in
`commands/`, and prints the result: as one JSON document with --json, else through
the module's `show`. `error_boundary` is the one place errors become exit codes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gitops_helper.commands import Printer
from jenkins_helpers import __version__, inputs
from jenkins_helpers.deployrepo.settings import DEFAULT_PROJECT
from jenkins_helpers.errors import BadInput, UserError
from jenkins_helpers.secrets import mask

F = TypeVar("F", bound=Callable[..., Any])

REPO_OPTION = click.option(
    "--repo",
    "repo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Checkout of the deployment repository.",
)
ENV_OPTION = click.option(
    "--env", "env", help="Environment (default: the checked-out one, else all)."
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
PROJECT_OPTION = click.option(
    "--project",
    default=DEFAULT_PROJECT,
    show_default=True,
    envvar="GITOPS_PROJECT",
    help="GitLab path of the deployment repository. Env: GITOPS_PROJECT.",
)
GITLAB_URL_OPTION = click.option(
    "--gitlab-url",
    "gitlab_url",
    envvar="GITLAB_URL",
    metavar="URL",
    help="GitLab server. Env: GITLAB_URL. The token comes from GITLAB_TOKEN only.",
)
DRY_RUN_OPTION = click.option(
    "--dry-run", is_flag=True, help="Show the plan and diff; push and change nothing."
)


def echo(text: str, *, err: bool = False) -> None:
    """The printer handed to each command's `show`: every line masked (docs/SECURITY.md)."""
    try:
        click.echo(mask(text), err=err)
    except BrokenPipeError:
        _reader_gone()


class _Masked(logging.Formatter):
    """Progress and warnings on stderr, as `gitops-helper: ...`, secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Masked("gitops-helper: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


def _exit_on_sigterm() -> None:
    """Jenkins stops an aborted build's steps with SIGTERM (to the whole process group).
    Python's default is to die on the spot; exiting instead (143, as a shell reports it)
    unwinds every `with`, so the temporary clone of the deployment repository is
    removed, not left on the agent. (Only the main thread may set a handler: the CLI
    run in-process from another thread keeps the one it has.)"""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)


def _stop(signum: int, _frame: object) -> None:
    _cancel_git_watchdogs()
    sys.exit(128 + signum)


def _cancel_git_watchdogs() -> None:
    """GitPython times a network git command (git.network_timeout) with a timer it does not
    cancel when the command is interrupted: the exit would wait out the timeout."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def error_boundary(func: F) -> F:
    """Turn our errors into `error:`/`hint:` lines and exit codes; log anything unexpected."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _check_arguments(kwargs)
            return func(*args, **kwargs)
        except UserError as e:
            echo(f"error: {e.message}", err=True)
            if e.hint:
                echo(f"hint: {e.hint}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            _cancel_git_watchdogs()
            raise
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as e:
            log = _crash_log(traceback.format_exc())
            click.echo(
                mask(f"error: unexpected {type(e).__name__}: {e} (traceback in {log})"), err=True
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _check_arguments(values: dict[str, Any]) -> None:
    """Every argument and option of every command, before the command sees it: no
    character that could forge or reorder a line (control characters, line and
    paragraph separators, bidi controls, bytes that are not UTF-8), whatever the
    option, and paths that can be looked up (inputs.local_path). Each command checks
    what its values must be on top of this."""
    ctx = click.get_current_context(silent=True)
    params = {p.name: p for p in ctx.command.params} if ctx is not None else {}
    for name, value in values.items():
        param = params.get(name)
        what = _named(ctx, param) if ctx is not None and param is not None else name
        secret = any(word in name for word in ("token", "secret", "password"))
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Path):
                inputs.local_path(item, what)
            elif isinstance(item, str):
                inputs.plain_text(item, what, secret=secret)


def _named(ctx: click.Context, param: click.Parameter) -> str:
    """How a message names a parameter: `--tag`, `DIRECTORY`, or the environment
    variable it came from (`GITLAB_URL (for --gitlab-url)`)."""
    if isinstance(param, click.Option):
        option = max(param.opts, key=len)
        source = ctx.get_parameter_source(param.name or "")
        if source is click.core.ParameterSource.ENVIRONMENT and isinstance(param.envvar, str):
            return f"{param.envvar} (for {option})"
        return option
    return param.human_readable_name


def _crash_log(text: str) -> str:
    """Write a traceback to a new private file (never one planted in a shared temp dir)."""
    fd, path = tempfile.mkstemp(prefix="gitops-helper-crash-", suffix=".log")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as log:
        log.write(mask(text))
    return path


def _reader_gone() -> NoReturn:
    """The reader of our output went away (`gitops-helper status | head -1`): stop
    quietly, as a command killed by SIGPIPE would (exit 141), without a crash log.
    Both streams are pointed at /dev/null so that Python's own flush at exit cannot
    fail too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    sys.exit(141)


def emit(as_json: bool, data: Any, show: Callable[[Printer], None]) -> None:
    """Print `data` as JSON, or let the command's `show` print it for people."""
    if as_json:
        echo(json.dumps(_plain(data), indent=2, sort_keys=True))
    else:
        show(echo)


def _plain(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitops-helper")
def main() -> None:
    """CUE-based GitOps promotion (dev -> stage -> prod) for Jenkins, GitLab and ArgoCD.

    \b
    Start with:
      gitops-helper init-repo /tmp/k8s-deployments
      gitops-helper render --repo /tmp/k8s-deployments --env prod
      gitops-helper validate --repo /tmp/k8s-deployments
    """
    _log_to_stderr()
    _exit_on_sigterm()


@main.command("init-repo")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--envs",
    default="dev,stage,prod",
    show_default=True,
    help="Environments in promotion order, comma-separated.",
)
@JSON_OPTION
@error_boundary
def init_repo_command(directory: Path, envs: str, as_json: bool) -> None:
    """Lay down a deployment repository: main plus one branch per environment.

    \b
    Example:
      gitops-helper init-repo /tmp/k8s-deployments --envs dev,stage,prod
    """
    from gitops_helper.commands import init_repo

    result = init_repo.run(directory, envs)
    emit(as_json, result, lambda out: init_repo.show(result, out))


@main.command("render")
@REPO_OPTION
@ENV_OPTION
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if committed manifests differ.")
@JSON_OPTION
@error_boundary
def render_command(repo_dir: Path, env: str | None, check: bool, as_json: bool) -> None:
    """Render manifests/<env>/ from the CUE: one evaluation per environment.

    On a checkout of an environment branch this writes its manifests. An
    environment that is not checked out is read from its branch and only checked.

    \b
    Examples:
      gitops-helper render                      # the checked-out environment
      gitops-helper render --repo k8s-deployments --env prod
      gitops-helper render --check              # in CI: fail on stale manifests
    """
    from gitops_helper.commands import render

    results = render.run(repo_dir, env, check)
    emit(as_json, results, lambda out: render.show(results, out))
    if any(r.stale for r in results):
        sys.exit(1)


@main.command("validate")
@REPO_OPTION
@ENV_OPTION
@JSON_OPTION
@error_boundary
def validate_command(repo_dir: Path, env: str | None, as_json: bool) -> None:
    """Check CUE (cue vet), Kubernetes schemas and platform policies.

    Errors fail the command (exit 1); warnings are printed. The rules are
    listed in docs/VALIDATION.md.

    \b
    Examples:
      gitops-helper validate                    # every environment, from main
      gitops-helper validate --env prod --json
    """
    from gitops_helper.commands import validate

    results = validate.run(repo_dir, env)
    emit(as_json, results, lambda out: validate.show(results, out))
    if any(r.errors for r in results):
        sys.exit(1)


@main.command("promote")
@click.option("--app", required=True, help="App name, e.g. example-app.")
@click.option(
    "--image",
    required=True,
    metavar="REPOSITORY",
    help="Image repository that was built, without tag (registry/team/app).",
)
@click.option("--tag", required=True, help="Image tag that was built and pushed (not 'latest').")
@click.option("--digest", metavar="sha256:...", help="Image digest, to pin the exact image.")
@click.option(
    "--app-repo",
    "app_repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Checkout of the app repository (holds deployment/app.cue).",
)
@click.option(
    "--env",
    "env",
    metavar="ENV",
    help="Target environment (default: the first in gitops.yaml, e.g. dev).",
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@click.option(
    "--build-url",
    "build_url",
    envvar="BUILD_URL",
    metavar="URL",
    help="CI build to link from the MR. Env: BUILD_URL (set by Jenkins).",
)
@click.option(
    "--group",
    metavar="NAME",
    help="A release group: the apps of --with move in the same MR, and on together.",
)
@click.option(
    "--with",
    "with_apps",
    multiple=True,
    metavar="APP=TAG",
    help="Another app of --group at a new tag (repeatable; APP=TAG@sha256:... pins it).",
)
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def promote_command(
    app: str,
    image: str,
    tag: str,
    digest: str | None,
    app_repo: Path,
    env: str | None,
    project: str,
    gitlab_url: str | None,
    build_url: str | None,
    group: str | None,
    with_apps: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Propose an app's new image and deployment/app.cue to the first environment, by MR.

    Clones the deployment repository's environment branch, copies
    deployment/app.cue to services/apps/<app>.cue, sets the image tag (and
    digest) in env.cue, renders and validates the environment, then pushes
    promote/<env>/<app> and opens the merge request, or updates the open one.
    Rerunning with the same inputs changes nothing (status noop).
    Conventions (title, labels, trailer): docs/PROMOTION.md.

    \b
    Examples:
      export GITLAB_URL=https://gitlab.example.com GITLAB_TOKEN=...
      gitops-helper promote --app example-app --image registry.example.com/example-app \\
          --tag 1.4.2
      gitops-helper promote --app example-app --image registry.example.com/example-app \\
          --tag 1.4.2 --digest sha256:0123...cdef --app-repo ../example-app --dry-run
      gitops-helper promote --app user-service --image registry.example.com/user-service \\
          --tag 0.1.0 --json
      gitops-helper promote --app example-app --image registry.example.com/example-app \\
          --tag 2.0.0 --group release-2.0 --with postgres=17-alpine
    """
    from gitops_helper.commands import promote

    result = promote.run(
        app=app,
        image=image,
        tag=tag,
        digest=digest,
        app_repo=app_repo,
        env=env,
        project=project,
        gitlab_url=gitlab_url,
        dry_run=dry_run,
        build_url=build_url,
        group=group,
        with_apps=with_apps,
    )
    emit(as_json, result, lambda out: promote.show(result, out))


@main.command("promote-env")
@click.option("--from", "source", required=True, metavar="ENV", help="Source environment, or main.")
@click.option("--to", "target_env", required=True, metavar="ENV", help="Target environment.")
@click.option(
    "--apps", metavar="A,B", help="Only these apps (comma-separated). Default: every unit."
)
@click.option(
    "--platform", is_flag=True, default=None, help="The platform layer (with --apps: too)."
)
@click.option("--group", metavar="NAME", help="A release group: its apps move in one MR.")
@click.option(
    "--skip-env", is_flag=True, help="Allow skipping environments between --from and --to."
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def promote_env_command(
    source: str,
    target_env: str,
    apps: str | None,
    platform: bool | None,
    group: str | None,
    skip_env: bool,
    project: str,
    gitlab_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Promote what --from has and --to lacks: one merge request per unit.

    Units are each app whose app layer (services/apps/<app>.cue) or image differs,
    and the platform layer. The target keeps its own env settings (replicas,
    resources, ConfigMap entries...): only the app layer and the image move. Each
    unit's MR (promote/<to>/<app>, promote/<to>/_platform) is rendered and
    validated on the target first; a unit that would not evaluate there opens no
    MR and says why. From main, main's platform and app layers travel as one MR.
    Exit 1 when a unit is blocked. Conventions: docs/PROMOTION.md.

    \b
    Examples:
      gitops-helper promote-env --from dev --to stage
      gitops-helper promote-env --from dev --to stage --apps example-app --dry-run
      gitops-helper promote-env --from stage --to prod --platform
      gitops-helper promote-env --from dev --to prod --apps example-app --skip-env
      gitops-helper promote-env --from main --to dev      # platform team's changes
      gitops-helper promote-env --from dev --to stage --group release-2.0
    """
    from gitops_helper.commands import promote_env

    result = promote_env.run(
        source=source,
        target_env=target_env,
        project=project,
        gitlab_url=gitlab_url,
        apps=[a.strip() for a in apps.split(",") if a.strip()] if apps else None,
        platform=platform,
        group=group,
        skip_env=skip_env,
        dry_run=dry_run,
    )
    emit(as_json, result, lambda out: promote_env.show(result, out))
    if result.blocked:
        sys.exit(1)


@main.command("set")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to change.")
@click.option("--app", required=True, help="The app whose env.cue entry changes.")
@click.option("--image-tag", "image_tag", metavar="TAG", help="A new image tag.")
@click.option("--digest", metavar="sha256:...", help="The image's digest (with --image-tag).")
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="PATH=VALUE",
    help="A value below the app's env entry (repeatable); VALUE is JSON or a string.",
)
@click.option(
    "--no-promote",
    "no_promote",
    is_flag=True,
    help="Do not promote a new image onwards after the merge (a hotfix).",
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def set_command(
    env: str,
    app: str,
    image_tag: str | None,
    digest: str | None,
    values: tuple[str, ...],
    no_promote: bool,
    project: str,
    gitlab_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Change one app's image or env values in one environment, by merge request.

    For a hotfix straight to an environment, or a third-party app's new version.
    Only the values named change (env.cue is edited structurally). A new image
    is promoted onwards after the merge, like a build, unless --no-promote; env
    values never are.

    \b
    Examples:
      gitops-helper set --env prod --app example-app --set 'configMap.data."cache-ttl"="600"'
      gitops-helper set --env prod --app example-app --image-tag 1.0.42-hotfix1 --no-promote
      gitops-helper set --env dev --app postgres --image-tag 17-alpine
      gitops-helper set --env stage --app example-app --set replicas=4 --set debug=true
    """
    from gitops_helper.commands import set_values

    result = set_values.run(
        env=env,
        app=app,
        project=project,
        gitlab_url=gitlab_url,
        image_tag=image_tag,
        digest=digest,
        values=values,
        promote=not no_promote,
        dry_run=dry_run,
    )
    emit(as_json, result, lambda out: set_values.show(result, out))


@main.command("rollback")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to roll back.")
@click.option("--app", required=True, help="The app whose image goes back.")
@click.option("--to", "to", required=True, metavar="TAG|previous", help="A tag, or `previous`.")
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def rollback_command(
    env: str, app: str, to: str, project: str, gitlab_url: str | None, dry_run: bool, as_json: bool
) -> None:
    """Put one app's image in one environment back to an earlier tag, by [no-promote] MR.

    Only the app's image tag (and digest) change: replicas, resources and every
    other app stay. `previous` is the tag the app ran before its current one, from
    the environment branch's history.

    \b
    Examples:
      gitops-helper rollback --env prod --app example-app --to 1.0.41
      gitops-helper rollback --env prod --app example-app --to previous --dry-run
    """
    from gitops_helper.commands import rollback

    result = rollback.run(
        env=env, app=app, to=to, project=project, gitlab_url=gitlab_url, dry_run=dry_run
    )
    emit(as_json, result, lambda out: rollback.show(result, out))


@main.command("revert")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment to roll back.")
@click.option(
    "--commit",
    default="last",
    show_default=True,
    metavar="SHA|last",
    help="The merge commit to undo (of the environment branch), or the last merge.",
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def revert_command(
    env: str, commit: str, project: str, gitlab_url: str | None, dry_run: bool, as_json: bool
) -> None:
    """Undo a merge into an environment, by an MR holding its git revert ([no-promote]).

    After the revert merges, the environment renders exactly as before the change,
    and its history keeps both. Open promotions from this environment that carry
    the reverted change are closed with a note.

    \b
    Examples:
      gitops-helper revert --env stage
      gitops-helper revert --env stage --commit 1a2b3c4d --dry-run
    """
    from gitops_helper.commands import revert

    result = revert.run(
        env=env, commit=commit, project=project, gitlab_url=gitlab_url, dry_run=dry_run
    )
    emit(as_json, result, lambda out: revert.show(result, out))


@main.command("onboard")
@click.option("--app", required=True, help="The new app's name (a DNS label).")
@click.option("--repo", metavar="GROUP/NAME", help="The app's repository on GitLab (first party).")
@click.option(
    "--branch",
    metavar="BRANCH",
    help="Its branch the Jenkins job builds [default: the repository's default].",
)
@click.option(
    "--git-credentials",
    default="gitlab-git",
    show_default=True,
    metavar="ID",
    help="The Jenkins credential the job fetches the repository with.",
)
@click.option("--third-party", is_flag=True, help="An app without repository or CI, e.g. redis.")
@click.option("--image", metavar="REPOSITORY", help="Third party: the image repository.")
@click.option("--tag", metavar="TAG", help="Third party: the image tag the first environment runs.")
@click.option(
    "--port", type=int, metavar="PORT", help="Third party: the container port [default: 8080]."
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def onboard_command(
    app: str,
    repo: str | None,
    branch: str | None,
    git_credentials: str,
    third_party: bool,
    image: str | None,
    tag: str | None,
    port: int | None,
    project: str,
    gitlab_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Register a new app: its Jenkins job and push hook, and an entry per environment.

    A first-party app (--repo) gets a Jenkins job running its repository's
    Jenkinsfile (JENKINS_URL, JENKINS_USER, JENKINS_TOKEN), a push hook on the
    repository that starts the job, and a [no-promote] MR per environment adding
    its entry with that environment's replicas and resources but no image: it
    deploys nothing until its first build promotes it. A third-party app gets its
    app file on main and, with its image, in the first environment's MR, which
    starts the chain when merged. Rerun it to finish what a failure interrupted.

    \b
    Examples:
      gitops-helper onboard --app user-service --repo apps/user-service
      gitops-helper onboard --app redis --third-party --image docker.io/library/redis \\
          --tag 7.2.4 --port 6379
    """
    from gitops_helper.commands import onboard

    result = onboard.run(
        app=app,
        project=project,
        gitlab_url=gitlab_url,
        repo=repo,
        branch=branch,
        git_credentials=git_credentials,
        third_party=third_party,
        image=image,
        tag=tag,
        port=port,
        dry_run=dry_run,
    )
    emit(as_json, result, lambda out: onboard.show(result, out))


@main.command("decommission")
@click.option("--app", required=True, help="The app to remove everywhere.")
@click.option(
    "--repo",
    metavar="GROUP/NAME",
    help="Its repository, for the push hook [default: as its promotions recorded it].",
)
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def decommission_command(
    app: str, repo: str | None, project: str, gitlab_url: str | None, dry_run: bool, as_json: bool
) -> None:
    """Remove an app from every environment (the last first), then main, then Jenkins.

    Opens the MR removing the app from the last environment that holds it: its
    env.cue entry, app file and manifests (ArgoCD prunes what it deployed). When
    it merges, the webhook opens the next one down, then main's, then deletes the
    app's Jenkins job and push hook. Run it again any time: it resumes where
    things stand and never opens a second MR.

    \b
    Examples:
      gitops-helper decommission --app legacy-service --dry-run
      gitops-helper decommission --app legacy-service --json
    """
    from gitops_helper.commands import decommission

    result = decommission.run(
        app=app, project=project, gitlab_url=gitlab_url, repo=repo, dry_run=dry_run
    )
    emit(as_json, result, lambda out: decommission.show(result, out))


@main.command("status")
@PROJECT_OPTION
@GITLAB_URL_OPTION
@click.option(
    "--check-manifests",
    "check_manifests",
    is_flag=True,
    help="Also render every environment and list stale or hand-edited manifests (slower).",
)
@click.option(
    "--webhook-url",
    "webhook_url",
    envvar="GITOPS_WEBHOOK_URL",
    metavar="URL",
    help="Also list the webhook's failed jobs with their reasons, and the merges whose "
    "next MR waits for Argo CD, read with its secret "
    "(GITOPS_WEBHOOK_SECRET). Env: GITOPS_WEBHOOK_URL.",
)
@JSON_OPTION
@error_boundary
def status_command(
    project: str,
    gitlab_url: str | None,
    check_manifests: bool,
    webhook_url: str | None,
    as_json: bool,
) -> None:
    """Show every app in every environment: image tags, pending MRs, divergences.

    A table of apps x environments (the image tag each one runs), then the open
    MRs of the tool with their links, why neighbouring environments differ (each
    with its cause: pending, stuck - a change meant to travel on that no open MR
    carries, so run `gitops-helper reconcile` -, hotfix, reverted, rolled back,
    skipped), the decommissions in progress and, with
    --check-manifests, the manifests that do not match their env.cue. Reads
    GitLab only (one env.cue per environment, a few MR listings); changes nothing.
    The webhook serves the same board at GET / (docs/WEBHOOK.md).

    With `argocd:` in gitops.yaml, each app also gets a `running` row: what Argo CD
    reports in each environment (sync status, health, commit; one list of
    Applications), drift marked `#` and explained (docs/ARGOCD.md).

    With --webhook-url, also the webhook's merge jobs whose retries ran out, each
    with its full last error, and those whose next MR waits for Argo CD (waiting,
    degraded, timeout) with the gate's reason (GET /jobs, with GITOPS_WEBHOOK_SECRET);
    a webhook that cannot be read is a warning, and the board still prints.

    \b
    Examples:
      gitops-helper status
      gitops-helper status --check-manifests
      gitops-helper status --json | jq '.divergences[].text'
      GITOPS_WEBHOOK_SECRET=... gitops-helper status --webhook-url https://gitops-webhook.example.com
    """
    from gitops_helper.commands import status

    hook = status.webhook(webhook_url)
    result = status.run(project, gitlab_url, check_manifests)
    jobs = status.failed_jobs(hook) if hook else None
    status.warn(jobs, echo)
    emit(as_json, status.as_data(result, jobs), lambda out: status.show(result, out, jobs))


@main.command("reconcile")
@PROJECT_OPTION
@GITLAB_URL_OPTION
@DRY_RUN_OPTION
@JSON_OPTION
@error_boundary
def reconcile_command(project: str, gitlab_url: str | None, dry_run: bool, as_json: bool) -> None:
    """Promote what missed webhook deliveries left undone.

    GitLab stops delivering to a hook that keeps failing. This reads the recent
    merges into main and every environment but the last, and for each unit whose
    promotion is missing downstream (it differs there, and no open MR's branch
    carries it as the source has it now) runs the cascade the webhook would have
    run: an open MR still proposing an older version is updated in place. The
    webhook runs the same check every GITOPS_RECONCILE_INTERVAL seconds. With
    `argocd:` in gitops.yaml a promotion is held (and says why) until what merged
    runs Synced and Healthy, as the webhook's gate holds it (docs/ARGOCD.md).

    \b
    Examples:
      gitops-helper reconcile --dry-run
      gitops-helper reconcile --json
    """
    from gitops_helper.commands import reconcile

    result = reconcile.run(project, gitlab_url, dry_run)
    emit(as_json, result, lambda out: reconcile.show(result, out))


@main.group("webhook")
def webhook_group() -> None:
    """The GitLab webhook that turns merged MRs into the next environment's MRs."""


@webhook_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@error_boundary
def webhook_serve_command(host: str, port: int) -> None:
    """Serve the webhook (POST /hooks/gitlab) with its job workers, until Ctrl-C.

    Settings come from the environment: GITOPS_WEBHOOK_SECRET, GITLAB_URL,
    GITLAB_TOKEN, GITOPS_PROJECT, GITOPS_DATA_DIR, GITOPS_EXECUTOR, ... (see
    docs/WEBHOOK.md, which also shows production under gunicorn).

    \b
    Example:
      export GITOPS_WEBHOOK_SECRET=... GITLAB_URL=https://gitlab.example.com GITLAB_TOKEN=...
      gitops-helper webhook serve --port 8080
    """
    from gitops_helper.commands import webhook

    webhook.serve(host, port, lambda url: click.echo(f"webhook listening on {url}"))


@main.command(
    "cue", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
@error_boundary
def cue_command(args: tuple[str, ...]) -> None:
    """Run the cue CLI on the engine the tool uses (the binary, or the embedded CUE).

    Every CUE command the tool runs can be rerun this way to see CUE's own output,
    also where no cue binary is installed. Runs in the current directory.

    \b
    Examples:
      gitops-helper cue version
      gitops-helper cue vet -c ./services/apps
      gitops-helper cue export ./services/apps -e 'objects."example-app"'
    """
    from gitops_helper.commands import cue

    sys.exit(cue.run(list(args), echo))


@main.command("demo")
@click.argument("use_cases", nargs=-1, metavar="[UC-ID]...")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Leave the sandbox's state in this new directory, to browse it afterwards.",
)
@click.option(
    "--engine",
    type=click.Choice(["wasm", "binary"]),
    help="CUE engine for every command (default: as GITOPS_CUE_ENGINE, else the cue binary "
    "if found, else the embedded one).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Use cases run side by side, each lane in a sandbox of its own (default: one per "
    "core, up to 2; --keep and --gitlab-url run one).",
)
@click.option(
    "--argocd-gate/--no-argocd-gate",
    "argocd_gate",
    default=True,
    show_default=True,
    help="In the sandbox: gitops.yaml names its Argo CD, so each next MR waits until what "
    "merged runs Synced and Healthy (docs/ARGOCD.md); without: the chain as with no Argo CD.",
)
@click.option(
    "--gitlab-url",
    metavar="URL",
    help="Run on this GitLab instead of the sandbox (token: GITLAB_TOKEN; Jenkins: "
    "JENKINS_URL, JENKINS_USER, JENKINS_TOKEN if set). See docs/OPERATIONS.md.",
)
@click.option(
    "--project",
    metavar="GROUP/NAME",
    help="With --gitlab-url: the deployment project, in a test group (created if missing).",
)
@click.option(
    "--webhook-host",
    default="127.0.0.1",
    show_default=True,
    help="With --gitlab-url: this machine's address as GitLab reaches it (the webhook).",
)
@click.option(
    "--i-know-what-i-am-doing",
    "foreign_ok",
    is_flag=True,
    help="With --gitlab-url: reset the project's branches even if the demo did not create them.",
)
@JSON_OPTION
@error_boundary
def demo_command(
    use_cases: tuple[str, ...],
    keep: Path | None,
    engine: str | None,
    jobs: int | None,
    argocd_gate: bool,
    gitlab_url: str | None,
    project: str | None,
    webhook_host: str,
    foreign_ok: bool,
    as_json: bool,
) -> None:
    """Run the 28 use cases end to end in the sandbox, each from the same starting state.

    Each use case is driven as a user and Jenkins would (the CLI, Jenkins builds,
    merges through GitLab's API, the webhook opening the next MRs) and checked on
    the manifests each environment branch holds. Exit 0 only when all pass.

    \b
    Examples:
      gitops-helper demo                 # all 28
      gitops-helper demo A1 E3           # just these
      gitops-helper demo --no-argocd-gate  # next MRs at once, as without Argo CD
      gitops-helper demo --json > demo.json
      GITLAB_TOKEN=... gitops-helper demo --gitlab-url https://gitlab.example.com \\
          --project gitops-demo/k8s-deployments --webhook-host 10.0.0.5
    """
    from gitops_helper.commands import demo

    if (project or foreign_ok) and not gitlab_url:
        raise BadInput("--project and --i-know-what-i-am-doing go with --gitlab-url")
    if gitlab_url and not project:
        raise BadInput("--gitlab-url needs --project GROUP/NAME", "a project of a test group")
    real = None
    if gitlab_url and project:
        real = demo.RealGitLab(gitlab_url, project, foreign_ok, webhook_host)
    sys.exit(
        demo.run(
            use_cases,
            as_json=as_json,
            keep=keep,
            engine=engine,
            real=real,
            jobs=jobs or demo.DEFAULT_JOBS,
            argocd_gate=argocd_gate,
            echo=echo,
        )
    )


@main.group("sandbox")
def sandbox_group() -> None:
    """A local GitLab- and Jenkins-compatible server, to try the tool without your GitLab."""


@sandbox_group.command("up")
@click.option(
    "--dir",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State directory; reusing one keeps projects and MRs. Default: a new temp dir.",
)
@click.option("--port", default=8929, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="SANDBOX_TOKEN",
    default="sandbox-token",
    show_default=True,
    help="API token (also the Jenkins API token of user admin). Env: SANDBOX_TOKEN.",
)
@click.option(
    "--webhook-secret",
    envvar="GITOPS_WEBHOOK_SECRET",
    help="Secret of the webhook (default: the token). Env: GITOPS_WEBHOOK_SECRET.",
)
@error_boundary
def sandbox_up_command(
    state_dir: Path | None, port: int, token: str, webhook_secret: str | None
) -> None:
    """Start the sandbox (GitLab and Jenkins on PORT) and the webhook (on PORT+1), until Ctrl-C.

    The sandbox is seeded with platform/k8s-deployments and apps/example-app; the
    webhook is registered as the deployment project's hook, so merging an MR in
    the sandbox opens the next environment's MR by itself.

    \b
    Examples:
      gitops-helper sandbox up
      gitops-helper sandbox up --dir /tmp/sandbox --port 8929
    """
    from gitops_helper.commands import sandbox

    sandbox.up(state_dir, port, token, webhook_secret, click.echo)


def help_pages(width: int = 88) -> list[tuple[str, str]]:
    """(command path, --help text) of every command, depth first: docs/CLI.md's source."""
    pages = []

    def walk(command: click.Command, name: str, parent: click.Context | None) -> None:
        ctx = command.make_context(
            name,
            [],
            parent=parent,
            resilient_parsing=True,  # no arguments given: nothing may be required
            terminal_width=width,
            max_content_width=width,
        )
        pages.append((ctx.command_path, command.get_help(ctx)))
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    walk(child, sub, ctx)

    walk(main, "gitops-helper", None)
    return pages
