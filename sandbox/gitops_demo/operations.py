"""Use cases D, E and F: operations off the happy path, an app's versions, its life.

Builds are what Jenkins runs: `gitopsPromote` in the sandbox's Jenkins for E1 and F1
(a real build of the app's Jenkinsfile), `gitops-helper promote` for the others (the
command that step runs). Operators use the CLI; merges go through GitLab's API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_demo.changes import APP, IMAGE, REPLICAS, app_env_var, build
from gitops_demo.evidence import Evidence, Objects, container, deployment, env_var, image_tag
from gitops_demo.seeds import ENVS
from gitops_demo.world import Mismatch, World
from jenkins_helpers.promotion.trailer import parse_trailer

POSTGRES = "postgres"
POSTGRES_IMAGE = "docker.io/library/postgres"
PROMOTE = "Promote {app} {tag} to {env}"


def release(w: World, ev: Evidence, tag: str, app: str = APP) -> None:
    """A build of `tag` taken through the whole chain."""
    merged = w.chain(build(w, tag, app=app), PROMOTE.format(app=app, tag=tag, env="{env}"))
    ev.note(f"{app} {tag} chain: " + " -> ".join(f"!{i}" for i in merged))


def tags(w: World, app: str) -> dict[str, str]:
    return {env: image_tag(objects, app) for env, objects in w.everywhere().items()}


def images(w: World, app: str) -> dict[str, str]:
    """The app's image (repository and tag) in each environment."""
    return {env: container(objects, app)["image"] for env, objects in w.everywhere().items()}


def setting(w: World, env: str, app: str, *args: str) -> dict[str, Any]:
    return w.cli("set", "--env", env, "--app", app, *args)


def blob_ids(w: World, env: str) -> dict[str, str]:
    """manifests/<env> on its branch: path -> blob id (equal ids, equal bytes)."""
    tree = w.project.repository_tree(path=f"manifests/{env}", ref=env, recursive=True, all=True)
    return {i["path"]: i["id"] for i in tree if i["type"] == "blob"}


# --- D ---------------------------------------------------------------------------------


def d1(w: World) -> list[str]:
    ev = Evidence()
    before = w.everywhere()
    done = setting(
        w,
        "prod",
        APP,
        "--set",
        'configMap.data."cache-ttl"="600"',
        "--image-tag",
        "1.0.1-hotfix1",
        "--no-promote",
    )
    ev.expect("hotfix MR target", w.mr(done["mr_iid"]).target_branch, "prod")
    w.merged_quietly(done["mr_iid"])
    after = w.everywhere()
    for env in ("dev", "stage"):
        ev.expect(f"{env} unchanged", after[env] == before[env], True)
    ev.expect("prod image tag", image_tag(after["prod"], APP), "1.0.1-hotfix1")
    config = after["prod"].get((APP, "ConfigMap", f"{APP}-config"), {})
    ev.expect("prod ConfigMap cache-ttl", config.get("data", {}).get("cache-ttl"), "600")
    spec = deployment(after["prod"], APP)["spec"]
    ev.expect("prod replicas kept", spec["replicas"], REPLICAS["prod"])
    ev.expect("prod resources kept", _resources(after["prod"]), _resources(before["prod"]))
    return ev.lines


def _resources(objects: Objects) -> Any:
    return deployment(objects, APP)["spec"]["template"]["spec"]["containers"][0]["resources"]


def d2(w: World) -> list[str]:
    ev = Evidence()
    for app, tag in ((POSTGRES, "16.5"), (APP, "2.2.0")):
        w.merged_quietly(setting(w, "dev", app, "--image-tag", tag, "--no-promote")["mr_iid"])
    postgres = images(w, POSTGRES)
    ev.expect("stage postgres differs from dev's", postgres["stage"] != postgres["dev"], True)
    pick = ("promote-env", "--from", "dev", "--to", "stage", "--apps", APP)
    (unit,) = w.cli(*pick)["units"]
    ev.expect("unit proposed", (unit["unit"], unit["status"]), (APP, "created"))
    title = PROMOTE.format(app=APP, tag="2.2.0", env="stage")
    ev.expect("its MR", w.mr(unit["mr_iid"]).title, title)
    ev.expect("promote-env again", w.cli(*pick)["units"][0]["status"], "noop")
    w.merge(unit["mr_iid"])
    w.idle()
    now = images(w, APP), images(w, POSTGRES)
    ev.expect("stage example-app", now[0]["stage"], f"{IMAGE}:2.2.0")
    ev.expect("stage postgres (untouched)", now[1]["stage"], postgres["stage"])
    ev.expect(
        "dev example-app, postgres",
        (now[0]["dev"], now[1]["dev"]),
        (f"{IMAGE}:2.2.0", f"{POSTGRES_IMAGE}:16.5"),
    )
    return ev.lines


