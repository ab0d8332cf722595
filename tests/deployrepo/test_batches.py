"""Rendering in batches of apps: the same bytes as one CUE export, errors at the same lines.

Above GITOPS_RENDER_BATCH app files, `render.evaluate` evaluates batches of apps
in mirrors of the repository that hold only those apps' entries (batches.py).
Whatever the batch size, what a user sees must not change: the manifests, and
the message and file:line:column of a CUE error. `evaluate_apps` renders a few
apps without evaluating the others.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jenkins_helpers import git
from jenkins_helpers.cue import CueEngine, CueError
from jenkins_helpers.cue.binary import BinaryEngine
from jenkins_helpers.cue.wasm import WasmEngine
from jenkins_helpers.deployrepo import render
from tests.deployrepo.many_apps import add_apps, app_name
from tests.helpers.deployrepo import append, copy_repo, replace_once

# slow: 30 to 66 generated apps rendered. How batches split and join is the tool's own
# logic and runs on the run's engine; what the engines say (errors, their lines, the
# bytes of many apps) is compared on each (`cue`).
pytestmark = pytest.mark.slow


def files(repo: Path, engine: CueEngine, batch: int, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The manifest files of dev, evaluated with GITOPS_RENDER_BATCH=`batch` (0: one export)."""
    monkeypatch.setenv("GITOPS_RENDER_BATCH", str(batch))
    return render.manifest_files("dev", render.evaluate(repo, engine))


