"""The starting state's repositories, laid down once per demo run in a work directory.

`k8s-deployments` is what `gitops-helper init-repo` makes; `example-app` holds the
scaffold's app layer as `deployment/app.cue` and a Jenkinsfile calling gitopsPromote.
A last empty commit on every branch, titled SEED_MARK, tells the demo later that it
created the branches it is about to reset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jenkins_helpers import git
from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import SETTINGS_FILE

SEED_MARK = "Seeded by gitops-helper demo"
ENVS = ("dev", "stage", "prod")
MAIN = "main"
JENKINSFILE = Path(__file__).with_name("Jenkinsfile.example")
FIRST_VERSION = "1.0.0"
APP_HEADER = "// App layer of {app}: its team's; gitopsPromote copies it to k8s-deployments.\n"


@dataclass(frozen=True)
class Seeds:
    deployments: Path  # a repository with main and a branch per environment
    example_app: Path  # an app repository, main only

    def app(self, app: str, work: Path) -> Path:
        """Another first-party app's repository: the example app, renamed."""
        return _app_repo(work / app, app, self.example_app)


def lay_down(
    work: Path, init_repo: Callable[[Path, Sequence[str]], None], settings: str = ""
) -> Seeds:
    """The seeds in `work`; `init_repo` runs `gitops-helper init-repo` (the user's engine).
    `settings` is added to main's gitops.yaml (the demo's `argocd:` section)."""
    deployments = work / "k8s-deployments"
    init_repo(deployments, ENVS)
    for branch in (*ENVS, MAIN):
        git.switch(deployments, branch)
        if branch == MAIN and settings:  # read from main only (target.connect)
            with (deployments / SETTINGS_FILE).open("a") as f:
                f.write(settings)
        git.commit_all(deployments, SEED_MARK)
    return Seeds(deployments, _app_repo(work / "example-app", "example-app", deployments))


def _app_repo(directory: Path, app: str, source: Path) -> Path:
    """`deployment/app.cue` (example-app's layer, renamed), the Jenkinsfile and the VERSION
    it builds, committed."""
    template = (
        (source / "deployment/app.cue")
        if (source / "deployment").is_dir()
        else (source / layout.app_file("example-app"))
    )
    body = template.read_text().split("apps:", 1)[1]
    (directory / "deployment").mkdir(parents=True)
    (directory / "deployment/app.cue").write_text(
        "package deployments\n\n"
        + APP_HEADER.format(app=app)
        + "apps:"
        + body.replace("example-app", app)
    )
    (directory / "Jenkinsfile").write_text(JENKINSFILE.read_text().replace("example-app", app))
    (directory / "VERSION").write_text(f"{FIRST_VERSION}\n")  # what the Jenkinsfile builds
    git.init(directory, "main")
    git.commit_all(directory, SEED_MARK)
    return directory