def d3(w: World) -> list[str]:
    ev = Evidence()
    stage_before = blob_ids(w, "stage")
    w.merge(build(w, "3.3.0"))
    w.merge(w.wait_mr("stage", PROMOTE.format(app=APP, tag="3.3.0", env="stage")).iid)
    onwards = w.wait_mr("prod", PROMOTE.format(app=APP, tag="3.3.0", env="prod"))
    w.idle()
    done = w.cli("revert", "--env", "stage")
    mr = w.mr(done["mr_iid"])
    ev.expect("revert MR", mr.title, 'Revert "Promote example-app 3.3.0 to stage" in stage')
    ev.expect(
        "its labels revert, env::stage, no-promote",
        {"revert", "env::stage", "no-promote"} <= set(mr.labels),
        True,
    )
    ev.expect("open promotion to prod closed", done["closed"], [onwards.iid])
    closed = w.mr(onwards.iid)
    why = any("reverted in stage" in n.body for n in closed.notes.list(get_all=True))
    ev.expect(
        "its state, a note saying it was reverted in stage", (closed.state, why), ("closed", True)
    )
    again = w.cli("revert", "--env", "stage", "--commit", done["commit"][:12])
    ev.expect("revert of that commit again", (again["status"], again["mr_iid"]), ("noop", mr.iid))
    w.merged_quietly(done["mr_iid"])
    ev.expect(
        "stage manifests equal to before the change", blob_ids(w, "stage") == stage_before, True
    )
    ev.expect("prod example-app", tags(w, APP)["prod"], "1.0.0")
    log = w.project.commits.list(ref_name="stage", per_page=3, get_all=False)
    ev.expect(
        "audit trail: stage's last commits name the revert",
        any("Revert" in c.title for c in log),
        True,
    )
    return ev.lines


def d4(w: World) -> list[str]:
    ev = Evidence()
    example_before = images(w, APP)
    done = setting(w, "dev", POSTGRES, "--image-tag", "17-alpine")
    ev.expect("its MR promotes on", done["promotes"], True)
    merged = w.chain(done["mr_iid"], PROMOTE.format(app=POSTGRES, tag="17-alpine", env="{env}"))
    ev.note("chain: " + " -> ".join(f"!{i}" for i in merged))
    want = {e: f"{POSTGRES_IMAGE}:17-alpine" for e in ENVS}
    ev.expect("postgres everywhere", images(w, POSTGRES), want)
    ev.expect("example-app untouched", images(w, APP), example_before)
    again = setting(w, "dev", POSTGRES, "--image-tag", "17-alpine")
    ev.expect("the same set again", again["status"], "noop")
    return ev.lines


def d5(w: World) -> list[str]:
    ev = Evidence()
    w.merged_quietly(setting(w, "dev", APP, "--image-tag", "5.5.0", "--no-promote")["mr_iid"])
    stage_before = blob_ids(w, "stage")
    skip = ("promote-env", "--from", "dev", "--to", "prod", "--apps", APP)
    ev.note(w.refused(*skip, says="skips stage"))
    (unit,) = w.cli(*skip, "--skip-env")["units"]
    mr = w.mr(unit["mr_iid"])
    ev.expect("skip-env label", "skip-env" in mr.labels, True)
    trailer = parse_trailer(mr.description)
    moved = (trailer.source_env, trailer.skipped) if trailer else None
    ev.expect("trailer: from, skipped", moved, ("dev", ("stage",)))
    ev.expect("again with --skip-env", w.cli(*skip, "--skip-env")["units"][0]["status"], "noop")
    w.merge(mr.iid)
    w.idle()
    ev.expect("prod example-app", images(w, APP)["prod"], f"{IMAGE}:5.5.0")
    ev.expect("stage manifests unchanged", blob_ids(w, "stage") == stage_before, True)
    into_stage = [m.iid for m in w.open_mrs("stage") if f"app::{APP}" in m.labels]
    ev.expect("open example-app MRs into stage", into_stage, [])
    return ev.lines


