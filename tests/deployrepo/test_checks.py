"""Tests for jenkins_helpers.validate: schemas, policy rules and loading manifests."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from jenkins_helpers.deployrepo import checks
from jenkins_helpers.deployrepo.checks import Finding, check_objects, load_manifests
from jenkins_helpers.errors import BadInput, UserError

ENV = "dev"
NS = "apps-dev"
IMAGE = "registry.example.com/team/example-app:1.4.2"


def deployment(app: str = "example-app") -> dict:
    """A Deployment as the platform layer renders it, with a ConfigMap and a volume."""
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "argocd"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
            },
            "template": {
                "metadata": {"labels": labels, "annotations": {"checksum/config": "abc123"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": app,
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": "http"},
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/live", "port": "http"},
                                "initialDelaySeconds": 10,
                            },
                            "securityContext": {"allowPrivilegeEscalation": False},
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/app-config", "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": f"{app}-config"}}],
                },
            },
        },
    }


def service(app: str = "example-app", name: str | None = None) -> dict:
    """A Service (or, with `name`, the debug Service)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name or app,
            "namespace": NS,
            "labels": {"app.kubernetes.io/name": app},
        },
        "spec": {
            "selector": {"app.kubernetes.io/name": app},
            "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def config_map(app: str = "example-app") -> dict:
    """The app's ConfigMap."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{app}-config", "namespace": NS},
        "data": {"app.properties": "greeting=hello\n", "FEATURE_X": "true"},
    }


def pvc(app: str = "example-app") -> dict:
    """The app's PersistentVolumeClaim."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{app}-data", "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "standard",
        },
    }


