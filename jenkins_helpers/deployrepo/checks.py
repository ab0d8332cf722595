"""Checks on rendered manifests: Kubernetes schemas, the ArgoCD Application schema, policy.

Every rule is listed with its severity and the reason for it in docs/VALIDATION.md.
Kubernetes objects are checked against the OpenAPI schemas that the
`kubernetes-validate` package ships (offline, strict: unknown fields are errors).
That package re-reads and re-parses its 1.8 MB definitions file on every call, so
we build one validator per (version, apiVersion, kind) from the same files and
keep it (see `_k8s_validator`); tests check both give the same verdict.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
import referencing
import yaml

from jenkins_helpers import git, inputs
from jenkins_helpers.cue import CueError, get_engine
from jenkins_helpers.deployrepo import layout, suggest
from jenkins_helpers.deployrepo.settings import DEFAULT_POLICIES, Environment, Policies
from jenkins_helpers.errors import BadInput, UserError

# The oldest Kubernetes every allowed kubernetes-validate (>=1.30, pyproject) ships
# schemas for. Conservative: what validates here is accepted by newer API servers too
# for the stable kinds we render.
DEFAULT_KUBERNETES_VERSION = "1.30"
ARGOCD_NAMESPACE = "argocd"
ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")  # what an ArgoCD directory source reads

# Kinds without a namespace; every other kind must carry the environment's namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Run-to-completion pods are never behind a Service, so a readiness probe means nothing.
_BATCH_KINDS = frozenset({"Job", "CronJob"})
_RESOURCE_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
_PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
# What a probe runs; the API server rejects a probe with none of them.
_PROBE_HANDLERS = ("httpGet", "exec", "tcpSocket", "grpc")

# What the API server refuses whatever the schema says (docs/VALIDATION.md, "Kubernetes
# limits"): k8s.io/apimachinery's validation of names, labels and annotations, the
# ConfigMap and Secret size limit, and etcd's default request limit.
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
ANNOTATIONS_MAX = 256 * 1024  # bytes of every key and value of one object's annotations
DATA_MAX = 1024 * 1024  # bytes of a ConfigMap's or Secret's values
OBJECT_MAX = 1536 * 1024  # etcd's --max-request-bytes default, 1.5 MiB
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_KEY_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_RFC1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_RFC1123_LABEL}(?:\.{_RFC1123_LABEL})*")
_DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_SUBDOMAIN_RULE = (
    "a DNS subdomain: lowercase letters, digits, '-' and '.', alphanumeric at both ends"
)
# Kinds whose names follow another rule than "a DNS subdomain of at most 253 characters":
# kind -> (pattern, longest, the rule in words).
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "Service": (
        re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?"),
        LABEL_MAX,
        "an RFC 1035 label: lowercase letters, digits and '-', starting with a letter",
    ),
    "Namespace": (
        re.compile(_RFC1123_LABEL),
        LABEL_MAX,
        "an RFC 1123 label: lowercase letters, digits and '-', alphanumeric at both ends",
    ),
    # The CronJob controller appends 11 characters to name its Jobs.
    "CronJob": (_DNS_SUBDOMAIN, 52, _SUBDOMAIN_RULE),
    # A Job's pods carry its name in their `job-name` label.
    "Job": (_DNS_SUBDOMAIN, LABEL_MAX, _SUBDOMAIN_RULE),
}
# RBAC names are path segments ("system:aggregate-to-edit" is one).
_PATH_SEGMENT_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_DATA_KINDS = frozenset({"ConfigMap", "Secret"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

Severity = Literal["error", "warning"]
Manifest = dict[str, Any]  # one parsed Kubernetes object


@dataclass(frozen=True)
class Finding:
    """One problem in one manifest file."""

    severity: Severity
    path: str  # manifest path relative to the repo
    rule: str  # short id, documented in docs/VALIDATION.md
    message: str


@dataclass(frozen=True)
class _Scope:
    """What the policy checks of one object need: the repository's policies, the apps of
    the environment (a Secret named `<app>` or `<app>-...` is that app's) and the app
    whose object it is (None: not one app's)."""

    policies: Policies
    apps: frozenset[str]
    app: str | None


def check_objects(
    objects: Iterable[tuple[str, Any]],  # parsed YAML: not always a mapping
    *,
    env: str,
    namespace: str,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    policies: Policies = DEFAULT_POLICIES,
    other_apps: Collection[str] = (),
) -> list[Finding]:
    """Check (path, object) pairs of one environment; returns findings sorted by path.

    `other_apps`: the environment's apps beyond those whose objects these are.
    """
    objects = list(objects)
    apps = frozenset(other_apps) | {a for path, _ in objects if (a := _app_dir(path, env))}
    findings: list[Finding] = []
    for path, obj in objects:
        if not isinstance(obj, dict):
            findings.append(Finding("error", path, "schema", "not a YAML mapping"))
            continue
        findings += _check_limits(path, obj)
        if _is_application(obj):
            findings += _check_application(path, obj, env, namespace)
        else:
            scope = _Scope(policies, apps, _app_dir(path, env) or _name_label(obj))
            findings += _check_k8s_object(path, obj, namespace, kubernetes_version, scope)
    findings += _check_duplicates(objects)
    return sorted(findings, key=lambda f: (f.path, f.severity, f.rule, f.message))


def _app_dir(path: str, env: str) -> str | None:
    """The app whose folder holds `path` (manifests/<env>/<app>/...), or None."""
    base = layout.env_manifests(env) + "/"
    parts = path.removeprefix(base).split("/") if path.startswith(base) else []
    return parts[0] if len(parts) > 1 else None


def _name_label(obj: Manifest) -> str | None:
    name = _get(obj, "metadata", "labels", "app.kubernetes.io/name")
    return name if isinstance(name, str) else None


def vet(tree: Path) -> None:
    """`cue vet -c` of every app's package: CueError names what does not evaluate."""
    try:
        get_engine().vet([layout.CUE_PACKAGE], cwd=tree, concrete=True)
    except CueError as e:
        raise suggest.explained(e, tree) from e


def check_environment(tree: Path, env: Environment) -> list[Finding]:
    """Everything `validate` checks for `env` in `tree`: CUE, then every manifest."""
    findings = []
    try:
        vet(tree)
    except CueError as e:
        findings.append(Finding("error", layout.ENV_FILE, "cue-vet", e.message))
    return findings + check_manifests(tree, env)


def check_manifests(tree: Path, env: Environment) -> list[Finding]:
    """The schema and policy findings of `env`'s rendered manifests in `tree`."""
    return check_objects(
        load_manifests(tree, env.name),
        env=env.name,
        namespace=env.namespace,
        policies=env.policies,
    )


def check_app_manifests(tree: Path, env: Environment, apps: Collection[str]) -> list[Finding]:
    """check_manifests for `apps`' manifests only, without reading the other apps' files.

    An object of these apps that another app's directory also defines (found by the
    file name the renderer gives it, then read) is a duplicate, reported here.
    """
    root = tree.resolve()
    objects = [
        item
        for app in sorted(apps)
        if (root / layout.app_manifests(env.name, app)).is_dir()
        for item in _load_under(root, layout.app_manifests(env.name, app))
    ]
    others = _OtherApps(root, env.name, apps)
    findings = check_objects(
        objects,
        env=env.name,
        namespace=env.namespace,
        policies=env.policies,
        other_apps=others.apps,
    )
    for path, obj in objects:
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
            continue
        key = (obj["kind"], _get(obj, "metadata", "namespace"), _get(obj, "metadata", "name"))
        for relative, theirs in others.named(f"{obj['kind'].lower()}-{key[2]}.yaml"):
            if (
                theirs.get("kind"),
                _get(theirs, "metadata", "namespace"),
                _get(theirs, "metadata", "name"),
            ) == key:
                message = f"{_label(obj)} in namespace {key[1]!r} is also defined in {relative}"
                findings.append(Finding("error", path, "duplicate", message))
    return sorted(findings, key=lambda f: (f.path, f.severity, f.rule, f.message))


class _OtherApps:
    """The manifest files of the apps of `env` outside `apps`, found by file name.

    In a sparse work tree (a promotion's clone, git.clone) those files are not
    checked out: they are listed and read in the index, which has them as at HEAD.
    """

    def __init__(self, root: Path, env: str, apps: Collection[str]) -> None:
        self.root = root
        base = layout.env_manifests(env)
        self.sparse = git.is_sparse(root)
        if self.sparse:
            files = git.tracked_files(root, f"{base}/")
        else:
            found = sorted(os.listdir(root / base)) if (root / base).is_dir() else []
            files = [
                f"{base}/{d}/{name}"
                for d in found
                if d not in apps and (root / base / d).is_dir()
                for name in sorted(os.listdir(root / base / d))
            ]
        self.by_name: dict[str, list[str]] = {}
        self.apps: set[str] = set()  # the environment's other apps: their folders
        for relative in files:
            parts = relative.split("/")
            if len(parts) == base.count("/") + 3 and parts[-2] not in apps:
                self.by_name.setdefault(parts[-1], []).append(relative)
                self.apps.add(parts[-2])

    def named(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """The files called `name`, read, as (relative path, object); a file that is not
        one YAML mapping is left out: it is not a duplicate of anything."""
        same = []
        for relative in self.by_name.get(name, []):
            try:
                if self.sparse:
                    text = git.tracked_text(self.root, relative) or ""
                else:
                    text = _text_in(self.root, relative)
                theirs = _parse_one(text, relative)
            except (UserError, UnicodeDecodeError, OSError):
                continue
            same.append((relative, theirs))
        return same


def _text_in(root: Path, relative: str) -> str:
    inputs.repo_path(root, relative)  # a symlink out of the repo is refused
    return (root / relative).read_text("utf-8")


def load_manifests(repo: Path, env: str) -> list[tuple[str, Manifest]]:
    """Read every manifest of `env` as (repo-relative path, object), sorted by path."""
    root = repo.resolve()
    base = inputs.repo_path(root, layout.env_manifests(env))
    if not base.is_dir():
        raise UserError(
            f"no manifests for environment {env!r}: {base} is not a directory",
            f"render them first: gitops-helper render --env {env}",
        )
    return _load_under(root, layout.env_manifests(env))


def _load_under(root: Path, directory: str) -> list[tuple[str, Manifest]]:
    """Every manifest below `directory` of `root` (resolved) as (relative path, object)."""
    base = inputs.repo_path(root, directory)
    loaded = []
    for file in sorted(base.rglob("*")):
        if file.suffix in MANIFEST_SUFFIXES and file.is_file():
            relative = file.relative_to(root).as_posix()
            inputs.repo_path(root, relative)  # a symlink out of the repo is refused
            loaded.append((relative, _load_one(file, relative)))
    return sorted(loaded, key=lambda item: item[0])


_ONE_OBJECT = "the renderer writes exactly one object per file; re-render, or fix the file by hand"


def _load_one(file: Path, relative: str) -> Manifest:
    try:
        text = file.read_text("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{relative}: not valid YAML: {e}", _ONE_OBJECT) from e
    return _parse_one(text, relative)


def _parse_one(text: str, relative: str) -> Manifest:
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as e:
        raise UserError(f"{relative}: not valid YAML: {e}", _ONE_OBJECT) from e
    if len(documents) != 1 or not isinstance(documents[0], dict):
        found = (
            f"{len(documents)} documents" if len(documents) != 1 else type(documents[0]).__name__
        )
        raise UserError(f"{relative}: expected a single YAML mapping, found {found}", _ONE_OBJECT)
    return documents[0]


# --- helpers -----------------------------------------------------------------------------


def _get(obj: Any, *keys: str | int) -> Any:
    """Walk nested mappings and lists; None where anything is missing or of another type."""
    for key in keys:
        if isinstance(key, int) and isinstance(obj, list) and key < len(obj):
            obj = obj[key]
        elif isinstance(key, str) and isinstance(obj, dict):
            obj = obj.get(key)
        else:
            return None
    return obj


def _label(obj: Manifest) -> str:
    name = _get(obj, "metadata", "name") or "<unnamed>"
    return f"{obj.get('kind') or '<no kind>'} {name}"


def _field(path: Iterable[str | int]) -> str:
    """Format a JSON path as `spec.template.spec.containers[0].image`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _is_application(obj: Manifest) -> bool:
    return obj.get("kind") == "Application" and str(obj.get("apiVersion", "")).startswith(
        "argoproj.io/"
    )


# --- schemas -----------------------------------------------------------------------------

_K8S_SCHEMAS = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"


@functools.cache
def _schema_dir(kubernetes_version: str) -> Any:
    """The strict schema folder for `1.xx`; BadInput names the versions that are shipped."""
    minor = re.match(r"v?(\d+\.\d+)", kubernetes_version)
    folder = _K8S_SCHEMAS / f"v{minor.group(1)}.0-local-strict" if minor else None
    if folder is None or not folder.is_dir():
        shipped = sorted(
            (
                p.name[1:].removesuffix(".0-local-strict")
                for p in _K8S_SCHEMAS.iterdir()
                if p.name.endswith("-local-strict")
            ),
            key=lambda v: [int(n) for n in v.split(".")],
        )
        raise BadInput(
            f"no Kubernetes schemas for version {kubernetes_version!r}",
            f"kubernetes-validate ships {shipped[0]} to {shipped[-1]}; pick one",
        )
    return folder


@functools.cache
def _k8s_registry(kubernetes_version: str) -> referencing.Registry:
    definitions = json.loads((_schema_dir(kubernetes_version) / "_definitions.json").read_text())
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


@functools.cache
def _k8s_validator(
    kubernetes_version: str, api_version: str, kind: str
) -> jsonschema.protocols.Validator | None:
    """A cached validator for one kind, built from kubernetes-validate's files; None if unknown."""
    if not re.fullmatch(r"[A-Za-z0-9]+", kind) or not re.fullmatch(
        r"([a-z0-9.-]+/)?v\w+", api_version
    ):
        return None  # never let a manifest's kind pick a file name
    # Same file naming as kubernetes_validate.validate: "rbac.authorization.k8s.io/v1" -> "rbac-v1".
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    file = _schema_dir(kubernetes_version) / f"{kind.lower()}-{group_version}.json"
    if not file.is_file():
        return None
    schema = json.loads(file.read_text())
    registry = referencing.Resource.from_contents(schema) @ _k8s_registry(kubernetes_version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _application_validator() -> jsonschema.protocols.Validator:
    schemas = importlib.resources.files("jenkins_helpers.deployrepo") / "schemas"
    text = schemas / "argocd-application.json"
    return jsonschema.Draft202012Validator(json.loads(text.read_text()))


def _schema_messages(validator: jsonschema.protocols.Validator, obj: Manifest) -> Iterator[str]:
    """One message per schema violation, naming the field; unknown fields by their own path."""
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            known = set(schema.get("properties", {}))
            for extra in sorted(set(error.instance) - known):
                yield f"unknown field {_field([*where, extra])}"
        else:
            yield f"{_field(where)}: {_shorten(_explain(error))}"


def _explain(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, made readable where it only says 'not valid under any'."""
    if error.validator not in ("oneOf", "anyOf"):
        return error.message
    subs = error.validator_value if isinstance(error.validator_value, list) else []
    types = [t for sub in subs for t in _as_list(sub.get("type")) if t != "null"]
    if types:  # Kubernetes' int-or-string and quantity fields
        return f"{error.instance!r} is not one of the types {', '.join(dict.fromkeys(types))}"
    schema = error.schema if isinstance(error.schema, dict) else {}
    return str(schema.get("description") or error.message)


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _shorten(message: str, limit: int = 300) -> str:
    """Keep a message that quotes a whole object readable."""
    return message if len(message) <= limit else message[:limit] + "..."


def _check_schema(path: str, obj: Manifest, kubernetes_version: str) -> list[Finding]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [
            Finding("error", path, "schema", f"{_label(obj)}: apiVersion and kind are required")
        ]
    validator = _k8s_validator(kubernetes_version, api_version, kind)
    if validator is None:
        return [
            Finding(
                "error",
                path,
                "schema",
                f"{_label(obj)}: no schema for {kind} {api_version} in Kubernetes "
                f"{kubernetes_version} (misspelt kind, or a removed API version?)",
            )
        ]
    return [
        Finding("error", path, "schema", f"{_label(obj)}: {message}")
        for message in _schema_messages(validator, obj)
    ]


# --- what the API server refuses --------------------------------------------------------


def _check_limits(path: str, obj: Manifest) -> list[Finding]:
    """Names, labels, annotations and sizes the API server (or etcd) would refuse.

    The OpenAPI schemas say a label is a string: these are the rules beyond it
    (docs/VALIDATION.md, "Kubernetes limits").
    """
    label = _label(obj)
    found = list(_name_problems(obj))
    for where, meta in _object_metas(obj):
        found += [("label", p) for p in _map_problems(meta.get("labels"), [*where, "labels"])]
        found += _annotation_problems(meta.get("annotations"), [*where, "annotations"])
    for where, selector in _selectors(obj):
        found += [("label", p) for p in _map_problems(selector, where)]
    if obj.get("kind") in _DATA_KINDS:
        found += _data_problems(obj)
    size = len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > OBJECT_MAX:
        found.append(
            (
                "object-size",
                f"is {size} bytes as JSON, over the {OBJECT_MAX} bytes (1.5 MiB) etcd "
                "accepts in one request by default",
            )
        )
    return [Finding("error", path, rule, f"{label}: {problem}") for rule, problem in found]


def _name_problems(obj: Manifest) -> Iterator[tuple[str, str]]:
    name, kind = _get(obj, "metadata", "name"), obj.get("kind")
    if not isinstance(name, str) or not name:
        yield "name", "metadata.name is required"
        return
    if kind in _PATH_SEGMENT_KINDS:
        if name in (".", "..") or "/" in name or "%" in name:
            yield "name", f"metadata.name {name!r} may not be '.' or '..' nor hold '/' or '%'"
        return
    pattern, longest, rule = _NAME_RULES.get(str(kind), (_DNS_SUBDOMAIN, SUBDOMAIN_MAX, ""))
    if len(name) > longest:
        yield (
            "name",
            f"metadata.name is {len(name)} characters, over the {longest} Kubernetes "
            f"allows for a {kind}",
        )
    elif not pattern.fullmatch(name):
        yield "name", f"metadata.name {name!r} is not {rule or _SUBDOMAIN_RULE}"


def _object_metas(obj: Manifest) -> Iterator[tuple[list[str | int], Manifest]]:
    """(field path, ObjectMeta) of the object and of every template in it (pod templates,
    a CronJob's job template, a StatefulSet's volume claim templates)."""
    stack: list[tuple[list[str | int], object]] = [([], obj)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict):
                yield [*where, "metadata"], node["metadata"]
            for key, value in node.items():
                if key != "metadata" and (where or key not in ("data", "binaryData", "stringData")):
                    stack.append(([*where, key], value))
        elif isinstance(node, list):
            stack.extend(([*where, i], value) for i, value in enumerate(node))


def _selectors(obj: Manifest) -> Iterator[tuple[list[str | int], object]]:
    """(field path, labels) a selector matches: a Service's spec.selector, every
    matchLabels, and the values of matchExpressions (as a mapping of their key)."""
    if obj.get("kind") == "Service":
        yield ["spec", "selector"], _get(obj, "spec", "selector")
    stack: list[tuple[list[str | int], object]] = [([], obj.get("spec"))]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                at: list[str | int] = [*where, key] if where else ["spec", key]
                if key == "matchLabels":
                    yield at, value
                elif key == "matchExpressions":
                    for i, expression in enumerate(_as_list(value)):
                        key_of = str(_get(expression, "key"))
                        for j, item in enumerate(_as_list(_get(expression, "values"))):
                            yield [*at, i, "values", j], {key_of: item}
                else:
                    stack.append((at, value))
        elif isinstance(node, list):
            stack.extend(([*where, i], value) for i, value in enumerate(node))


def _map_problems(labels: object, where: list[str | int]) -> Iterator[str]:
    """Label keys and values Kubernetes refuses (a value must be a string: the schema's)."""
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        if problem := _key_problem(str(key)):
            yield f"{_field(where)}: key {inputs.show(key)} {problem}"
        if not isinstance(value, str):
            continue
        if len(value) > LABEL_MAX:
            yield (
                f"{_field(where)}: the value of {key!r} is {len(value)} characters, over "
                f"the {LABEL_MAX} Kubernetes allows ({inputs.show(value)})"
            )
        elif not _LABEL_VALUE.fullmatch(value):
            yield (
                f"{_field(where)}: the value of {key!r}, {inputs.show(value)}, is not a label "
                "value: letters, digits, '-', '_' and '.', a letter or digit at both ends"
            )


def _key_problem(key: str) -> str | None:
    """Why `key` is no qualified name ([DNS subdomain prefix/]name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= SUBDOMAIN_MAX and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"has a prefix that is not {_SUBDOMAIN_RULE}, of at most {SUBDOMAIN_MAX}"
    if len(name) > LABEL_MAX or not _KEY_NAME.fullmatch(name):
        return (
            f"is not 1 to {LABEL_MAX} letters, digits, '-', '_' and '.' (after an "
            "optional 'prefix/'), a letter or digit at both ends"
        )
    return None


def _annotation_problems(annotations: object, where: list[str | int]) -> Iterator[tuple[str, str]]:
    if not isinstance(annotations, dict):
        return
    for key in annotations:
        if problem := _key_problem(str(key)):
            yield "annotation", f"{_field(where)}: key {inputs.show(key)} {problem}"
    total = sum(_bytes(k) + _bytes(v) for k, v in annotations.items())
    if total > ANNOTATIONS_MAX:
        yield (
            "annotation",
            f"{_field(where)} hold {total} bytes, over the {ANNOTATIONS_MAX} (256 KiB) "
            "Kubernetes allows for all of an object's annotations",
        )


def _data_problems(obj: Manifest) -> Iterator[tuple[str, str]]:
    """A ConfigMap's or Secret's keys, and the 1 MiB its values may hold together."""
    total = 0
    fields = ("data", "binaryData") if obj.get("kind") == "ConfigMap" else ("data", "stringData")
    for name in fields:
        entries = obj.get(name)
        for key, value in entries.items() if isinstance(entries, dict) else []:
            if len(str(key)) > SUBDOMAIN_MAX or not _DATA_KEY.fullmatch(str(key)):
                yield (
                    "data-key",
                    f"{name} key {inputs.show(key)} is not 1 to {SUBDOMAIN_MAX} letters, digits, "
                    "'-', '_' and '.'",
                )
            encoded = name == "binaryData" or (obj.get("kind") == "Secret" and name == "data")
            total += _decoded_size(value) if encoded else _bytes(value)
    if total > DATA_MAX:
        yield (
            "data-size",
            f"holds {total} bytes of data, over the {DATA_MAX} (1 MiB) Kubernetes allows "
            f"in a {obj.get('kind')}",
        )


def _bytes(value: object) -> int:
    return len(str(value).encode("utf-8"))


def _decoded_size(value: object) -> int:
    """The bytes a base64 value stands for (binaryData, a Secret's data)."""
    text = "".join(str(value).split())
    return len(text) * 3 // 4 - text[-2:].count("=") if text else 0


# --- Kubernetes objects ------------------------------------------------------------------


def _check_k8s_object(
    path: str, obj: Manifest, namespace: str, version: str, scope: _Scope
) -> list[Finding]:
    findings = _check_schema(path, obj, version)
    actual = _get(obj, "metadata", "namespace")
    if obj.get("kind") not in CLUSTER_SCOPED_KINDS and actual != namespace:
        findings.append(
            Finding(
                "error",
                path,
                "namespace",
                f"{_label(obj)}: metadata.namespace is {actual!r}, "
                f"the environment's namespace is {namespace!r}",
            )
        )
    return findings + _check_pod_spec(path, obj, scope)


def _containers(pod: Manifest, prefix: str) -> Iterator[tuple[str, Manifest, bool]]:
    """Yield (field path, container, is_init) for every container of a pod spec."""
    for key in ("initContainers", "containers"):
        for index, container in enumerate(_get(pod, key) or []):
            if isinstance(container, dict):
                yield f"{prefix}.{key}[{index}]", container, key == "initContainers"


def _check_pod_spec(path: str, obj: Manifest, scope: _Scope) -> list[Finding]:
    keys = POD_SPEC_PATHS.get(obj.get("kind", ""))
    pod = _get(obj, *keys) if keys else None
    if keys is None or not isinstance(pod, dict):
        return []
    findings = []
    pod_security = pod.get("securityContext") or {}
    for field, container, is_init in _containers(pod, ".".join(keys)):
        where = f"{_label(obj)}: container {container.get('name')!r} ({field})"
        serves = not is_init and obj.get("kind") not in _BATCH_KINDS
        problems = [
            *_container_problems(container, pod_security, serves),
            *[
                (severity, rule, problem + _relax(rule, scope.app))
                for severity, rule, problem in [
                    *_container_policies(container, pod_security),
                    *_secret_problems(container, scope),
                ]
                if scope.policies.applies(rule, scope.app)
            ],
        ]
        if any(rule == "run-as-root" for _, rule, _ in problems):
            problems = [p for p in problems if p[1] != "run-as-non-root"]  # said already
        findings += [Finding(sev, path, rule, f"{where} {text}") for sev, rule, text in problems]
    pod_metadata = _get(obj, *keys[:-1], "metadata") if len(keys) > 1 else obj.get("metadata")
    findings += [
        Finding("error", path, rule, f"{_label(obj)}: {problem}{_relax(rule, scope.app)}")
        for rule, problem in _pod_policies(pod, pod_metadata, ".".join(keys), scope)
        if scope.policies.applies(rule, scope.app)
    ]
    return findings


def _relax(rule: str, app: str | None) -> str:
    """How the platform team lets one app off a policy (settings.Policies)."""
    if app is None:
        return ""
    return f" (to let {app} off, list it under policies: {rule}: allow: in gitops.yaml on main)"


def _container_policies(
    container: Manifest, pod_security: Manifest
) -> Iterator[tuple[Severity, str, str]]:
    """run-as-root and apparmor-unconfined of one container."""
    security = container.get("securityContext") or {}
    user = _get(security, "runAsUser")
    where = "securityContext.runAsUser"
    if user is None:
        user, where = _get(pod_security, "runAsUser"), "the pod's securityContext.runAsUser"
    if type(user) is int and user == 0:
        yield "error", "run-as-root", f"runs as root: {where} is 0; give the image's own user id"
    if _unconfined(_get(security, "appArmorProfile", "type")):
        yield (
            "error",
            "apparmor-unconfined",
            "sets securityContext.appArmorProfile.type: Unconfined, which turns AppArmor off",
        )


def _pod_policies(
    pod: Manifest, metadata: object, prefix: str, scope: _Scope
) -> Iterator[tuple[str, str]]:
    """The pod's own policy problems: apparmor-unconfined in its securityContext or in
    the annotations that set a container's profile (container.apparmor.security.beta.
    kubernetes.io/<container>), and foreign-secret in the Secrets it mounts."""
    if _unconfined(_get(pod, "securityContext", "appArmorProfile", "type")):
        yield (
            "apparmor-unconfined",
            f"{prefix}.securityContext.appArmorProfile.type is Unconfined, which turns "
            "AppArmor off for every container",
        )
    annotations = _get(metadata, "annotations")
    for key, value in sorted((annotations or {}).items() if isinstance(annotations, dict) else []):
        if str(key).startswith(_APPARMOR_ANNOTATION) and _unconfined(value):
            yield (
                "apparmor-unconfined",
                f"annotation {key}: {value} turns AppArmor off for container "
                f"{str(key).removeprefix(_APPARMOR_ANNOTATION)!r}",
            )
    for name, how in _volume_secrets(pod):
        if problem := _foreign(name, how, scope):
            yield "foreign-secret", f"{prefix}: mounts {problem}"


def _unconfined(profile: object) -> bool:
    return isinstance(profile, str) and profile.strip().lower() == "unconfined"


def _secret_problems(container: Manifest, scope: _Scope) -> Iterator[tuple[Severity, str, str]]:
    """foreign-secret: the container reads a Secret that belongs to another app."""
    for name, how in _secrets_read(container):
        if problem := _foreign(name, how, scope):
            yield "error", "foreign-secret", f"reads {problem}"


def _foreign(secret: str, how: str, scope: _Scope) -> str | None:
    """'Secret NAME (how), which is app OTHER's...' when `secret` is another app's."""
    owner = _owner(secret, scope.apps)
    if scope.app is None or owner is None or owner == scope.app:
        return None
    return (
        f"Secret {secret!r} ({how}), which is app {owner}'s: an app reads only its own "
        f"Secrets, named {scope.app!r} or '{scope.app}-...'"
    )


def _secrets_read(container: Manifest) -> Iterator[tuple[str, str]]:
    """(Secret name, how) for every Secret a container reads through its environment."""
    for item in _as_list(container.get("env")):
        name = _get(item, "valueFrom", "secretKeyRef", "name")
        if isinstance(name, str):
            yield name, f"secretKeyRef of env {_get(item, 'name')!r}"
    for item in _as_list(container.get("envFrom")):
        name = _get(item, "secretRef", "name")
        if isinstance(name, str):
            yield name, "envFrom secretRef"


def _volume_secrets(pod: Manifest) -> Iterator[tuple[str, str]]:
    """(Secret name, how) for every Secret a pod mounts."""
    for volume in _as_list(pod.get("volumes")):
        volume_name = _get(volume, "name")
        name = _get(volume, "secret", "secretName")
        if isinstance(name, str):
            yield name, f"volume {volume_name!r}"
        for source in _as_list(_get(volume, "projected", "sources")):
            name = _get(source, "secret", "name")
            if isinstance(name, str):
                yield name, f"projected volume {volume_name!r}"


def _owner(secret: str, apps: Collection[str]) -> str | None:
    """The app a Secret belongs to: the longest app name it is, or starts with plus '-'."""
    owners = [a for a in apps if secret == a or secret.startswith(a + "-")]
    return max(owners, key=len) if owners else None


def _container_problems(
    container: Manifest, pod_security: Manifest, serves: bool
) -> Iterator[tuple[Severity, str, str]]:
    """Problems of one container; `serves` is False for init containers and batch pods."""
    image = container.get("image")
    if isinstance(image, str) and (problem := _image_problem(image)):
        yield "error", "latest-tag", f"image {image!r} {problem}; pin a version tag or a digest"
    missing = [
        key for key in _RESOURCE_KEYS if _get(container, "resources", *key.split(".")) is None
    ]
    if missing:
        yield "error", "resources", f"has no resources {', '.join(missing)}"
    security = container.get("securityContext") or {}
    if _get(security, "privileged") is True:
        yield "error", "privileged", "sets securityContext.privileged: true"
    if _get(security, "allowPrivilegeEscalation") is True:
        yield (
            "error",
            "privilege-escalation",
            "sets securityContext.allowPrivilegeEscalation: true",
        )
    if serves and "readinessProbe" not in container:
        yield "warning", "readiness-probe", "has no readinessProbe"
    for probe in _PROBES:
        spec = container.get(probe)
        if isinstance(spec, dict) and not any(h in spec for h in _PROBE_HANDLERS):
            handlers = ", ".join(_PROBE_HANDLERS)
            yield "error", "probe-handler", f"{probe} has no handler (one of {handlers})"
    non_root = _get(security, "runAsNonRoot")
    if (_get(pod_security, "runAsNonRoot") if non_root is None else non_root) is not True:
        yield (
            "warning",
            "run-as-non-root",
            "may run as root: set runAsNonRoot: true in the pod or container securityContext",
        )


def _image_problem(image: str) -> str | None:
    """Why `image` is not pinned, or None; a digest pins it whatever the tag says."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag, so the node pulls the mutable 'latest'"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the mutable tag 'latest'"
    return None


# --- ArgoCD Applications -----------------------------------------------------------------


def _check_application(path: str, app: Manifest, env: str, namespace: str) -> list[Finding]:
    label = _label(app)
    findings = [
        Finding("error", path, "argocd-schema", f"{label}: {message}")
        for message in _schema_messages(_application_validator(), app)
    ]
    if (actual := _get(app, "metadata", "namespace")) != ARGOCD_NAMESPACE:
        findings.append(
            Finding(
                "error",
                path,
                "namespace",
                f"{label}: metadata.namespace is {actual!r}; Applications live "
                f"in {ARGOCD_NAMESPACE!r}, where ArgoCD watches for them",
            )
        )
    if (target := _get(app, "spec", "destination", "namespace")) != namespace:
        findings.append(
            Finding(
                "error",
                path,
                "namespace",
                f"{label}: spec.destination.namespace is {target!r}, the "
                f"environment's namespace is {namespace!r}",
            )
        )
    source = _get(app, "spec", "source", "path")
    if not (
        isinstance(source, str)
        and re.fullmatch(rf"{re.escape(layout.env_manifests(env))}/[^/]+", source)
        and ".." not in source
    ):
        findings.append(
            Finding(
                "error",
                path,
                "argocd-path",
                f"{label}: spec.source.path is {source!r}, expected "
                f"'{layout.app_manifests(env, '<app>')}' of this environment",
            )
        )
    return findings + _check_sync_policy(path, app)


def _check_sync_policy(path: str, app: Manifest) -> list[Finding]:
    automated = _get(app, "spec", "syncPolicy", "automated")
    label = _label(app)
    on = isinstance(automated, dict) and automated.get("enabled") is not False
    if not on or automated.get("prune") is not True:
        return [
            Finding(
                "error",
                path,
                "argocd-prune",
                f"{label}: spec.syncPolicy.automated must be on with prune: true, "
                "otherwise a decommissioned app's resources stay in the cluster",
            )
        ]
    if automated.get("selfHeal") is not True:
        return [
            Finding(
                "warning",
                path,
                "argocd-self-heal",
                f"{label}: spec.syncPolicy.automated.selfHeal is not true, so manual "
                "changes in the cluster are not reverted to what git says",
            )
        ]
    return []


# --- across files ------------------------------------------------------------------------


def _check_duplicates(objects: list[tuple[str, Any]]) -> list[Finding]:
    """Two files defining the same object would make ArgoCD apply one over the other."""
    first_seen: dict[tuple[object, object, object], str] = {}
    findings = []
    for path, obj in objects:
        if not isinstance(obj, dict):
            continue
        key = (obj.get("kind"), _get(obj, "metadata", "namespace"), _get(obj, "metadata", "name"))
        if key in first_seen:
            findings.append(
                Finding(
                    "error",
                    path,
                    "duplicate",
                    f"{_label(obj)} in namespace {key[1]!r} is also defined in {first_seen[key]}",
                )
            )
        else:
            first_seen[key] = path
    return findings
