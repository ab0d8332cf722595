"""What `validate` refuses beyond the OpenAPI schemas: the limits the API server and
etcd enforce (names, labels, annotations, data and object sizes), and the policy checks
gitops.yaml configures (run-as-root, apparmor-unconfined, foreign-secret).

Each class of bad input is generated (hypothesis), in every place it can hide, and the
boundary value on the accepted side is shown to pass: docs/VALIDATION.md lists the rules.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers import git
from jenkins_helpers.deployrepo.checks import Finding, check_objects
from jenkins_helpers.deployrepo.scaffold import init_repo
from jenkins_helpers.deployrepo.settings import DEFAULT_POLICIES, Policies
from tests.deployrepo.test_checks import (
    ENV,
    NS,
    application,
    config_map,
    deployment,
    service,
)
from tests.helpers.apprepo import app_cue
from tests.helpers.deployrepo import append

# slow: validate as a process over rendered repositories
pytestmark = pytest.mark.slow

PATH = f"manifests/{ENV}/example-app"
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DNS_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
POD = ("spec", "template", "spec")
CONTAINER = (*POD, "containers", 0)
FAST = settings(max_examples=40, deadline=None)


def check(
    *objects: tuple[str, dict], policies: Policies = DEFAULT_POLICIES, **kw: Any
) -> list[Finding]:
    return check_objects(objects, env=ENV, namespace=NS, policies=policies, **kw)


def at(obj: dict, path: tuple, value: object) -> dict:
    """A copy of `obj` (sharing nothing, not even within) with `value` at `path`, making
    the mappings on the way."""
    copied = json.loads(json.dumps(obj))
    target: Any = copied
    for key in path[:-1]:
        if isinstance(key, str) and key not in target:
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return copied


def errors(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in findings if f.severity == "error"]


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


# --- labels -----------------------------------------------------------------------------

AFFINITY = (*POD, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")


def in_expression(obj: dict, key: str, value: str) -> dict:
    term = {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]},
    }
    return at(obj, AFFINITY, [term])


# Every place a label lives: (file, object with the label `key: value` there).
LABEL_PLACES = {
    "metadata": lambda k, v: (
        f"{PATH}/deployment-example-app.yaml",
        at(deployment(), ("metadata", "labels", k), v),
    ),
    "pod template": lambda k, v: (
        f"{PATH}/deployment-example-app.yaml",
        at(deployment(), ("spec", "template", "metadata", "labels", k), v),
    ),
    "matchLabels": lambda k, v: (
        f"{PATH}/deployment-example-app.yaml",
        at(deployment(), ("spec", "selector", "matchLabels", k), v),
    ),
    "matchExpressions": lambda k, v: (
        f"{PATH}/deployment-example-app.yaml",
        in_expression(deployment(), k, v),
    ),
    "Service selector": lambda k, v: (
        f"{PATH}/service-example-app.yaml",
        at(service(), ("spec", "selector", k), v),
    ),
    "Application": lambda k, v: (
        f"{PATH}/application-{ENV}-example-app.yaml",
        at(application(), ("metadata", "labels", k), v),
    ),
    "ConfigMap": lambda k, v: (
        f"{PATH}/configmap-example-app-config.yaml",
        at(config_map(), ("metadata", "labels", k), v),
    ),
}

valid_values = st.one_of(
    st.just(""),
    st.text(ALNUM, min_size=1, max_size=1),
    st.builds(
        lambda a, mid, b: a + mid + b,
        st.text(ALNUM, min_size=1, max_size=1),
        st.text(LABEL_CHARS, max_size=61),
        st.text(ALNUM, min_size=1, max_size=1),
    ),
)
too_long_values = st.builds(
    lambda a, mid, b: a + mid + b,
    st.text(ALNUM, min_size=1, max_size=1),
    st.text(LABEL_CHARS, min_size=62, max_size=300),
    st.text(ALNUM, min_size=1, max_size=1),
)
# A value of at most 63 characters with something Kubernetes refuses in it.
bad_values = st.one_of(
    st.builds(lambda c, v: c + v, st.sampled_from("-_."), st.text(ALNUM, max_size=20)),
    st.builds(lambda v, c: v + c, st.text(ALNUM, max_size=20), st.sampled_from("-_.")),
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(ALNUM, min_size=1, max_size=20),
        st.sampled_from([" ", "/", ":", "@", "\n", "\u2028", "é", "*", "=", ","]),
        st.text(ALNUM, min_size=1, max_size=20),
    ),
)
places = st.sampled_from(sorted(LABEL_PLACES))


@FAST
@given(place=places, value=valid_values)
def test_label_values_kubernetes_accepts_pass(place: str, value: str) -> None:
    assert check(LABEL_PLACES[place]("team", value)) == []


@FAST
@given(place=places, value=too_long_values)
def test_a_label_value_over_63_characters_is_an_error_wherever_it_is(
    place: str, value: str
) -> None:
    (finding,) = check(LABEL_PLACES[place]("team", value))
    assert (finding.rule, finding.severity) == ("label", "error")
    assert f"'team' is {len(value)} characters, over the 63 Kubernetes allows" in finding.message


@FAST
@given(place=places, value=bad_values)
def test_a_label_value_of_other_characters_is_an_error_wherever_it_is(
    place: str, value: str
) -> None:
    (finding,) = check(LABEL_PLACES[place]("team", value))
    assert finding.rule == "label" and "is not a label value" in finding.message


@pytest.mark.parametrize(
    "key",
    [
        "bad key",
        "a/b/c",
        "-team",
        "team-",
        "x" * 64,
        "Example.com/team",
        "/team",
        "example.com/",
        "a" * 254 + "/team",
        "example.com/" + "x" * 64,
    ],
)
@pytest.mark.parametrize("place", ["metadata", "pod template", "Application"])
def test_a_label_key_kubernetes_refuses_is_an_error(place: str, key: str) -> None:
    (finding,) = check(LABEL_PLACES[place](key, "x"))
    assert finding.rule == "label" and "key" in finding.message


@pytest.mark.parametrize("key", ["team", "example.com/team", "a.b-c_d", "x" * 63, "Team_1"])
def test_qualified_label_keys_pass(key: str) -> None:
    assert check(LABEL_PLACES["metadata"](key, "x")) == []


# --- names ------------------------------------------------------------------------------


def named(factory: Any, kind: str | None, name: str) -> tuple[str, dict]:
    obj = factory()
    if kind is not None:
        obj["kind"] = kind
    obj["metadata"]["name"] = name
    return f"{PATH}/x.yaml", obj


def cron_job(name: str = "nightly") -> dict:
    pod = copy.deepcopy(deployment()["spec"]["template"])
    pod["spec"]["restartPolicy"] = "OnFailure"
    del pod["spec"]["containers"][0]["readinessProbe"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": pod}}},
    }


def job(name: str = "migrate") -> dict:
    obj = cron_job(name)
    return {**obj, "kind": "Job", "spec": obj["spec"]["jobTemplate"]["spec"]}


def role(name: str = "reader") -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": NS},
        "rules": [],
    }


subdomain_label = st.builds(
    lambda a, mid, b: a + mid + b,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=1),
    st.text(DNS_CHARS, max_size=20),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=1),
)


def longer_than(limit: int) -> st.SearchStrategy[str]:
    """Valid-looking DNS names of more than `limit` characters."""
    return st.lists(subdomain_label, min_size=1, max_size=40).map(
        lambda parts: ".".join(parts) + ".x" * (limit // 2 + 1)
    )


@FAST
@given(
    case=st.one_of(
        st.tuples(st.just("Deployment"), longer_than(253)),
        st.tuples(st.just("ConfigMap"), longer_than(253)),
        st.tuples(st.just("Service"), st.text(DNS_CHARS, min_size=64, max_size=100)),
        st.tuples(st.just("CronJob"), st.builds(lambda s: "n" + s, st.text("a0", min_size=52))),
        st.tuples(st.just("Job"), st.builds(lambda s: "n" + s, st.text("a0", min_size=63))),
    )
)
def test_a_name_over_its_kinds_limit_is_an_error(case: tuple[str, str]) -> None:
    kind, name = case
    factory = {"Deployment": deployment, "ConfigMap": config_map, "Service": service}
    obj = {"CronJob": cron_job, "Job": job}.get(kind, factory.get(kind))
    found = [f for f in check(named(obj, None, name)) if f.rule == "name"]
    assert len(found) == 1, found
    assert f"metadata.name is {len(name)} characters" in found[0].message
    assert found[0].severity == "error"


@pytest.mark.parametrize(
    "factory, name, rule",
    [
        (deployment, "Example-App", "DNS subdomain"),
        (deployment, "example_app", "DNS subdomain"),
        (deployment, "-example", "DNS subdomain"),
        (deployment, "example.", "DNS subdomain"),
        (config_map, "a..b", "DNS subdomain"),
        (service, "1st-service", "RFC 1035 label"),
        (service, "example.app", "RFC 1035 label"),
        (cron_job, "Nightly", "DNS subdomain"),
        (role, "a/b", "may not be"),
        (role, "..", "may not be"),
    ],
)
def test_a_name_of_other_characters_is_an_error(factory: Any, name: str, rule: str) -> None:
    found = [f for f in check(named(factory, None, name)) if f.rule == "name"]
    assert len(found) == 1 and rule in found[0].message, found


@pytest.mark.parametrize(
    "factory, name",
    [
        (deployment, "a" * 253),
        (deployment, "example.app-2"),
        (service, "s" * 63),
        (cron_job, "c" * 52),
        (job, "j" * 63),
        (role, "system:aggregate-to-edit"),
    ],
)
def test_names_at_their_limits_pass(factory: Any, name: str) -> None:
    assert [f for f in check(named(factory, None, name)) if f.rule == "name"] == []


def test_an_object_without_a_name_is_an_error() -> None:
    obj = deployment()
    del obj["metadata"]["name"]
    assert "name" in rules(check((f"{PATH}/d.yaml", obj)))


# --- annotations ------------------------------------------------------------------------

ANNOTATIONS_MAX = 256 * 1024


def annotations_of(total: int, parts: int) -> dict[str, str]:
    """`parts` annotations whose keys and values hold `total` bytes together."""
    keys = [f"example.com/note-{i}" for i in range(parts)]
    room = total - sum(len(k) for k in keys)
    sizes = [room // parts + (1 if i < room % parts else 0) for i in range(parts)]
    return {k: "é" * (n // 2) + "x" * (n % 2) for k, n in zip(keys, sizes, strict=True)}


@FAST
@given(
    extra=st.integers(1, 5000),
    parts=st.integers(1, 8),
    where=st.sampled_from([("metadata",), ("spec", "template", "metadata")]),
)
def test_annotations_over_256_kib_in_total_are_an_error(
    extra: int, parts: int, where: tuple[str, ...]
) -> None:
    annotations = annotations_of(ANNOTATIONS_MAX + extra, parts)
    obj = at(deployment(), (*where, "annotations"), annotations)
    (finding,) = check((f"{PATH}/deployment-example-app.yaml", obj))
    assert finding.rule == "annotation"
    assert f"hold {ANNOTATIONS_MAX + extra} bytes, over the {ANNOTATIONS_MAX}" in finding.message


def test_annotations_of_exactly_256_kib_pass() -> None:
    obj = at(deployment(), ("metadata", "annotations"), annotations_of(ANNOTATIONS_MAX, 3))
    assert check((f"{PATH}/deployment-example-app.yaml", obj)) == []


def test_an_annotation_key_kubernetes_refuses_is_an_error() -> None:
    obj = at(deployment(), ("spec", "template", "metadata", "annotations", "a b"), "x")
    (finding,) = check((f"{PATH}/deployment-example-app.yaml", obj))
    assert finding.rule == "annotation" and "key 'a b'" in finding.message


# --- ConfigMap and Secret data, whole objects -------------------------------------------

DATA_MAX = 1024 * 1024


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def secret(data: dict[str, str], field: str = "data") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "example-app-credentials", "namespace": NS},
        field: data,
    }


@FAST
@given(
    extra=st.integers(1, 3000),
    parts=st.integers(1, 6),
    form=st.sampled_from(["data", "binaryData", "secret data", "secret stringData"]),
)
def test_configmap_and_secret_data_over_1_mib_is_an_error(
    extra: int, parts: int, form: str
) -> None:
    sizes = spread(DATA_MAX + extra, parts)
    if form in ("binaryData", "secret data"):
        values = [base64.b64encode(b"\x00" * n).decode() for n in sizes]
    else:
        values = ["x" * n for n in sizes]
    data = {f"file-{i}.txt": v for i, v in enumerate(values)}
    if form.startswith("secret"):
        obj = secret(data, form.split()[1])
    else:
        obj = {**config_map(), "data": {}, form: data}
    findings = check((f"{PATH}/{obj['kind'].lower()}.yaml", obj))
    assert rules(findings) == {"data-size"}, findings
    assert f"holds {DATA_MAX + extra} bytes of data, over the {DATA_MAX}" in findings[0].message


@pytest.mark.parametrize("form", ["data", "binaryData"])
def test_configmap_data_of_exactly_1_mib_passes(form: str) -> None:
    values = spread(DATA_MAX, 3)
    if form == "binaryData":
        data = {f"f{i}": base64.b64encode(b"\x01" * n).decode() for i, n in enumerate(values)}
    else:
        data = {f"f{i}": "y" * n for i, n in enumerate(values)}
    obj = {**config_map(), "data": {}, form: data}
    assert check((f"{PATH}/configmap-example-app-config.yaml", obj)) == []


@pytest.mark.parametrize("key", ["app config", "a/b", "", "k" * 254, "naïve"])
def test_a_configmap_key_kubernetes_refuses_is_an_error(key: str) -> None:
    obj = at(config_map(), ("data", key), "x")
    (finding,) = check((f"{PATH}/configmap-example-app-config.yaml", obj))
    assert finding.rule == "data-key"


@FAST
@given(parts=st.integers(1, 40), extra=st.integers(1, 4000))
def test_an_object_over_etcds_1_5_mib_is_an_error(parts: int, extra: int) -> None:
    """Found however its bytes are spread (here: environment variables, which nothing
    else limits)."""
    size = 1536 * 1024 + extra
    env = [{"name": f"V{i}", "value": "v" * n} for i, n in enumerate(spread(size, parts))]
    obj = at(deployment(), (*CONTAINER, "env"), env)
    findings = check((f"{PATH}/deployment-example-app.yaml", obj))
    assert rules(findings) == {"object-size"}, findings
    assert "over the 1572864 bytes (1.5 MiB) etcd accepts" in findings[0].message


# --- policies ---------------------------------------------------------------------------


def with_postgres(obj: dict) -> list[tuple[str, dict]]:
    """`obj` as example-app's Deployment, next to postgres' in the same environment."""
    return [
        (f"{PATH}/deployment-example-app.yaml", obj),
        (f"manifests/{ENV}/postgres/deployment-postgres.yaml", deployment("postgres")),
    ]


RUN_AS_ROOT = {
    "container": lambda d: at(d, (*CONTAINER, "securityContext", "runAsUser"), 0),
    "pod": lambda d: at(d, (*POD, "securityContext", "runAsUser"), 0),
    "init container": lambda d: at(
        d,
        (*POD, "initContainers"),
        [
            {
                **copy.deepcopy(d["spec"]["template"]["spec"]["containers"][0]),
                "name": "migrate",
                "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False},
            }
        ],
    ),
}


@pytest.mark.parametrize("where", sorted(RUN_AS_ROOT))
def test_run_as_user_0_is_an_error(where: str) -> None:
    findings = check((f"{PATH}/deployment-example-app.yaml", RUN_AS_ROOT[where](deployment())))
    found = [f for f in findings if f.rule == "run-as-root"]
    assert found and all(f.severity == "error" for f in found), findings
    assert "runs as root" in found[0].message and "policies: run-as-root" in found[0].message


def test_a_container_user_overrides_the_pods_root() -> None:
    obj = RUN_AS_ROOT["pod"](deployment())
    obj = at(obj, (*CONTAINER, "securityContext", "runAsUser"), 1000)
    assert check((f"{PATH}/deployment-example-app.yaml", obj)) == []


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@FAST
@given(
    container=st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=30).filter(
        lambda n: n[0] != "-" and n[-1] != "-"
    ),
    value=st.sampled_from(["unconfined", "Unconfined", " unconfined"]),
)
def test_an_unconfined_apparmor_annotation_is_an_error(container: str, value: str) -> None:
    key = APPARMOR_ANNOTATION + container
    obj = at(deployment(), ("spec", "template", "metadata", "annotations", key), value)
    (finding,) = check((f"{PATH}/deployment-example-app.yaml", obj))
    assert (finding.rule, finding.severity) == ("apparmor-unconfined", "error")
    assert repr(container) in finding.message


@pytest.mark.parametrize(
    "path",
    [
        (*POD, "securityContext", "appArmorProfile"),
        (*CONTAINER, "securityContext", "appArmorProfile"),
    ],
)
def test_an_unconfined_apparmor_profile_is_an_error(path: tuple) -> None:
    obj = at(deployment(), path, {"type": "Unconfined"})
    (finding,) = check((f"{PATH}/deployment-example-app.yaml", obj))
    assert (finding.rule, finding.severity) == ("apparmor-unconfined", "error")


def test_confined_apparmor_profiles_pass() -> None:
    obj = at(
        deployment(),
        ("spec", "template", "metadata", "annotations", APPARMOR_ANNOTATION + "example-app"),
        "runtime/default",
    )
    obj = at(obj, (*POD, "securityContext", "appArmorProfile"), {"type": "RuntimeDefault"})
    assert check((f"{PATH}/deployment-example-app.yaml", obj)) == []


def reading(secret_name: str, how: str) -> dict:
    """example-app's Deployment reading `secret_name` one way."""
    d = deployment()
    if how == "secretKeyRef":
        ref = {"secretKeyRef": {"name": secret_name, "key": "password"}}
        return at(d, (*CONTAINER, "env"), [{"name": "DB_PASSWORD", "valueFrom": ref}])
    if how == "envFrom":
        return at(d, (*CONTAINER, "envFrom"), [{"secretRef": {"name": secret_name}}])
    if how == "volume":
        volume = {"name": "creds", "secret": {"secretName": secret_name}}
        return at(d, (*POD, "volumes"), [*d["spec"]["template"]["spec"]["volumes"], volume])
    projected = {"sources": [{"secret": {"name": secret_name}}]}
    volume = {"name": "creds", "projected": projected}
    return at(d, (*POD, "volumes"), [*d["spec"]["template"]["spec"]["volumes"], volume])


