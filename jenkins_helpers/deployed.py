"""What Argo CD says runs, beside what the environment branch asks for: the board's drift.

The board's tags come from env.cue: what each environment *should* run. With
`argocd:` in gitops.yaml it also shows what Argo CD reports for each app's
Application (`<env>-<app>`, platform/argocd.cue), and flags drift a person must look
at before promoting on: the Application is OutOfSync, it last synced a commit that is
not the branch's head (it has not applied the newest merge yet), it is Degraded, or
there is no Application for an app the branch deploys. Argo CD is read once per board
(one list of Applications), never once per app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from jenkins_helpers import argocd
from jenkins_helpers.argocd import AppState, ArgoCD, application_name
from jenkins_helpers.deployrepo.settings import ArgoCDSettings
from jenkins_helpers.errors import UserError

# missing: no Application; out-of-sync: Argo CD's sync status; behind: synced to a
# commit that is not the branch head; degraded: Argo CD's health.
Drift = Literal["missing", "out-of-sync", "behind", "degraded"]
SHORT = 7  # characters of a commit shown


@dataclass(frozen=True)
class Deployed:
    """One app's Application in one environment, as Argo CD reports it."""

    application: str  # <env>-<app>
    sync_status: str | None  # Synced, OutOfSync, Unknown; None: no such Application
    health: str | None  # Healthy, Progressing, Degraded, Suspended, Missing, Unknown
    revision: str | None  # the commit it synced (status.sync.revision)
    since: str | None  # when that was deployed (the newest history entry's deployedAt)
    health_message: str = ""
    drift: tuple[Drift, ...] = ()

    @property
    def short(self) -> str | None:
        return self.revision[:SHORT] if self.revision else None

    @property
    def summary(self) -> str:
        """`Synced, Healthy at 1a2b3c4`, or `no Application dev-app`."""
        if self.sync_status is None:
            return f"no Application {self.application}"
        at = f" at {self.short}" if self.short else ""
        return f"{self.sync_status}, {self.health}{at}"

    def explain(self, head: str | None) -> str:
        """Each drift in words, for the board's Drift section."""
        why = {
            "missing": f"Argo CD has no Application {self.application}",
            "out-of-sync": "OutOfSync: the cluster differs from the branch",
            "behind": f"synced {self.short}, the branch is at {(head or '')[:SHORT]}",
            "degraded": "Degraded" + (f": {self.health_message}" if self.health_message else ""),
        }
        return "; ".join(why[d] for d in self.drift)


def read(settings: ArgoCDSettings, given: ArgoCD | None = None) -> dict[str, AppState]:
    """Every Application, by name, in one list call: through `given`, or a client of
    gitops.yaml's `argocd:` (its token from the environment). UserError when Argo CD
    cannot be read or the token is not set."""
    if given is not None:
        return {s.name: s for s in given.applications()}
    client = argocd.client(settings.url, settings.token_env, settings.project)
    try:
        return {s.name: s for s in client.applications()}
    finally:
        client.close()


def problem(e: UserError) -> str:
    """Why the board shows no deployed state: a warning line."""
    return f"Argo CD not read: {e.message}" + (f" ({e.hint})" if e.hint else "")


def deployed(
    states: Mapping[str, AppState], env: str, app: str, head: str | None, *, expected: bool
) -> Deployed | None:
    """`app`'s Application in `env` and its drift against the branch `head`; None when
    there is none and none is `expected` (the branch does not deploy the app)."""
    name = application_name(env, app)
    state = states.get(name)
    if state is None:
        return Deployed(name, None, None, None, None, drift=("missing",)) if expected else None
    drift: list[Drift] = []
    if state.sync_status == "OutOfSync":
        drift.append("out-of-sync")
    if state.revision and head and state.revision != head:
        drift.append("behind")
    if state.health == "Degraded":
        drift.append("degraded")
    return Deployed(
        name,
        state.sync_status,
        state.health,
        state.revision,
        state.deployed_at,
        state.health_message,
        tuple(drift),
    )


def running(settings: ArgoCDSettings, env: str, apps: Sequence[str]) -> dict[str, str]:
    """Each app's `running in <env>: ...` line, from its Application (one read each); a
    line saying it is not known when Argo CD cannot be read (the MR still opens)."""
    try:
        client = argocd.client(settings.url, settings.token_env, settings.project)
    except UserError:
        return {app: f"running in {env}: not known (Argo CD not read)" for app in apps}
    try:
        return {app: _line(client, env, app) for app in apps}
    finally:
        client.close()


def _line(client: ArgoCD, env: str, app: str) -> str:
    try:
        state = client.application(application_name(env, app))
    except UserError:
        return f"running in {env}: not known (Argo CD not read)"
    return running_line(env, app, state)


def running_line(env: str, app: str, state: AppState | None) -> str:
    """What the next environment's MR says of the source: `running in dev: Synced,
    Healthy at 1a2b3c4 since 2025-05-01T10:00:00Z`."""
    if state is None:
        return (
            f"running in {env}: unknown (Argo CD has no Application {application_name(env, app)})"
        )
    at = f" at {state.revision[:SHORT]}" if state.revision else ""
    since = f" since {state.deployed_at}" if state.deployed_at else ""
    return f"running in {env}: {state.sync_status}, {state.health}{at}{since}"
