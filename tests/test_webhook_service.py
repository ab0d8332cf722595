"""The webhook as a service, as deploy/ and the scaffold's catalog ship it.

- Kubernetes: the catalog app gitops-webhook, once an environment's env.cue opts in,
  renders and validates with our own `render` and `validate` (CLI processes).
- gunicorn: deploy/gunicorn.conf.py started as the systemd unit starts it, against the
  real app (its job workers running), GitLab pointed at a closed loopback port.
- systemd: deploy/gitops-webhook.service checked by `systemd-analyze verify`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.ports import free_port

# slow: CLI processes rendering a repository, and a gunicorn started and stopped.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
GUNICORN = Path(sys.executable).parent / "gunicorn"
APP = "gitops-webhook"
OPT_IN = """
apps: "gitops-webhook": env: {
\tdeployment: image: tag: "0.1.0"
\treplicas: 1
}
"""


def gitops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _manifests(repo: Path, env: str) -> dict[str, Any]:
    """The webhook's rendered objects in `env`, by kind."""
    found = {}
    for path in sorted((repo / "manifests" / env / APP).glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        found[obj["kind"]] = obj
    return found


def test_the_catalog_app_renders_and_validates_where_an_env_opts_in(tmp_path: Path) -> None:
    """In the catalog of every new repository, deployed nowhere until env.cue names a tag;
    then a Deployment (probes, Secret env, the data volume), its PVC and its Service."""
    repo = tmp_path / "k8s-deployments"
    created = gitops("init-repo", str(repo))
    assert created.returncode == 0, created.stderr
    assert (repo / "services/apps/gitops-webhook.cue").is_file()
    assert not (repo / "manifests/dev" / APP).exists(), "no env deploys it by default"

    subprocess.run(["git", "switch", "-q", "dev"], cwd=repo, check=True)
    with (repo / "env.cue").open("a") as env_cue:
        env_cue.write(OPT_IN)
    rendered = gitops("render", cwd=repo)
    assert rendered.returncode == 0, rendered.stderr
    validated = gitops("validate", "--env", "dev", "--json", cwd=repo)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert [f for r in json.loads(validated.stdout) for f in r["findings"]] == []

    objects = _manifests(repo, "dev")
    assert set(objects) == {"Deployment", "PersistentVolumeClaim", "Service", "Application"}
    spec = objects["Deployment"]["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/platform/gitops-webhook:0.1.0"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    for name, key in [
        ("GITLAB_TOKEN", "gitlab-token"),
        ("GITOPS_WEBHOOK_SECRET", "webhook-secret"),
    ]:
        assert env[name]["valueFrom"] == {"secretKeyRef": {"name": APP, "key": key}}
        assert "value" not in env[name], "a token is never written into the manifests"
    assert env["GITOPS_DATA_DIR"]["value"] == "/var/lib/gitops-webhook"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/gitops-webhook"}]
    assert pod["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": f"{APP}-data"}}
    ]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert objects["PersistentVolumeClaim"]["metadata"]["name"] == f"{APP}-data"
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] == "http"


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py, as the unit starts it; stderr to a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.log = tmp_path / "gunicorn.err"
        self.access = tmp_path / "gunicorn.out"
        with self.log.open("w") as err, self.access.open("w") as out:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--config", str(DEPLOY / "gunicorn.conf.py")],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=err,
            )

    def url(self, timeout: float = 30.0) -> str:
        """The address gunicorn says it listens at, once its worker answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"Listening at: (http://\S+)", self.log.read_text())
            if found and "Booting worker" in self.log.read_text():
                return found.group(1)
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=40)


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _service_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITOPS_DATA_DIR": str(tmp_path / "data"),
        "GITOPS_WEBHOOK_SECRET": "service-test-secret-0123456789",
        # Nothing listens there: GitLab is down.
        "GITLAB_URL": f"http://127.0.0.1:{free_port()}",
        "GITLAB_TOKEN": "glpat-service-test-token-0123",
        # Job workers run (GITOPS_WORKERS' default), but no reconcile at start: its
        # attempt on the closed port (the client's retries: 7.5 s) would hold the stop.
        "GITOPS_RECONCILE_INTERVAL": "0",
        # The port the test may take, over the file's (gunicorn: the variable wins).
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{free_port()}",
        **extra,
    }


def test_gunicorn_serves_with_the_config_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """One worker with the app's job threads; /healthz 200, /readyz 503 naming GitLab
    while GitLab is down; no query string in the access log; SIGTERM ends it, exit 0."""
    env = _service_environment(tmp_path)
    server = Gunicorn(tmp_path, env)
    try:
        url = server.url()
        assert _get(f"{url}/healthz") == (200, {"status": "ok"})
        status, ready = _get(f"{url}/readyz")
        assert status == 503
        assert ready["checks"] == {"queue": "ok", "gitlab": "failed"}
        _get(f"{url}/jobs?state=failed&token=not-for-the-log")
        assert (tmp_path / "data/queue.db").is_file() and (tmp_path / "data/webhook.db").is_file()
        started = time.monotonic()
        assert server.stop() == 0, server.log.read_text()
        stopped_in = time.monotonic() - started
    finally:
        if server.process.poll() is None:
            server.process.kill()
    log = server.log.read_text()
    assert log.count("Booting worker") == 1, "one worker process owns the queue"
    assert "readiness check gitlab failed" in log, "the log says why it is not ready"
    assert "Shutting down: Master" in log
    assert stopped_in < 25, f"SIGTERM took {stopped_in:.1f} s"
    access = server.access.read_text()
    assert '"GET /jobs HTTP/1.1" 401' in access
    assert '"GET /healthz HTTP/1.1" 200' in access
    for secret in ("not-for-the-log", env["GITLAB_TOKEN"], env["GITOPS_WEBHOOK_SECRET"]):
        assert secret not in access + log


def test_gunicorn_without_the_secret_exits_and_says_which_setting(tmp_path: Path) -> None:
    """A missing setting: the worker fails to boot and gunicorn exits 3, the app's message
    naming the setting in its log (journalctl), instead of serving without it."""
    env = _service_environment(tmp_path)
    del env["GITOPS_WEBHOOK_SECRET"]
    server = Gunicorn(tmp_path, env)
    try:
        code = server.process.wait(timeout=30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
    assert code == 3, server.log.read_text()  # gunicorn's "Worker failed to boot"
    assert "GITOPS_WEBHOOK_SECRET" in server.log.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_verifies_and_runs_gunicorn_with_the_config(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, installed as its header says, under a root
    holding the system's own units and the executables it names: no warning at all (an
    unknown key or a bad value is only a warning there). Then what it runs and how it is
    confined: ExecStart is gunicorn with the config file, and the hardening keys are set."""
    unit = DEPLOY / "gitops-webhook.service"
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    for executable in ("opt/gitops-webhook/bin/gunicorn",):
        (root / executable).parent.mkdir(parents=True, exist_ok=True)
        (root / executable).write_text("#!/bin/sh\n")
        (root / executable).chmod(0o755)
    verified = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            "--generators=no",
            f"--root={root}",
            f"/etc/systemd/system/{unit.name}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")

    keys = _unit_keys(unit.read_text())
    assert keys["ExecStart"] == [
        "/opt/gitops-webhook/bin/gunicorn --config /etc/gitops-webhook/gunicorn.conf.py"
    ]
    assert keys["StateDirectory"] == ["gitops-webhook"]
    assert "GITOPS_DATA_DIR=/var/lib/gitops-webhook" in keys["Environment"]
    assert keys["EnvironmentFile"] == ["/etc/gitops-webhook/webhook.env"]
    assert keys["Restart"] == ["on-failure"]
    for key, value in {
        "User": "gitops-webhook",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/gitops-webhook",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert keys[key] == [value], key


def _unit_keys(text: str) -> dict[str, list[str]]:
    """Key=value lines of a unit file, each key's values in order (keys repeat)."""
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys
