"""Plain CUE on the scaffold's deployment repository, as a platform engineer runs it.

On main and on every environment branch of a fresh `init-repo`, the commands the
repository's README gives (`cue vet ./...`, `cue vet -c ./services/apps`,
`cue export ./services/apps -e objects`, `cue fmt --check ./...`) pass with the
`cue` binary (current CUE) when one is installed, and `cue vet` / `cue export` pass
on the embedded engine (CUE v0.4). Both engines render every environment to the
same bytes as the manifests init-repo committed. The recipe for adding a field
(platform/app.cue, the repository's README) works with a platform default and
without one, and a new kind of probe handler is named in schema.cue only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers import git, proc
from jenkins_helpers.cue import CueEngine, CueError
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.deployrepo import layout, render
from tests.helpers.deployrepo import ENVS, append, copy_repo, replace_once

# slow: every environment of the scaffold exported on each engine
pytestmark = [pytest.mark.cue, pytest.mark.slow]

BRANCHES = ("main", *ENVS)
APPS = layout.CUE_PACKAGE

# What a platform engineer types, exactly (README.md of the scaffold).
PLAIN_COMMANDS = {
    "vet": ["vet", "./..."],
    "vet-concrete": ["vet", "-c", APPS],
    "export": ["export", APPS, "-e", "objects"],
    "fmt": ["fmt", "--check", "./..."],
}


@pytest.fixture(scope="module")
def checkouts(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One copy of the fresh deployment repository per branch, that branch checked out."""
    root = tmp_path_factory.mktemp("scaffold-cue")
    repos = {}
    for branch in BRANCHES:
        repos[branch] = copy_repo(template, root / branch)
        git.switch(repos[branch], branch)
    return repos


@pytest.mark.parametrize("command", sorted(PLAIN_COMMANDS))
@pytest.mark.parametrize("branch", BRANCHES)
def test_plain_cue_commands_pass_with_the_cue_binary(
    checkouts: dict[str, Path], binary: BinaryEngine, branch: str, command: str
) -> None:
    args = PLAIN_COMMANDS[command]
    done = proc.run([binary.cue_bin, *args], cwd=checkouts[branch], check=False, timeout=120)
    assert done.returncode == 0, f"cue {' '.join(args)} on {branch}:\n{done.stderr}{done.stdout}"


@pytest.mark.parametrize("branch", BRANCHES)
def test_vet_and_export_pass(checkouts: dict[str, Path], engine: CueEngine, branch: str) -> None:
    repo = checkouts[branch]
    engine.vet(["./..."], cwd=repo)  # with -c: every package is concrete, on main too
    engine.vet([APPS], cwd=repo)
    objects = engine.export([APPS], cwd=repo, expression="objects")
    assert sorted(objects) == ([] if branch == "main" else ["example-app", "postgres"])


@pytest.mark.parametrize("env", ENVS)
def test_each_engine_renders_the_committed_manifests(
    checkouts: dict[str, Path], engine: CueEngine, env: str
) -> None:
    """So the two engines render every environment to the same bytes."""
    repo = checkouts[env]
    committed = render.existing_files(repo, env)
    assert committed, f"init-repo committed no manifests for {env}"
    assert render.manifest_files(env, render.evaluate(repo, engine)) == committed


def test_the_root_package_alone_deploys_nothing(
    checkouts: dict[str, Path], engine: CueEngine
) -> None:
    """`cue vet ./...` evaluates the repository root without services/apps/."""
    assert engine.export(["."], cwd=checkouts["dev"], expression="objects") == {}


def test_an_env_entry_with_an_image_but_without_an_app_layer_is_an_error(
    checkouts: dict[str, Path], engine: CueEngine, tmp_path: Path
) -> None:
    repo = copy_repo(checkouts["dev"], tmp_path / "repo")
    append(repo / "env.cue", '\napps: "no-such-app": env: deployment: image: tag: "1.0.0"\n')
    with pytest.raises(CueError):
        render.evaluate(repo, engine)


def test_an_env_entry_without_an_image_tag_renders_nothing_yet(
    checkouts: dict[str, Path], engine: CueEngine, wasm: WasmEngine, tmp_path: Path
) -> None:
    """Onboarding writes the entry before the first build; the first promotion deploys it."""
    repo = copy_repo(checkouts["dev"], tmp_path / "repo")
    (repo / "services/apps/newcomer.cue").write_text(
        "package deployments\n\n"
        'apps: newcomer: app: deployment: image: repository: "registry.example.com/newcomer"\n'
    )
    append(repo / "env.cue", "\napps: newcomer: env: replicas: 2\n")
    files = render.manifest_files("dev", render.evaluate(repo, engine))
    assert not [name for name in files if "/newcomer/" in name]
    assert files == render.manifest_files("dev", render.evaluate(repo, wasm))

    append(repo / "env.cue", 'apps: newcomer: env: deployment: image: tag: "0.1.0"\n')
    files = render.manifest_files("dev", render.evaluate(repo, engine))
    deployment = files["manifests/dev/newcomer/deployment-newcomer.yaml"]
    assert "image: registry.example.com/newcomer:0.1.0\n" in deployment
    assert "replicas: 2\n" in deployment


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("services/apps/example-app.cue", '\napps: "example-app": app: replicas: "two"\n'),
        ("env.cue", '\napps: "example-app": env: deployment: image: digest: "sha256:abc"\n'),
        ("env.cue", "\nenvironment: defaults: debugPort: 0\n"),
    ],
    ids=["app-layer", "env-layer", "environment-defaults"],
)
def test_an_invalid_value_in_any_layer_is_an_error(
    checkouts: dict[str, Path], engine: CueEngine, tmp_path: Path, file: str, text: str
) -> None:
    """Not skipped: current CUE's `x != _|_` is false for an invalid x."""
    repo = copy_repo(checkouts["dev"], tmp_path / "repo")
    append(repo / file, text)
    with pytest.raises(CueError) as error:
        render.evaluate(repo, engine)
    assert f"./{file}:" in error.value.message