def application(app: str = "example-app") -> dict:
    """The app's ArgoCD Application, as the platform layer generates it."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{ENV}-{app}",
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/name": app},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://gitlab.example.com/platform/k8s-deployments.git",
                "targetRevision": ENV,
                "path": f"manifests/{ENV}/{app}",
                "directory": {"exclude": "application-*.yaml"},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }


def app_objects(app: str = "example-app") -> list[tuple[str, dict]]:
    """All objects of one app, keyed by the path the renderer writes them to."""
    folder = f"manifests/{ENV}/{app}"
    return [
        (f"{folder}/application-{ENV}-{app}.yaml", application(app)),
        (f"{folder}/configmap-{app}-config.yaml", config_map(app)),
        (f"{folder}/deployment-{app}.yaml", deployment(app)),
        (f"{folder}/persistentvolumeclaim-{app}-data.yaml", pvc(app)),
        (f"{folder}/service-{app}.yaml", service(app)),
        (f"{folder}/service-{app}-debug.yaml", service(app, f"{app}-debug")),
    ]


DEPLOYMENT_PATH = f"manifests/{ENV}/example-app/deployment-example-app.yaml"
APPLICATION_PATH = f"manifests/{ENV}/example-app/application-{ENV}-example-app.yaml"


def check(*objects: tuple[str, dict]) -> list[Finding]:
    """check_objects for the test environment."""
    return check_objects(objects, env=ENV, namespace=NS)


def only(findings: list[Finding]) -> Finding:
    """The single finding; fails with all of them listed otherwise."""
    assert len(findings) == 1, findings
    return findings[0]


def mutated(obj: dict, path: str, value: object) -> dict:
    """A deep copy of `obj` with the dotted `path` set (list indices as numbers)."""
    copied = copy.deepcopy(obj)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = copied
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return copied


DELETE = object()
CONTAINER = "spec.template.spec.containers.0"


def test_realistic_objects_are_clean():
    assert check(*app_objects()) == []


def test_every_object_passes_kubernetes_validate_itself():
    for _, obj in app_objects()[1:]:
        kubernetes_validate.validate(obj, checks.DEFAULT_KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    "field, value, rule, severity",
    [
        ("metadata.namespace", "apps-prod", "namespace", "error"),
        ("metadata.namespace", DELETE, "namespace", "error"),
        (
            f"{CONTAINER}.image",
            "registry.example.com/team/example-app:latest",
            "latest-tag",
            "error",
        ),
        (f"{CONTAINER}.image", "registry.example.com:5000/team/example-app", "latest-tag", "error"),
        (f"{CONTAINER}.resources.limits", DELETE, "resources", "error"),
        (f"{CONTAINER}.resources.requests.memory", DELETE, "resources", "error"),
        (f"{CONTAINER}.securityContext.privileged", True, "privileged", "error"),
        (
            f"{CONTAINER}.securityContext.allowPrivilegeEscalation",
            True,
            "privilege-escalation",
            "error",
        ),
        (f"{CONTAINER}.readinessProbe", DELETE, "readiness-probe", "warning"),
        (f"{CONTAINER}.readinessProbe.httpGet", DELETE, "probe-handler", "error"),
        (f"{CONTAINER}.livenessProbe.httpGet", DELETE, "probe-handler", "error"),
        ("spec.template.spec.securityContext.runAsNonRoot", False, "run-as-non-root", "warning"),
        ("spec.template.spec.securityContext", DELETE, "run-as-non-root", "warning"),
    ],
)
def test_each_policy_rule_fires_on_its_mutation(field, value, rule, severity):
    finding = only(check((DEPLOYMENT_PATH, mutated(deployment(), field, value))))
    assert (finding.rule, finding.severity, finding.path) == (rule, severity, DEPLOYMENT_PATH)
    assert "Deployment example-app" in finding.message


def test_image_pinned_by_digest_passes_even_with_latest():
    digest = "sha256:" + "ab" * 32
    obj = mutated(deployment(), f"{CONTAINER}.image", f"{IMAGE.split(':')[0]}:latest@{digest}")
    assert check((DEPLOYMENT_PATH, obj)) == []


def test_container_run_as_non_root_overrides_the_pod():
    obj = mutated(deployment(), f"{CONTAINER}.securityContext.runAsNonRoot", False)
    assert only(check((DEPLOYMENT_PATH, obj))).rule == "run-as-non-root"
    obj = mutated(deployment(), "spec.template.spec.securityContext", {})
    obj = mutated(obj, f"{CONTAINER}.securityContext.runAsNonRoot", True)
    assert check((DEPLOYMENT_PATH, obj)) == []


def test_init_containers_are_checked_but_need_no_readiness_probe():
    init = {"name": "migrate", "image": "registry.example.com/team/migrate"}
    obj = mutated(deployment(), "spec.template.spec.initContainers", [init])
    findings = check((DEPLOYMENT_PATH, obj))
    assert {f.rule for f in findings} == {"latest-tag", "resources"}
    assert all("initContainers[0]" in f.message and "'migrate'" in f.message for f in findings)


def test_schema_error_names_the_field():
    obj = mutated(deployment(), "spec.replicas", "2")
    finding = only(check((DEPLOYMENT_PATH, obj)))
    assert (finding.rule, finding.severity) == ("schema", "error")
    assert "Deployment example-app: spec.replicas:" in finding.message
    assert "'2' is not of type 'integer'" in finding.message


def test_unknown_field_is_an_error_naming_it():
    obj = mutated(deployment(), f"{CONTAINER}.imagePullPolicyy", "Always")
    finding = only(check((DEPLOYMENT_PATH, obj)))
    assert finding.rule == "schema"
    assert "unknown field spec.template.spec.containers[0].imagePullPolicyy" in finding.message


def test_every_schema_error_is_reported():
    obj = mutated(deployment(), "spec.replicas", "2")
    obj = mutated(obj, "spec.paused", "yes")
    messages = [f.message for f in check((DEPLOYMENT_PATH, obj))]
    assert len(messages) == 2
    assert any("spec.paused" in m for m in messages)


@pytest.mark.parametrize(
    "api_version, kind",
    [
        ("apps/v1beta1", "Deployment"),
        ("v1", "Servce"),
        ("example.com/v1", "Widget"),
        ("v1", "../v1.30.0-local-strict/service"),
        ("../../x/v1", "Service"),
    ],
)
def test_unknown_kind_or_removed_api_is_a_schema_error(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": NS}}
    finding = only(check(("manifests/dev/x/x.yaml", obj)))
    assert finding.rule == "schema" and "no schema" in finding.message


def test_matches_kubernetes_validate_verdicts():
    """Our cached validators must agree with the package's own validate()."""
    cases = [
        deployment(),
        service(),
        mutated(deployment(), "spec.replicas", "2"),
        mutated(service(), "spec.bogus", 1),
        mutated(pvc(), "spec.accessModes", "RWO"),
    ]
    for obj in cases:
        try:
            kubernetes_validate.validate(obj, checks.DEFAULT_KUBERNETES_VERSION, strict=True)
            expected = True
        except kubernetes_validate.ValidationError:
            expected = False
        assert (check(("p.yaml", obj)) == []) is expected, obj


def test_kubernetes_version_is_selectable_and_unknown_ones_are_refused():
    assert check_objects(app_objects(), env=ENV, namespace=NS, kubernetes_version="v1.33.2") == []
    with pytest.raises(BadInput, match=r"'0\.9'"):
        check_objects(app_objects(), env=ENV, namespace=NS, kubernetes_version="0.9")


def test_cluster_scoped_objects_need_no_namespace():
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    assert check(("manifests/dev/namespace.yaml", obj)) == []