@pytest.fixture(scope="module")
def thirty(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev with 30 generated apps besides the scaffold's two."""
    repo = copy_repo(template, tmp_path_factory.mktemp("thirty") / "k8s-deployments")
    git.switch(repo, "dev")
    add_apps(repo, 30)
    git.commit_all(repo, "30 apps")
    return repo


@pytest.fixture
def repo(thirty: Path, tmp_path: Path) -> Path:
    return copy_repo(thirty, tmp_path / "k8s-deployments")


def test_batches_render_the_bytes_of_one_export(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = engine.calls
    whole = files(repo, engine, 0, monkeypatch)
    assert engine.calls == calls + 1
    assert len({path.split("/")[2] for path in whole}) == 32
    calls = engine.calls
    assert files(repo, engine, 7, monkeypatch) == whole
    assert engine.calls == calls + 6, "32 apps by 7, in a multiple of the 2 workers"


def test_up_to_the_batch_size_one_export(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_files = len(list((repo / "services/apps").glob("*.cue")))
    calls = engine.calls
    files(repo, engine, app_files, monkeypatch)
    assert engine.calls == calls + 1


@pytest.mark.cue
def test_an_error_in_a_batch_reads_as_in_one_export(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same message, naming the user's file, line and column (never a temporary copy)."""
    name = app_name(17)
    replace_once(repo / f"services/apps/{name}.cue", "port: 8017", 'port: "8017"')
    append(repo / "env.cue", f'\napps: "{name}": env: replicas: -1\n')
    errors = []
    for batch in (0, 16):  # one export, and two batches: the app in the first
        with pytest.raises(CueError) as caught:
            files(repo, engine, batch, monkeypatch)
        errors.append(caught.value)
    whole, batched = errors
    assert batched.message == whole.message
    assert batched.hint == whole.hint
    assert f"./services/apps/{name}.cue:5:8" in batched.message
    assert "./env.cue:" in batched.message
    assert "gitops-render-batch" not in batched.message + str(batched.hint)


@pytest.mark.cue
def test_an_env_entry_with_an_image_but_no_app_layer_fails_in_a_batch_too(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(repo / "env.cue", '\napps: "zz-no-app-layer": env: deployment: image: tag: "1.0.0"\n')
    with pytest.raises(CueError) as whole:
        files(repo, engine, 0, monkeypatch)
    with pytest.raises(CueError) as batched:
        files(repo, engine, 16, monkeypatch)
    assert batched.value.message == whole.value.message


def test_env_entries_written_as_one_struct_are_split(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apps: {a: env: ..., b: env: ...}`, several entries on a line, and comments."""
    text = (repo / "env.cue").read_text()
    first, second, third = (app_name(i) for i in (3, 4, 5))
    for name in (first, second, third):
        start = text.index(f'\napps: "{name}": env: {{')
        end = text.index("\n}\n", start) + 3
        text = text[:start] + text[end:]
    text += (
        "\napps: {\n"
        f'\t// {second} is first here\n\t"{second}": env: {{deployment: image: tag: "2.0.0"}}, '
        f'"{first}": env: {{deployment: image: tag: "1.0.0", replicas: 3}}\n'
        f'\t"{third}": env: deployment: image: tag: "3.0.0"\n'
        "}\n"
    )
    (repo / "env.cue").write_text(text)
    whole = files(repo, engine, 0, monkeypatch)
    assert "replicas: 3\n" in whole[f"manifests/dev/{first}/deployment-{first}.yaml"]
    assert files(repo, engine, 8, monkeypatch) == whole


OTHER_APPS_ENTRY = f'\napps: "{app_name(4)}": app: podAnnotations: owner: "team-b"\n'


@pytest.mark.parametrize(
    ("file", "text"),
    [
        # An entry that reads another app's: that app must be in the same evaluation.
        ("env.cue", f'\napps: "{app_name(1)}": env: debugPort: apps."{app_name(2)}".app.port\n'),
        # `objects` keyed other than by app: a batch's objects cannot be told apart.
        ("deployments.cue", '\nobjects: "extra-objects": []\n'),
        # A file among the app files that is no app's: every batch would need it.
        ("services/apps/common.cue", "package deployments\n\nenvironment: defaults: {}\n"),
        # An app file with another app's entry.
        (f"services/apps/{app_name(27)}.cue", OTHER_APPS_ENTRY),
    ],
    ids=["entry-reads-another-app", "objects-not-by-app", "shared-app-file", "two-apps-file"],
)
def test_what_batches_cannot_split_is_evaluated_whole(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch, file: str, text: str
) -> None:
    path = repo / file
    path.write_text((path.read_text() if path.exists() else "") + text)
    whole = files(repo, engine, 0, monkeypatch)
    assert files(repo, engine, 8, monkeypatch) == whole


def test_evaluate_apps_finds_an_apps_entry_in_another_apps_file(
    repo: Path, engine: CueEngine
) -> None:
    append(repo / f"services/apps/{app_name(27)}.cue", OTHER_APPS_ENTRY)
    everything = render.evaluate(repo, engine)
    objects = everything[app_name(4)]
    (deployment,) = (o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["owner"] == "team-b"
    assert render.evaluate_apps(repo, [app_name(4)], engine) == {app_name(4): objects}


def test_evaluate_apps_evaluates_only_those_apps(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITOPS_RENDER_BATCH", raising=False)
    everything = render.evaluate(repo, engine)
    # Another app's broken layer does not stop it: that app is not evaluated.
    append(repo / f"services/apps/{app_name(9)}.cue", f'\napps: "{app_name(9)}": app: port: "x"\n')
    wanted = ["example-app", app_name(4), app_name(28), "not-an-app"]
    calls = engine.calls
    some = render.evaluate_apps(repo, wanted, engine)
    assert engine.calls == calls + 1
    assert some == {app: everything[app] for app in wanted[:3]}


@pytest.mark.cue
def test_evaluate_apps_of_an_env_entry_with_an_image_but_no_app_layer_fails(
    repo: Path, engine: CueEngine
) -> None:
    append(repo / "env.cue", '\napps: "no-app-layer": env: deployment: image: tag: "1.0.0"\n')
    with pytest.raises(CueError):
        render.evaluate_apps(repo, ["no-app-layer"], engine)


def test_both_engines_render_many_apps_to_the_same_bytes(
    template: Path,
    tmp_path: Path,
    binary: BinaryEngine,
    wasm: WasmEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batched on the binary == one export on the binary == batched on the embedded engine.
    (How long many apps take is bench/render.py's.)"""
    repo = copy_repo(template, tmp_path / "k8s-deployments")
    git.switch(repo, "dev")
    add_apps(repo, 64)
    batched = files(repo, binary, 20, monkeypatch)  # 66 app files: 4 batches
    assert len({path.split("/")[2] for path in batched}) == 66
    assert files(repo, binary, 0, monkeypatch) == batched
    assert files(repo, wasm, 100, monkeypatch) == batched


@pytest.mark.cue
def test_a_render_that_fails_in_its_last_batch_changes_nothing(
    repo: Path, engine: CueEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches write their files as they arrive, but into place only once every batch has
    rendered: no changed manifest, new directory or temporary file is left behind."""
    monkeypatch.setenv("GITOPS_RENDER_BATCH", "8")  # 32 apps: 4 batches, app-0029 in the last
    render.render(repo, "dev", engine)
    shutil.rmtree(repo / f"manifests/dev/{app_name(1)}")  # its directory would be made again
    append(repo / "env.cue", f'\napps: "{app_name(0)}": env: podAnnotations: note: "changed"\n')
    append(
        repo / f"services/apps/{app_name(29)}.cue", f'\napps: "{app_name(29)}": app: port: "x"\n'
    )
    before = tree(repo / "manifests")
    with pytest.raises(CueError, match=app_name(29)):
        render.render(repo, "dev", engine)
    assert tree(repo / "manifests") == before


def tree(root: Path) -> dict[str, bytes]:
    """Every file and directory under `root`, hidden ones too."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else b"/"
        for path in root.rglob("*")
    }