# The two reads the recipe at the top of platform/app.cue shows: a plain value with a
# platform default, and one without.
WITH_DEFAULT = "terminationGracePeriodSeconds"
OPTIONAL = "priorityClassName"


def recipe_reads(app_cue: str) -> list[str]:
    """The template lines the recipe's comment shows, as a platform engineer copies them."""
    header = app_cue[: app_cue.index("#App:")]
    reads = [
        line.removeprefix("//").strip()
        for line in header.splitlines()
        if line.startswith("//") and any(f"config.{f}" in line for f in (WITH_DEFAULT, OPTIONAL))
    ]
    assert len(reads) == 2, f"the recipe no longer shows both reads: {reads}"
    return reads


def test_the_recipe_adds_a_field_with_a_default_and_one_without(
    checkouts: dict[str, Path], engine: CueEngine, tmp_path: Path
) -> None:
    """platform/app.cue's recipe, followed step by step for one field of each kind."""
    repo = copy_repo(checkouts["dev"], tmp_path / "repo")
    platform = repo / "platform"
    # 1. schema.cue: each declared in #Layer, optional.
    replace_once(
        platform / "schema.cue",
        "#Layer: {\n",
        "#Layer: {\n"
        "\t// Seconds a stopping pod gets before it is killed.\n"
        f"\t{WITH_DEFAULT}?: int & >=0\n"
        "\t// The pods' PriorityClass; the cluster's default when not set.\n"
        f"\t{OPTIONAL}?: string\n",
    )
    # 2. app.cue: both names in the list of plain values; defaults.cue: one default.
    replace_once(
        platform / "app.cue",
        '"debugPort", "storage"]',
        f'"debugPort", "storage", "{WITH_DEFAULT}", "{OPTIONAL}"]',
    )
    replace_once(
        platform / "defaults.cue", "\tstorage: null\n", f"\tstorage: null\n\t{WITH_DEFAULT}: 30\n"
    )
    # 3. deployment.cue: the pod spec reads them as the recipe shows (and the README).
    reads = recipe_reads((platform / "app.cue").read_text())
    readme = (repo / "README.md").read_text()
    assert [read for read in reads if read in readme] == reads
    pod_spec = "\t\t\t\t\tsecurityContext: config.podSecurityContext\n"
    lines = "".join(f"\t\t\t\t\t{read}\n" for read in reads)
    replace_once(platform / "deployment.cue", pod_spec, pod_spec + lines)
    # Layers set them: postgres's app layer overrides the default, dev gives example-app
    # a priority class; no layer gives postgres one.
    append(repo / "services/apps/postgres.cue", f"\napps: postgres: app: {WITH_DEFAULT}: 60\n")
    append(repo / "env.cue", f'\napps: "example-app": env: {OPTIONAL}: "high"\n')

    engine.vet(["./..."], cwd=repo)
    engine.vet([APPS], cwd=repo)
    objects = render.evaluate(repo, engine)
    added = {}
    for app, found in objects.items():
        (deployment,) = [o for o in found if o["kind"] == "Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        added[app] = {k: pod.pop(k) for k in (WITH_DEFAULT, OPTIONAL) if k in pod}
    assert added == {
        "example-app": {WITH_DEFAULT: 30, OPTIONAL: "high"},
        "postgres": {WITH_DEFAULT: 60},
    }
    # Nothing else changed: without the two fields, the manifests init-repo committed.
    assert render.manifest_files("dev", objects) == render.existing_files(repo, "dev")


def test_a_new_kind_of_probe_handler_is_declared_in_schema_cue_only(
    checkouts: dict[str, Path], engine: CueEngine, tmp_path: Path
) -> None:
    """The merge (app.cue) and the template (deployment.cue) name no handler kind."""
    repo = copy_repo(checkouts["dev"], tmp_path / "repo")
    schema = repo / "platform/schema.cue"
    replace_once(schema, "#Probe: {\n", "#Probe: {\n\tgrpc?: {port: int, service?: string}\n")
    replace_once(schema, '_probeHandlers: ["httpGet", ', '_probeHandlers: ["grpc", "httpGet", ')
    append(repo / "env.cue", '\napps: "example-app": env: readinessProbe: grpc: port: 9090\n')
    objects = render.evaluate(repo, engine)
    (deployment,) = [o for o in objects["example-app"] if o["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # The env layer's handler replaces the app layer's httpGet whole; the platform's
    # timing fields stay; the liveness probe keeps its httpGet.
    assert container["readinessProbe"] == {
        "grpc": {"port": 9090},
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "failureThreshold": 3,
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
