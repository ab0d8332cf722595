"""Use cases A, B and C: a change to one environment, to one app, or to the platform.

A: a change to one environment's env.cue (`gitops-helper set`, or a person's MR where
`set` has no word for it) stays there. B: an app layer change in the app's repository
reaches every environment through the chain. C: a platform change merged into main is
synced to dev by the webhook and promoted on. Each returns the facts it checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from gitops_demo.evidence import (
    Evidence,
    config_value,
    container,
    deployment,
    env_var,
    pod_annotation,
)
from gitops_demo.seeds import ENVS
from gitops_demo.world import Mismatch, World

APP = "example-app"
IMAGE = "registry.example.com/example-app"
REPLICAS = {"dev": 1, "stage": 2, "prod": 3}  # the starting state's
DEFAULTS = "platform/defaults.cue"
PLATFORM_TITLE = "Promote the platform layer from {previous} to {env}"
ENV_ONLY = "not promoted: the merge changed no app layer, image or platform layer"


# --- A: one environment ----------------------------------------------------------------


def env_only(w: World, ev: Evidence, *values: str, env: str = "dev") -> None:
    """`set --env ENV` example-app's env values; the MR merges and no promotion follows."""
    done = w.cli("set", "--env", env, "--app", APP, *(a for v in values for a in ("--set", v)))
    w.merged_quietly(done["mr_iid"])
    ev.note(f"!{done['mr_iid']} into {env} ({', '.join(values)}) merged; no MR opened elsewhere")


def a1(w: World) -> list[str]:
    ev = Evidence()
    env_only(w, ev, "replicas=2")
    for env, objects in w.everywhere().items():
        replicas = deployment(objects, APP)["spec"]["replicas"]
        ev.expect(f"{env} replicas", replicas, 2 if env == "dev" else REPLICAS[env])
    return ev.lines


def a2(w: World) -> list[str]:
    ev = Evidence()
    env_only(w, ev, "debug=true")
    for env, objects in w.everywhere().items():
        on = env == "dev"
        ev.expect(f"{env} DEBUG env var", env_var(objects, APP, "DEBUG"), ["true"] if on else [])
        debug = (APP, "Service", f"{APP}-debug") in objects
        ev.expect(f"{env} debug Service", debug, on)
    return ev.lines


def a3(w: World) -> list[str]:
    ev = Evidence()
    env_only(w, ev, 'configMap.data."redis-url"="redis://redis.dev.svc:6379"')
    for env, objects in w.everywhere().items():
        want = "redis://redis.dev.svc:6379" if env == "dev" else None
        ev.expect(f"{env} ConfigMap redis-url", config_value(objects, APP, "redis-url"), want)
    return ev.lines


# --- B: one app, every environment -------------------------------------------------------


def build(
    w: World, tag: str, *extra: str, app: str = APP, edit: Callable[[str], str] | None = None
) -> int:
    """What the app's pipeline does after building `tag`: the MR to dev. `edit` changes
    its deployment/app.cue in the commit built (the app team's change)."""
    with w.clone("main", w.app_path(app)) as repo:
        if edit is not None:
            app_cue = repo / "deployment" / "app.cue"
            before = app_cue.read_text()
            after = edit(before)
            if after == before:
                raise Mismatch("the scenario's edit changed nothing in deployment/app.cue")
            app_cue.write_text(after)
            w.git("commit", "--quiet", "-am", "Change the app layer", cwd=repo)
        image = f"registry.example.com/{app}"
        args = ("promote", "--app", app, "--image", image, "--tag", tag, "--app-repo", str(repo))
        iid: int = w.cli(*args, *extra)["mr_iid"]
    return iid


def app_release(w: World, ev: Evidence, tag: str, edit: Callable[[str], str]) -> None:
    """The app team changes deployment/app.cue; its build of `tag` goes through the chain."""
    merged = w.chain(build(w, tag, edit=edit), f"Promote {APP} {tag} to {{env}}")
    ev.note("chain merged: " + " -> ".join(f"!{i}" for i in merged))


def app_fields(*fields: str) -> Callable[[str], str]:
    """An edit adding `fields` to the app layer (CUE unifies a second struct with the first)."""
    body = "".join(f"\t{f}\n" for f in fields)
    return lambda text: text + f'\napps: "{APP}": app: {{\n{body}}}\n'


def app_env_var(name: str, value: str) -> Callable[[str], str]:
    first = '[{name: "APP_NAME", value: "example-app"}'
    return lambda text: text.replace(first, f'{first}, {{name: "{name}", value: "{value}"}}', 1)


