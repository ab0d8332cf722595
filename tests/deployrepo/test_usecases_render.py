"""Use cases A, B and C of USE_CASES.md at the rendering level.

Each test makes the use case's change in the CUE files of the right branch(es),
as the merged MR (chain) would leave them, renders every environment and checks
what each one deploys; and that the bytes depend neither on the YAML emitter nor
(on the `cue` binary) on the engine: `assert_renders_alike`.

They run once, on the run's engine, not once per engine: on the binary
`assert_renders_alike` renders every environment on the embedded engine too, so
each use case is rendered (and compared) on both; without a binary, on the
embedded engine alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.deployrepo import (
    ENVS,
    append,
    container,
    copy_repo,
    deployed,
    env_vars,
    on_each_branch,
    replace_once,
)
from tests.helpers.engines import assert_renders_alike

# slow: every use case rendered on both engines (see above)
pytestmark = pytest.mark.slow

APP_FILE = "services/apps/example-app.cue"
POSTGRES_FILE = "services/apps/postgres.cue"
DEFAULTS = "platform/defaults.cue"


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    return copy_repo(template, tmp_path / "k8s-deployments")


def render_all(repo: Path) -> dict[str, dict]:
    """What each environment deploys; the same bytes from either YAML emitter and engine."""
    out = {env: deployed(repo, env) for env in ENVS}
    assert_renders_alike(repo, ENVS)
    return out


def app_layer(repo: Path, fields: str) -> None:
    """Add CUE fields to example-app's app layer."""
    append(repo / APP_FILE, f'\napps: "example-app": app: {{\n{fields}\n}}\n')


def env_layer(repo: Path, app: str, fields: str) -> None:
    append(repo / "env.cue", f'\napps: "{app}": env: {{\n{fields}\n}}\n')


def add_app_env_var(repo: Path, entry: str) -> None:
    """Append an entry to example-app's appEnvVars on every branch (the B chain's result)."""
    first = '{name: "APP_NAME", value: "example-app"}'
    on_each_branch(repo, ENVS, lambda r: replace_once(r / APP_FILE, first, f"{first}, {entry}"))


# A: environment-specific


def test_a1_dev_replicas_change_only_dev(repo: Path) -> None:
    on_each_branch(
        repo,
        ("dev",),
        lambda r: replace_once(
            r / "env.cue", "replicas: 1\n\tresources", "replicas: 2\n\tresources"
        ),
    )
    out = render_all(repo)
    replicas = {
        env: out[env][("example-app", "Deployment", "example-app")]["spec"]["replicas"]
        for env in ENVS
    }
    assert replicas == {"dev": 2, "stage": 2, "prod": 3}


def test_a2_debug_on_in_dev_only(repo: Path) -> None:
    on_each_branch(
        repo, ("dev",), lambda r: replace_once(r / "env.cue", "debug: false", "debug: true")
    )
    out = render_all(repo)
    assert ("DEBUG", "true") in env_vars(out["dev"], "example-app")
    assert ("example-app", "Service", "example-app-debug") in out["dev"]
    for env in ("stage", "prod"):
        assert "DEBUG" not in dict(env_vars(out[env], "example-app"))
        assert ("example-app", "Service", "example-app-debug") not in out[env]


def test_a3_configmap_entry_in_dev_only(repo: Path) -> None:
    on_each_branch(
        repo,
        ("dev",),
        lambda r: env_layer(
            r, "example-app", '\tconfigMap: data: "redis-url": "redis://redis.dev.svc:6379"'
        ),
    )
    out = render_all(repo)
    config = out["dev"][("example-app", "ConfigMap", "example-app-config")]
    assert config["data"] == {"redis-url": "redis://redis.dev.svc:6379"}
    for env in ("stage", "prod"):
        assert ("example-app", "ConfigMap", "example-app-config") not in out[env]


# B: app-level, every environment after the chain


def test_b1_app_env_var_everywhere(repo: Path) -> None:
    add_app_env_var(repo, '{name: "FEATURE_FLAGS", value: "new-checkout,dark-mode"}')
    for env, objects in render_all(repo).items():
        assert ("FEATURE_FLAGS", "new-checkout,dark-mode") in env_vars(objects, "example-app"), env


def test_b2_pod_annotation_everywhere(repo: Path) -> None:
    on_each_branch(
        repo,
        ENVS,
        lambda r: app_layer(r, '\tpodAnnotations: "prometheus.io/scrape-timeout": "30s"'),
    )
    for env, objects in render_all(repo).items():
        pod = objects[("example-app", "Deployment", "example-app")]["spec"]["template"]["metadata"]
        assert pod["annotations"]["prometheus.io/scrape-timeout"] == "30s", env


def test_b3_configmap_entry_everywhere(repo: Path) -> None:
    on_each_branch(repo, ENVS, lambda r: app_layer(r, '\tconfigMap: data: "cache-ttl": "300"'))
    for env, objects in render_all(repo).items():
        assert objects[("example-app", "ConfigMap", "example-app-config")]["data"] == {
            "cache-ttl": "300"
        }, env


def test_b4_prod_overrides_app_configmap_entry(repo: Path) -> None:
    on_each_branch(repo, ENVS, lambda r: app_layer(r, '\tconfigMap: data: "cache-ttl": "300"'))
    on_each_branch(
        repo,
        ("prod",),
        lambda r: env_layer(r, "example-app", '\tconfigMap: data: "cache-ttl": "600"'),
    )
    ttl = {
        env: objs[("example-app", "ConfigMap", "example-app-config")]["data"]["cache-ttl"]
        for env, objs in render_all(repo).items()
    }
    assert ttl == {"dev": "300", "stage": "300", "prod": "600"}