# --- E ---------------------------------------------------------------------------------


def first_party_release(w: World, ev: Evidence, app: str, tag: str) -> int:
    """A developer merges `Release <tag>` into the app's main (its VERSION, which the
    Jenkinsfile builds); the push hook starts its Jenkins job, whose gitopsPromote opens
    the dev MR."""

    def bump(tree: Path) -> None:
        if not (tree / "VERSION").is_file():
            raise Mismatch(f"{app}'s repository has no VERSION for its Jenkinsfile to build")
        (tree / "VERSION").write_text(f"{tag}\n")
        with (tree / "CHANGELOG.md").open("a") as changelog:
            changelog.write(f"- {tag}\n")

    path = w.app_path(app)
    w.merge(w.person_mr("main", f"Release {tag}", bump, path=path), path)
    first = w.wait_mr("dev", PROMOTE.format(app=app, tag=tag, env="dev"))
    number = w.wait_build(app)["number"]
    ev.note(
        f"the merge into {path} started Jenkins {app} #{number}; gitopsPromote opened !{first.iid}"
    )
    return int(first.iid)


def onboard_first_party(w: World, ev: Evidence, app: str) -> None:
    """Its Jenkins job and push hook, and its (no-promote) env entries merged. The job
    fetches the repository with `gitlab-git`, a Username with password credential: the
    Git plugin takes no Secret text (docs/JENKINS.md)."""
    done = w.cli(
        "onboard", "--app", app, "--repo", w.app_path(app), "--git-credentials", "gitlab-git"
    )
    ev.expect(f"Jenkins job {app} exists (python-jenkins)", bool(w.jenkins.job_exists(app)), True)
    for registration in done["registrations"]:
        if registration["status"] != "noop":
            w.merged_quietly(registration["mr_iid"])


def e1(w: World) -> list[str]:
    ev = Evidence()
    onboard_first_party(w, ev, APP)
    resources = {env: _resources(objects) for env, objects in w.everywhere().items()}
    first = first_party_release(w, ev, APP, "1.1.0")
    merged = w.chain(first, PROMOTE.format(app=APP, tag="1.1.0", env="{env}"))
    ev.note("chain: " + " -> ".join(f"!{i}" for i in merged))
    ev.expect("example-app everywhere", images(w, APP), {e: f"{IMAGE}:1.1.0" for e in ENVS})
    for env, objects in w.everywhere().items():
        ev.expect(
            f"{env} replicas kept", deployment(objects, APP)["spec"]["replicas"], REPLICAS[env]
        )
        ev.expect(f"{env} resources kept", _resources(objects), resources[env])
    trailer = parse_trailer(w.mr(merged[-1]).description)
    moved = (trailer.source_env, trailer.target_env) if trailer else None
    ev.expect(f"trailer of !{merged[-1]}: from, to", moved, ("stage", "prod"))
    # The next release: a second push-triggered build must promote its own version.
    w.merge(first_party_release(w, ev, APP, "1.1.1"))
    w.idle()
    ev.expect("dev after the second build", tags(w, APP)["dev"], "1.1.1")
    return ev.lines


def e2(w: World) -> list[str]:
    ev = Evidence()
    iid = build(w, "1.2.0", edit=app_env_var("PAYMENTS_V2", "on"))
    paths = w.changed_paths(iid)
    ev.expect(
        "one MR carries tag and app layer",
        {"env.cue", "services/apps/example-app.cue"} <= paths,
        True,
    )
    w.chain(iid, PROMOTE.format(app=APP, tag="1.2.0", env="{env}"))
    for env, objects in w.everywhere().items():
        got = (image_tag(objects, APP), env_var(objects, APP, "PAYMENTS_V2"))
        ev.expect(f"{env} image and PAYMENTS_V2", got, ("1.2.0", ["on"]))
    return ev.lines


