"""What a use case checked: one line per fact, and a Mismatch for the first that fails."""

from __future__ import annotations

from typing import Any

from gitops_demo.world import Mismatch

Objects = dict[tuple[str, str, str], dict[str, Any]]


class Evidence:
    """Facts checked so far; `expect` adds one or raises Mismatch saying what differed."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def expect(self, what: str, got: Any, want: Any) -> None:
        if got != want:
            raise Mismatch(f"{what}: got {got!r}, want {want!r}")
        self.lines.append(f"{what}: {got}")

    def note(self, line: str) -> None:
        self.lines.append(line)


def deployment(objects: Objects, app: str) -> dict[str, Any]:
    found = objects.get((app, "Deployment", app))
    if found is None:
        raise Mismatch(f"no Deployment {app}")
    return found


def container(objects: Objects, app: str) -> dict[str, Any]:
    spec: dict[str, Any] = deployment(objects, app)["spec"]["template"]["spec"]
    return dict(spec["containers"][0])


def env_var(objects: Objects, app: str, name: str) -> list[str]:
    """Every value `name` has in the app's container env (a duplicate shows twice)."""
    return [
        str(e.get("value")) for e in container(objects, app).get("env", []) if e["name"] == name
    ]


def config_value(objects: Objects, app: str, key: str) -> str | None:
    config = objects.get((app, "ConfigMap", f"{app}-config"))
    return None if config is None else (config.get("data") or {}).get(key)


def pod_annotation(objects: Objects, app: str, key: str) -> str | None:
    meta = deployment(objects, app)["spec"]["template"]["metadata"]
    value = (meta.get("annotations") or {}).get(key)
    return None if value is None else str(value)


def image_tag(objects: Objects, app: str) -> str:
    return str(container(objects, app)["image"]).rsplit(":", 1)[-1]