HOW = ["secretKeyRef", "envFrom", "volume", "projected"]


@FAST
@given(
    how=st.sampled_from(HOW),
    suffix=st.one_of(st.just(""), st.text(DNS_CHARS, min_size=1, max_size=20).map("-{}".format)),
)
def test_reading_another_apps_secret_is_an_error(how: str, suffix: str) -> None:
    name = "postgres" + suffix
    findings = check(*with_postgres(reading(name, how)))
    (finding,) = [f for f in findings if f.path.endswith("deployment-example-app.yaml")]
    assert (finding.rule, finding.severity) == ("foreign-secret", "error")
    assert f"Secret {name!r}" in finding.message and "app postgres's" in finding.message


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    "name", ["example-app", "example-app-credentials", "shared-registry", "postgresql-x"]
)
def test_reading_its_own_or_nobodys_secret_passes(how: str, name: str) -> None:
    assert check(*with_postgres(reading(name, how))) == []


def test_a_secret_belongs_to_the_app_with_the_longest_matching_name() -> None:
    """`example-app-api-token` is example-app-api's, not example-app's."""
    obj = reading("example-app-api-token", "secretKeyRef")
    other = ("manifests/dev/example-app-api/service.yaml", service("example-app-api"))
    assert [f.rule for f in check((f"{PATH}/d.yaml", obj), other)] == ["foreign-secret"]
    assert check((f"{PATH}/d.yaml", obj), other_apps=["example"]) == []