def env_mr(w: World, ev: Evidence, env: str, title: str, cue: str) -> None:
    """A person's MR adding `cue` to `env`'s env.cue (manifests rendered), merged quietly."""

    def edit(tree: Path) -> None:
        with (tree / "env.cue").open("a") as handle:
            handle.write(f"\n{cue}\n")

    iid = w.person_mr(env, title, edit, render=True)
    w.merged_quietly(iid)
    ev.note(f"!{iid} into {env} ({title}) merged; nothing promoted")
    stopped = [
        j["result"]["stopped"]
        for j in w.idle()
        if j["key"].startswith(f"merge:{env}:") and (j["result"] or {}).get("stopped")
    ]
    ev.expect(f"the webhook on the merge into {env}", stopped, [ENV_ONLY])


def b1(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_env_var("FEATURE_FLAGS", "new-checkout,dark-mode"))
    for env, objects in w.everywhere().items():
        entries = [
            e for e in container(objects, APP).get("env", []) if e["name"] == "FEATURE_FLAGS"
        ]
        ev.expect(
            f"{env} FEATURE_FLAGS",
            entries,
            [{"name": "FEATURE_FLAGS", "value": "new-checkout,dark-mode"}],
        )
    return ev.lines


def b2(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_fields('podAnnotations: "prometheus.io/scrape-timeout": "30s"'))
    for env, objects in w.everywhere().items():
        got = pod_annotation(objects, APP, "prometheus.io/scrape-timeout")
        ev.expect(f"{env} pod annotation scrape-timeout", got, "30s")
    return ev.lines


def b3(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_fields('configMap: data: "cache-ttl": "300"'))
    for env, objects in w.everywhere().items():
        ev.expect(f"{env} ConfigMap cache-ttl", config_value(objects, APP, "cache-ttl"), "300")
    return ev.lines


def b4(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_fields('configMap: data: "cache-ttl": "300"'))
    env_only(w, ev, 'configMap.data."cache-ttl"="600"', env="prod")
    for env, objects in w.everywhere().items():
        want = "600" if env == "prod" else "300"
        ev.expect(f"{env} ConfigMap cache-ttl", config_value(objects, APP, "cache-ttl"), want)
    return ev.lines


def b5(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_fields("readinessProbe: timeoutSeconds: 10"))
    env_only(w, ev, "readinessProbe.timeoutSeconds=30", env="prod")
    for env, objects in w.everywhere().items():
        probe = container(objects, APP)["readinessProbe"]
        ev.expect(
            f"{env} readiness timeoutSeconds", probe["timeoutSeconds"], 30 if env == "prod" else 10
        )
        ev.expect(f"{env} readiness handler", probe.get("httpGet", {}).get("path"), "/ready")
    return ev.lines


def b6(w: World) -> list[str]:
    ev = Evidence()
    app_release(w, ev, "1.1.0", app_env_var("LOG_LEVEL", "INFO"))
    env_mr(
        w,
        ev,
        "dev",
        "dev: LOG_LEVEL=DEBUG",
        f'apps: "{APP}": env: additionalEnv: [{{name: "LOG_LEVEL", value: "DEBUG"}}]',
    )
    for env, objects in w.everywhere().items():
        want = ["DEBUG"] if env == "dev" else ["INFO"]
        ev.expect(f"{env} LOG_LEVEL values", env_var(objects, APP, "LOG_LEVEL"), want)
    return ev.lines


# --- C: the platform, every app in every environment -----------------------------------


def platform_change(
    w: World, ev: Evidence, title: str, edits: dict[str, Callable[[str], str]]
) -> list[str]:
    """A platform engineer's MR into main; the webhook syncs it to dev, then the chain.
    Returns the titles of the MRs merged after dev's sync MR, in order."""

    def edit(tree: Path) -> None:
        for path, change in edits.items():
            before = (tree / path).read_text()
            after = change(before)
            if after == before:
                raise Mismatch(f"the scenario's edit changed nothing in {path}")
            (tree / path).write_text(after)

    iid = w.person_mr("main", title, edit)
    w.merge(iid)
    sync = w.wait_mr("dev", "Sync main to dev: platform and app layers")
    w.merge(sync.iid)
    merged = [f"!{iid} main", f"!{sync.iid} dev"]
    onwards = []
    for previous, env in itertools.pairwise(ENVS):
        w.wait_mr(env, PLATFORM_TITLE.format(previous=previous, env=env))
        w.idle()
        # An app layer main changed is a unit of its own, in an MR of its own; each
        # merge refreshes the others (the webhook), so one at a time.
        while pending := w.open_mrs(env):
            w.merge(pending[0].iid)
            merged.append(f"!{pending[0].iid} {pending[0].title}")
            onwards.append(pending[0].title)
            w.idle()
    ev.note("merged: " + "; ".join(merged))
    return onwards