def test_b5_probe_timeout_app_then_prod_override(repo: Path) -> None:
    on_each_branch(repo, ENVS, lambda r: app_layer(r, "\treadinessProbe: timeoutSeconds: 10"))
    on_each_branch(
        repo,
        ("prod",),
        lambda r: env_layer(r, "example-app", "\treadinessProbe: timeoutSeconds: 30"),
    )
    for env, objects in render_all(repo).items():
        probe = container(objects, "example-app")["readinessProbe"]
        assert probe["timeoutSeconds"] == (30 if env == "prod" else 10), env
        assert probe["httpGet"] == {"path": "/ready", "port": "http"}, "the app's handler is kept"


def test_b6_dev_log_level_replaces_app_value_once(repo: Path) -> None:
    add_app_env_var(repo, '{name: "LOG_LEVEL", value: "INFO"}')
    on_each_branch(
        repo,
        ("dev",),
        lambda r: env_layer(
            r, "example-app", '\tadditionalEnv: [{name: "LOG_LEVEL", value: "DEBUG"}]'
        ),
    )
    for env, objects in render_all(repo).items():
        levels = [value for name, value in env_vars(objects, "example-app") if name == "LOG_LEVEL"]
        assert levels == (["DEBUG"] if env == "dev" else ["INFO"]), env


# C: platform-wide, every app in every environment


def test_c1_default_label_on_every_object(repo: Path) -> None:
    on_each_branch(
        repo,
        ENVS,
        lambda r: replace_once(
            r / DEFAULTS,
            'labels: "app.kubernetes.io/managed-by": "argocd"',
            'labels: {\n\t\t"app.kubernetes.io/managed-by": "argocd"\n'
            '\t\t"cost-center": "platform-shared"\n\t}',
        ),
    )
    for env, objects in render_all(repo).items():
        assert {key[0] for key in objects} == {"example-app", "postgres"}
        for key, obj in objects.items():
            assert obj["metadata"]["labels"]["cost-center"] == "platform-shared", (env, key)


def test_c2_pod_security_context_on_every_deployment(repo: Path) -> None:
    on_each_branch(
        repo,
        ENVS,
        lambda r: replace_once(
            r / DEFAULTS,
            "\tstrategy: {maxSurge: 1, maxUnavailable: 1}\n",
            "\tstrategy: {maxSurge: 1, maxUnavailable: 1}\n"
            "\tpodSecurityContext: {runAsNonRoot: true, runAsUser: 1000}\n",
        ),
    )
    for env, objects in render_all(repo).items():
        for app in ("example-app", "postgres"):
            spec = objects[(app, "Deployment", app)]["spec"]["template"]["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True, (env, app)
        example = objects[("example-app", "Deployment", "example-app")]["spec"]["template"]["spec"]
        assert example["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}, env
        # postgres's app layer names its image's own user (uid 999): the app layer wins.
        postgres = objects[("postgres", "Deployment", "postgres")]["spec"]["template"]["spec"]
        assert postgres["securityContext"]["runAsUser"] == 999, env


def test_c3_max_unavailable_zero_unless_app_overrides(repo: Path) -> None:
    on_each_branch(
        repo, ENVS, lambda r: replace_once(r / DEFAULTS, "maxUnavailable: 1}", "maxUnavailable: 0}")
    )
    on_each_branch(repo, ENVS, lambda r: app_layer(r, "\tstrategy: maxSurge: 2"))
    for env, objects in render_all(repo).items():
        strategy = objects[("example-app", "Deployment", "example-app")]["spec"]["strategy"]
        assert strategy == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0},
        }, env
        # postgres keeps its own choice: a Recreate strategy for its volume.
        assert objects[("postgres", "Deployment", "postgres")]["spec"]["strategy"] == {
            "type": "Recreate"
        }


def test_c4_default_pod_annotation_on_every_app(repo: Path) -> None:
    on_each_branch(
        repo,
        ENVS,
        lambda r: append(
            r / DEFAULTS, '\ndefaults: podAnnotations: "prometheus.io/scrape-interval": "30s"\n'
        ),
    )
    for env, objects in render_all(repo).items():
        for app in ("example-app", "postgres"):
            pod = objects[(app, "Deployment", app)]["spec"]["template"]["metadata"]
            assert pod["annotations"]["prometheus.io/scrape-interval"] == "30s", (env, app)


def test_c5_platform_scrape_on_postgres_off(repo: Path) -> None:
    def change(r: Path) -> None:
        append(r / DEFAULTS, '\ndefaults: podAnnotations: "prometheus.io/scrape": "true"\n')
        append(
            r / POSTGRES_FILE,
            '\napps: postgres: app: podAnnotations: "prometheus.io/scrape": "false"\n',
        )

    on_each_branch(repo, ENVS, change)
    for env, objects in render_all(repo).items():
        scrape = {
            app: objects[(app, "Deployment", app)]["spec"]["template"]["metadata"]["annotations"][
                "prometheus.io/scrape"
            ]
            for app in ("example-app", "postgres")
        }
        assert scrape == {"example-app": "true", "postgres": "false"}, env


def test_c6_prod_environment_label_beats_platform_default(repo: Path) -> None:
    on_each_branch(
        repo,
        ENVS,
        lambda r: append(r / DEFAULTS, '\ndefaults: labels: "cost-center": "platform-shared"\n'),
    )
    on_each_branch(
        repo,
        ("prod",),
        lambda r: replace_once(
            r / "env.cue", "defaults: {}", 'defaults: labels: "cost-center": "production-critical"'
        ),
    )
    for env, objects in render_all(repo).items():
        expected = "production-critical" if env == "prod" else "platform-shared"
        for key, obj in objects.items():
            assert obj["metadata"]["labels"]["cost-center"] == expected, (env, key)