def test_apps_outside_the_checked_objects_own_their_secrets() -> None:
    """check_app_manifests checks some apps only; it names the others (other_apps)."""
    obj = reading("postgres-credentials", "secretKeyRef")
    assert check((f"{PATH}/d.yaml", obj)) == []
    assert [f.rule for f in check((f"{PATH}/d.yaml", obj), other_apps=["postgres"])] == [
        "foreign-secret"
    ]


VIOLATIONS = {
    "run-as-root": RUN_AS_ROOT["container"](deployment()),
    "apparmor-unconfined": at(
        deployment(), (*POD, "securityContext", "appArmorProfile"), {"type": "Unconfined"}
    ),
    "foreign-secret": reading("postgres-credentials", "envFrom"),
}


@pytest.mark.parametrize("rule", sorted(VIOLATIONS))
def test_gitops_yaml_lets_one_app_off_a_policy_or_turns_it_off(rule: str) -> None:
    objects = with_postgres(VIOLATIONS[rule])
    assert rules(check(*objects)) == {rule}
    assert check(*objects, policies=Policies(allowed=frozenset({(rule, "example-app")}))) == []
    others = Policies(allowed=frozenset({(rule, "postgres")}))
    assert rules(check(*objects, policies=others)) == {rule}, "only the app named is let off"
    assert check(*objects, policies=Policies(disabled=frozenset({rule}))) == []


