"""Deployment repositories with many apps, for the scale tests and bench/render.py.

Each app has an app layer in services/apps/app-NNNN.cue and an env.cue entry. Every
app sets an image, a port, environment variables, ConfigMap entries, a pod
annotation and both probes, and its env entry a tag, replicas and an environment
variable overriding the app layer's. `varied` apps differ by their number: some
turn debug on (a second Service), mount storage (a PersistentVolumeClaim), probe
with a command, or override an app-layer probe field in env.cue, so the batches
of a render meet every template and every kind of merge. Without `varied` every
app looks alike: the shape docs/PERFORMANCE.md has always measured.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.deployrepo import append

APP_LAYER = """package deployments

apps: "{name}": app: {{
	deployment: image: repository: "registry.example.com/team/{name}"
	port: {port}
	appEnvVars: [{{name: "APP_NAME", value: "{name}"}}, {{name: "LOG_LEVEL", value: "INFO"}}]
	configMap: data: {{"cache-ttl": "300", "feature": "on"}}
	podAnnotations: "prometheus.io/scrape": "true"
	readinessProbe: {readiness}
	livenessProbe: httpGet: {{path: "/healthz", port: "http"}}
{extra}}}
"""
ENV_ENTRY = """
apps: "{name}": env: {{
	deployment: image: tag: "1.{i}.0"
	replicas: {replicas}
	additionalEnv: [{{name: "LOG_LEVEL", value: "DEBUG"}}]
{extra}}}
"""
HTTP_PROBE = '{httpGet: {path: "/ready", port: "http"}}'
EXEC_PROBE = '{exec: command: ["cat", "/tmp/ready"]}'
STORAGE = '\tstorage: {size: "1Gi", mountPath: "/data"}\n'


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def add_apps(repo: Path, count: int, varied: bool = True) -> list[str]:
    """Add `count` apps to the checked-out environment of `repo`; return their names."""
    names = []
    entries = []
    for i in range(count):
        name = app_name(i)
        names.append(name)
        app_extra = env_extra = ""
        if varied and i % 7 == 3:
            app_extra = STORAGE
        if varied and i % 5 == 1:
            env_extra += "\tdebug: true\n"
        if varied and i % 6 == 2:
            env_extra += "\treadinessProbe: timeoutSeconds: 30\n"
        (repo / "services/apps" / f"{name}.cue").write_text(
            APP_LAYER.format(
                name=name,
                port=8000 + i % 1000 if varied else 8080,
                readiness=EXEC_PROBE if varied and i % 4 == 0 else HTTP_PROBE,
                extra=app_extra,
            )
        )
        replicas = 1 + i % 3 if varied else 2
        entries.append(ENV_ENTRY.format(name=name, i=i, replicas=replicas, extra=env_extra))
    append(repo / "env.cue", "".join(entries))
    return names
