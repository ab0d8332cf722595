"""Plain CUE on the scaffold's deployment repository, as a platform engineer runs it.

On main and on every environment branch of a fresh `init-repo`, the commands the
repository's README gives (`cue vet ./...`, `cue vet -c ./services/apps`,
`cue export ./services/apps -e objects`, `cue fmt --check ./...`) pass with the
`cue` binary (current CUE) when one is installed, and `cue vet` / `cue export` pass
on the embedded engine (CUE v0.4). Both engines render every environment to the
same bytes as the manifests init-repo committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jenkins_helpers import git, proc
from jenkins_helpers.cue import CueEngine, CueError
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.deployrepo import layout, render
from tests.helpers.deployrepo import ENVS, append, copy_repo

pytestmark = pytest.mark.cue

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