def e3(w: World) -> list[str]:
    ev = Evidence()
    release(w, ev, "1.0.40")
    w.merge(build(w, "1.0.41"))
    w.merge(w.wait_mr("stage", PROMOTE.format(app=APP, tag="1.0.41", env="stage")).iid)
    into_prod = w.wait_mr("prod", PROMOTE.format(app=APP, tag="1.0.41", env="prod"))
    w.merge(build(w, "1.0.42"))
    waiting = w.wait_mr("stage", PROMOTE.format(app=APP, tag="1.0.42", env="stage"))
    w.idle()
    at_once = {"dev": "1.0.42", "stage": "1.0.41", "prod": "1.0.40"}
    ev.expect("images at once", images(w, APP), {e: f"{IMAGE}:{t}" for e, t in at_once.items()})
    w.merge(build(w, "1.0.43"))
    pending = w.wait_mr("stage", PROMOTE.format(app=APP, tag="1.0.43", env="stage"))
    w.idle()
    into_stage = [m.iid for m in w.open_mrs("stage") if f"app::{APP}" in m.labels]
    ev.expect("pending stage MR updated, never duplicated", into_stage, [pending.iid])
    ev.expect("1.0.43 updated 1.0.42's MR in place, not a new one", pending.iid, waiting.iid)
    status = w.mr(pending.iid).detailed_merge_status
    ev.expect("the updated stage MR", status, "mergeable")
    pending_prod = [m.iid for m in w.open_mrs("prod") if f"app::{APP}" in m.labels]
    ev.expect("open example-app MRs into prod: 1.0.41's", pending_prod, [into_prod.iid])
    return ev.lines


def e4(w: World) -> list[str]:
    ev = Evidence()
    for tag in ("1.0.41", "1.0.42"):
        w.merged_quietly(setting(w, "prod", APP, "--image-tag", tag, "--no-promote")["mr_iid"])
    before = w.everywhere()
    back = ("rollback", "--env", "prod", "--app", APP, "--to")
    done = w.cli(*back, "1.0.41")
    title = "Roll back example-app to 1.0.41 in prod [no-promote]"
    ev.expect("rollback MR", w.mr(done["mr_iid"]).title, title)
    paths = w.changed_paths(done["mr_iid"])
    ev.expect(
        "files the rollback changes",
        sorted(paths),
        ["env.cue", "manifests/prod/example-app/deployment-example-app.yaml"],
    )
    again = w.cli(*back, "previous")
    ev.expect(
        "again as --to previous", (again["status"], again["mr_iid"]), ("noop", done["mr_iid"])
    )
    w.merged_quietly(done["mr_iid"])
    after = w.everywhere()
    ev.expect("prod example-app", container(after["prod"], APP)["image"], f"{IMAGE}:1.0.41")
    moved = deployment(after["prod"], APP)
    moved["spec"]["template"]["spec"]["containers"][0]["image"] = f"{IMAGE}:1.0.42"
    ev.expect("prod Deployment otherwise unchanged", moved == deployment(before["prod"], APP), True)
    same = deployment(after["prod"], POSTGRES) == deployment(before["prod"], POSTGRES)
    ev.expect("prod postgres unchanged", same, True)
    for env in ("dev", "stage"):
        ev.expect(f"{env} untouched", after[env] == before[env], True)
    return ev.lines


# --- F ---------------------------------------------------------------------------------


def f1(w: World) -> list[str]:
    ev = Evidence()
    app = "user-service"
    w.app_project(app)
    onboard_first_party(w, ev, app)
    objects_of = {env: [k for k in o if k[0] == app] for env, o in w.everywhere().items()}
    ev.expect(f"objects of {app} once onboarded (no image yet)", objects_of, {e: [] for e in ENVS})
    first = first_party_release(w, ev, app, "1.0.0")
    merged = w.chain(first, PROMOTE.format(app=app, tag="1.0.0", env="{env}"))
    for env, objects in w.everywhere().items():
        got = (container(objects, app)["image"], deployment(objects, app)["spec"]["replicas"])
        want = (f"registry.example.com/{app}:1.0.0", REPLICAS[env])
        ev.expect(f"{env} {app} image, replicas", got, want)
        source = objects.get((app, "Application", f"{env}-{app}"), {}).get("spec", {})
        path = source.get("source", {}).get("path")
        ev.expect(f"{env} Application {env}-{app} source path", path, f"manifests/{env}/{app}")
    trailers = {i: parse_trailer(w.mr(i).description) for i in merged}
    platform = [i for i, t in trailers.items() if t is None or t.platform]
    ev.expect("its promotions without a trailer or moving the platform layer", platform, [])
    for branch in ENVS:
        files = w.project.repository_tree(path="services/apps", ref=branch, get_all=True)
        paths = {f["path"] for f in files}
        ev.expect(
            f"{branch} has services/apps/{app}.cue", f"services/apps/{app}.cue" in paths, True
        )
    return ev.lines