@pytest.mark.parametrize(
    "field, value, rule, severity",
    [
        ("spec.syncPolicy.automated.prune", DELETE, "argocd-prune", "error"),
        ("spec.syncPolicy.automated.prune", False, "argocd-prune", "error"),
        ("spec.syncPolicy.automated", DELETE, "argocd-prune", "error"),
        ("spec.syncPolicy.automated.enabled", False, "argocd-prune", "error"),
        ("spec.syncPolicy.automated.selfHeal", False, "argocd-self-heal", "warning"),
        ("metadata.namespace", "default", "namespace", "error"),
        ("spec.destination.namespace", "apps-prod", "namespace", "error"),
        ("spec.source.path", "manifests/prod/example-app", "argocd-path", "error"),
        ("spec.source.path", "manifests/dev/../prod", "argocd-path", "error"),
    ],
)
def test_application_policy(field, value, rule, severity):
    finding = only(check((APPLICATION_PATH, mutated(application(), field, value))))
    assert (finding.rule, finding.severity, finding.path) == (rule, severity, APPLICATION_PATH)
    assert f"Application {ENV}-example-app" in finding.message


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("spec.source.repoURL", DELETE, "spec.source: 'repoURL' is a required property"),
        ("spec.source.targetRevison", "dev", "unknown field spec.source.targetRevison"),
        ("spec.syncPolicy.automated.prune", "true", "spec.syncPolicy.automated.prune: 'true'"),
        ("spec.syncPolicy.syncOptions", ["CreateNamespace"], "syncOptions[0]"),
        ("spec.destination.name", "in-cluster", "spec.destination"),
        ("spec.project", "", "spec.project"),
        ("metadata.finalizers", ["resources-finalizer"], "metadata.finalizers[0]"),
        ("apiVersion", "argoproj.io/v1beta1", "apiVersion"),
        ("status", {}, "unknown field status"),
    ],
)
def test_application_schema(field, value, expected):
    findings = check((APPLICATION_PATH, mutated(application(), field, value)))
    schema = [f for f in findings if f.rule == "argocd-schema"]
    assert len(schema) == 1, findings
    assert schema[0].severity == "error" and expected in schema[0].message


def test_duplicate_object_names_the_first_file():
    first = (DEPLOYMENT_PATH, deployment())
    second = ("manifests/dev/other/deployment-example-app.yaml", deployment())
    finding = only(check(first, second))
    assert (finding.rule, finding.severity, finding.path) == ("duplicate", "error", second[0])
    assert DEPLOYMENT_PATH in finding.message


def test_same_name_in_another_kind_is_no_duplicate():
    renamed = mutated(config_map(), "metadata.name", "example-app")
    assert check((DEPLOYMENT_PATH, deployment()), ("manifests/dev/x/cm.yaml", renamed)) == []


def test_findings_are_sorted_by_path():
    objects = [
        (
            f"manifests/dev/{name}/deployment.yaml",
            mutated(deployment(name), f"{CONTAINER}.readinessProbe", DELETE),
        )
        for name in ("zeta", "alpha", "mid")
    ]
    assert [f.path for f in check(*objects)] == sorted(o[0] for o in objects)


def test_check_objects_builds_one_schema_validator_per_kind_for_300_apps():
    """What keeps validation fast (bench/checks.py times it): each kind's schema is
    loaded and compiled once, then reused for every object of that kind."""
    objects = [item for i in range(300) for item in app_objects(f"app-{i}")[1:5]]
    kinds = {(obj["apiVersion"], obj["kind"]) for _, obj in objects}
    assert (len(objects), len(kinds)) == (1200, 4)
    checks._k8s_validator.cache_clear()
    assert check_objects(objects, env=ENV, namespace=NS) == []
    built = checks._k8s_validator.cache_info()
    assert (built.misses, built.hits) == (len(kinds), len(objects) - len(kinds))


def write(root: Path, relative: str, text: str) -> None:
    """Write a file under root, creating folders."""
    file = root / relative
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)


def test_load_manifests_reads_the_env_tree_sorted(tmp_path):
    for path, obj in reversed(app_objects()):
        write(tmp_path, path, yaml.safe_dump(obj))
    write(tmp_path, "manifests/dev/README.md", "not a manifest")
    write(tmp_path, "manifests/prod/example-app/deployment-example-app.yaml", "kind: X\n")
    loaded = load_manifests(tmp_path, ENV)
    assert loaded == sorted(app_objects())
    assert check_objects(loaded, env=ENV, namespace=NS) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: 1\n---\nb: 2\n", "found 2 documents"),
        ("", "found 0 documents"),
        ("- a\n- b\n", "found list"),
        ("just a string\n", "found str"),
        ("a: [1\n", "not valid YAML"),
    ],
)
def test_load_manifests_refuses_files_that_are_not_one_mapping(tmp_path, text, expected):
    write(tmp_path, "manifests/dev/app/bad.yaml", text)
    with pytest.raises(UserError, match=expected) as info:
        load_manifests(tmp_path, ENV)
    assert "manifests/dev/app/bad.yaml" in info.value.message
    assert info.value.exit_code == 1


def test_load_manifests_without_the_env_folder(tmp_path):
    with pytest.raises(UserError, match="no manifests for environment 'dev'") as info:
        load_manifests(tmp_path, ENV)
    assert "gitops-helper render" in info.value.hint


def test_load_manifests_refuses_escapes(tmp_path):
    with pytest.raises(BadInput):
        load_manifests(tmp_path, "../../etc")
    outside = tmp_path / "outside.yaml"
    outside.write_text("a: 1\n")
    (tmp_path / "repo" / "manifests" / "dev").mkdir(parents=True)
    (tmp_path / "repo" / "manifests" / "dev" / "link.yaml").symlink_to(outside)
    with pytest.raises(BadInput, match="outside the repository"):
        load_manifests(tmp_path / "repo", ENV)