def test_an_app_let_off_run_as_root_is_still_warned_it_may_run_as_root() -> None:
    obj = RUN_AS_ROOT["pod"](deployment())
    obj = at(obj, (*POD, "securityContext", "runAsNonRoot"), False)
    allowed = Policies(allowed=frozenset({("run-as-root", "example-app")}))
    findings = check((f"{PATH}/deployment-example-app.yaml", obj), policies=allowed)
    assert [(f.rule, f.severity) for f in findings] == [("run-as-non-root", "warning")]


# --- end to end: real CUE, `gitops-helper validate` as a user runs it -------------------
# On the run's engine only: the rules are the tool's, what either engine renders is
# the same (tests/deployrepo/test_usecases_render.py compares them).


def gitops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )


def render_and_validate(repo: Path) -> subprocess.CompletedProcess[str]:
    rendered = gitops("render", cwd=repo)
    assert rendered.returncode == 0, rendered.stderr
    return gitops("validate", "--env", ENV, cwd=repo)


APP_LAYER_VIOLATIONS = {
    "run-as-root": "podSecurityContext: runAsUser: 0",
    "apparmor-unconfined": (
        'podAnnotations: "container.apparmor.security.beta.kubernetes.io/example-app": "unconfined"'
    ),
    "foreign-secret": (
        'additionalEnv: [{name: "DB_PASSWORD", valueFrom: secretKeyRef: '
        '{name: "postgres-credentials", key: "password"}}]'
    ),
}