def f2(w: World) -> list[str]:
    ev = Evidence()
    args = (
        "onboard",
        "--app",
        "redis",
        "--third-party",
        "--image",
        "docker.io/library/redis",
        "--tag",
        "7.2.4",
        "--port",
        "6379",
    )
    done = w.cli(*args)
    ev.expect("Jenkins job, push hook", (done["job"], done["hook"]), (None, None))
    by_branch = {r["branch"]: r["mr_iid"] for r in done["registrations"]}
    branches = [r["branch"] for r in done["registrations"]]
    ev.expect("registration MRs into", branches, ["main", *ENVS])
    ev.expect("dev MR", w.mr(by_branch["dev"]).title, "Onboard redis in dev")
    files = {"services/apps/redis.cue", "env.cue", "manifests/dev/redis/deployment-redis.yaml"}
    ev.expect(
        "it carries the app file, env entry and manifests",
        files <= w.changed_paths(by_branch["dev"]),
        True,
    )
    before = w.all_mrs()
    again = [r["status"] for r in w.cli(*args)["registrations"]]
    ev.expect("onboard again", (again, w.all_mrs() == before), (["noop"] * 4, True))
    for branch in ("main", "stage", "prod"):
        w.merge(by_branch[branch])
    w.idle()
    into_dev = [m.iid for m in w.open_mrs("dev") if "app::redis" in m.labels]
    ev.expect("redis MRs into dev after main's merge (no sync)", into_dev, [by_branch["dev"]])
    w.chain(by_branch["dev"], PROMOTE.format(app="redis", tag="7.2.4", env="{env}"))
    for env, objects in w.everywhere().items():
        main = container(objects, "redis")
        replicas = deployment(objects, "redis")["spec"]["replicas"]
        ev.expect(
            f"{env} redis image, port, replicas",
            (main["image"], main["ports"][0]["containerPort"], replicas),
            ("docker.io/library/redis:7.2.4", 6379, REPLICAS[env]),
        )
    return ev.lines


def f3(w: World) -> list[str]:
    ev = Evidence()
    app = "legacy-service"
    w.app_project(app)
    done = w.cli("onboard", "--app", app, "--repo", w.app_path(app), "--git-credentials", "c")
    for registration in done["registrations"]:
        w.merged_quietly(registration["mr_iid"])
    release(w, ev, "0.9.0", app)
    app_file = w.project.files.raw(file_path=f"services/apps/{app}.cue", ref="dev").decode()

    def catalogue(tree: Path) -> None:
        (tree / f"services/apps/{app}.cue").write_text(app_file)

    iid = w.person_mr("main", f"Catalog: {app} [no-promote]", catalogue)
    w.merged_quietly(iid)
    ev.note(f"{app} deployed everywhere and on main; now decommissioned")

    order = []
    iid = w.cli("decommission", "--app", app)["mr_iid"]
    for branch in ("prod", "stage", "dev", "main"):
        mr = w.mr(iid)
        order.append(mr.target_branch)
        w.merge(iid)
        if branch != "main":
            following = ("stage", "dev", "main")[("prod", "stage", "dev").index(branch)]
            title = f"Decommission {app}: remove it from {following}"
            iid = w.wait_mr(following, title).iid
    w.idle()
    ev.expect("removal order", order, ["prod", "stage", "dev", "main"])
    for env, objects in w.everywhere().items():
        ev.expect(f"{env} objects of {app}", [k for k in objects if k[0] == app], [])
    ev.expect("Jenkins job", bool(w.jenkins.job_exists(app)), False)
    ev.expect("decommission rerun", w.cli("decommission", "--app", app)["step"], "done")
    return ev.lines


def f4(w: World) -> list[str]:
    ev = Evidence()
    iid = build(w, "2.0.0", "--group", "release-2.0", "--with", "postgres=17.2")
    title = "Promote release-2.0 to {env}: example-app 2.0.0, postgres 17.2"
    merged = w.chain(iid, title)
    ev.note("one MR per environment: " + " -> ".join(f"!{i}" for i in merged))
    for env, objects in w.everywhere().items():
        ev.expect(
            f"{env} example-app, postgres",
            (image_tag(objects, APP), image_tag(objects, POSTGRES)),
            ("2.0.0", "17.2"),
        )
    if any(not w.changed_paths(i) for i in merged):
        raise Mismatch("an MR of the group changed nothing")
    return ev.lines