def append(cue: str) -> Callable[[str], str]:
    return lambda text: text + f"\n{cue}\n"


def replace(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


COST_CENTER = append('defaults: labels: "cost-center": "platform-shared"')


def c1(w: World) -> list[str]:
    ev = Evidence()
    onwards = platform_change(
        w, ev, "Label every object cost-center: platform-shared", {DEFAULTS: COST_CENTER}
    )
    platform_only = [PLATFORM_TITLE.format(previous=p, env=e) for p, e in itertools.pairwise(ENVS)]
    ev.expect("merged into stage and prod: the platform unit alone", onwards, platform_only)
    for env, objects in w.everywhere().items():
        labels = {k: o["metadata"].get("labels", {}).get("cost-center") for k, o in objects.items()}
        ev.expect(
            f"{env} objects without cost-center platform-shared",
            sorted("/".join(k) for k, v in labels.items() if v != "platform-shared"),
            [],
        )
        ev.note(f"{env}: {len(labels)} objects of {len({k[0] for k in labels})} apps labelled")
    return ev.lines


def c2(w: World) -> list[str]:
    ev = Evidence()
    old = "\tstrategy: {maxSurge: 1, maxUnavailable: 1}\n"
    new = old + "\tpodSecurityContext: {runAsNonRoot: true, runAsUser: 1000}\n"
    platform_change(w, ev, "Pods run as non-root, user 1000", {DEFAULTS: replace(old, new)})
    for env, objects in w.everywhere().items():
        for app in ("example-app", "postgres"):
            context = deployment(objects, app)["spec"]["template"]["spec"]["securityContext"]
            ev.expect(f"{env} {app} runAsNonRoot", context.get("runAsNonRoot"), True)
        example = deployment(objects, APP)["spec"]["template"]["spec"]["securityContext"]
        ev.expect(f"{env} example-app runAsUser", example.get("runAsUser"), 1000)
    return ev.lines


def c3(w: World) -> list[str]:
    ev = Evidence()
    edit = replace("maxUnavailable: 1}", "maxUnavailable: 0}")
    platform_change(w, ev, "Rolling updates keep every pod: maxUnavailable 0", {DEFAULTS: edit})
    for env, objects in w.everywhere().items():
        strategy = deployment(objects, APP)["spec"]["strategy"]
        ev.expect(
            f"{env} example-app maxUnavailable",
            strategy.get("rollingUpdate", {}).get("maxUnavailable"),
            0,
        )
        ev.expect(
            f"{env} postgres strategy (its own override)",
            deployment(objects, "postgres")["spec"]["strategy"]["type"],
            "Recreate",
        )
    return ev.lines


def c4(w: World) -> list[str]:
    ev = Evidence()
    edit = append('defaults: podAnnotations: "prometheus.io/scrape-interval": "30s"')
    platform_change(w, ev, "Scrape every pod every 30 s", {DEFAULTS: edit})
    for env, objects in w.everywhere().items():
        for app in ("example-app", "postgres"):
            got = pod_annotation(objects, app, "prometheus.io/scrape-interval")
            ev.expect(f"{env} {app} scrape-interval", got, "30s")
    return ev.lines


def c5(w: World) -> list[str]:
    ev = Evidence()
    edits = {
        DEFAULTS: append('defaults: podAnnotations: "prometheus.io/scrape": "true"'),
        "services/apps/postgres.cue": append(
            'apps: postgres: app: podAnnotations: "prometheus.io/scrape": "false"'
        ),
    }
    platform_change(w, ev, "Scrape every app but postgres", edits)
    for env, objects in w.everywhere().items():
        for app, want in (("example-app", "true"), ("postgres", "false")):
            ev.expect(
                f"{env} {app} scrape", pod_annotation(objects, app, "prometheus.io/scrape"), want
            )
    return ev.lines


def c6(w: World) -> list[str]:
    ev = Evidence()
    platform_change(
        w, ev, "Label every object cost-center: platform-shared", {DEFAULTS: COST_CENTER}
    )

    def edit(tree: Path) -> None:
        text = (tree / "env.cue").read_text()
        new = text.replace(
            "defaults: {}", 'defaults: labels: "cost-center": "production-critical"', 1
        )
        if new == text:
            raise Mismatch("prod's env.cue has no `defaults: {}` to change")
        (tree / "env.cue").write_text(new)

    iid = w.person_mr("prod", "prod: cost-center production-critical", edit, render=True)
    w.merged_quietly(iid)
    for env, objects in w.everywhere().items():
        want = "production-critical" if env == "prod" else "platform-shared"
        values = {o["metadata"].get("labels", {}).get("cost-center") for o in objects.values()}
        ev.expect(f"{env} cost-center of every object", sorted(map(str, values)), [want])
    return ev.lines