@pytest.mark.parametrize("rule", sorted(APP_LAYER_VIOLATIONS))
def test_validate_fails_on_a_policy_until_gitops_yaml_allows_the_app(dev: Path, rule: str) -> None:
    append(
        dev / "services/apps/example-app.cue",
        (f'\napps: "example-app": app: {{\n\t{APP_LAYER_VIOLATIONS[rule]}\n}}\n'),
    )
    done = render_and_validate(dev)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"error: manifests/dev/example-app/deployment-example-app.yaml: [{rule}]" in done.stdout
    assert f"policies: {rule}: allow:" in done.stdout, "the finding says how to relax it"

    settings_file = dev / "gitops.yaml"
    settings_file.write_text(
        settings_file.read_text().replace(
            f"  {rule}: {{enabled: true, allow: []}}",
            f"  {rule}: {{enabled: true, allow: [example-app]}}  # reviewed by the platform team",
        )
    )
    done = gitops("validate", "--env", ENV, cwd=dev)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[{rule}]" not in done.stdout


def test_validate_fails_when_an_app_name_overflows_the_label_its_environment_makes(
    tmp_path: Path,
) -> None:
    """An environment name of 20 characters leaves 42 for an app's in `<env>-<app>`
    (the app.kubernetes.io/instance label): a longer app name fails validate."""
    env = "performance-testing1"
    repo = tmp_path / "k8s-deployments"
    init_repo(repo, [env])
    git.switch(repo, env)
    app = "a" + "b" * 42  # 43 characters: `<env>-<app>` is 64
    (repo / f"services/apps/{app}.cue").write_text(
        app_cue(app, "registry.example.com/team/app", "podSecurityContext: runAsNonRoot: true")
    )
    append(repo / "env.cue", f'\napps: "{app}": env: deployment: image: tag: "1.0.0"\n')
    assert gitops("render", cwd=repo).returncode == 0
    done = gitops("validate", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    labels = [line for line in done.stdout.splitlines() if "[label]" in line]
    assert labels and all(
        "'app.kubernetes.io/instance' is 64 characters" in line for line in labels
    )
    assert {line.split(": ")[1] for line in labels} >= {
        f"manifests/{env}/{app}/deployment-{app}.yaml",
        f"manifests/{env}/{app}/application-{env}-{app}.yaml",
    }
