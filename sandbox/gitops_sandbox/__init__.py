"""A local stand-in for GitLab, Jenkins and Argo CD that their clients talk to.

Real HTTP on a loopback port, real bare git repositories served over smart HTTP,
real merge commits, GitLab-shaped webhooks. It depends on nothing of the tool it
stands in for (stdlib, Flask/Werkzeug, PyYAML and git only). See docs/SANDBOX.md.

    with Sandbox.start() as sb:
        gl = gitlab.Gitlab(sb.gitlab_url, private_token=sb.token)
"""

from __future__ import annotations

from gitops_sandbox.app import create_app, shutdown_app
from gitops_sandbox.errors import SandboxError
from gitops_sandbox.seed import (
    DEPLOYMENTS,
    EXAMPLE_APP,
    seed_app,
    seed_default,
    write_example_app,
)
from gitops_sandbox.serve import banner, run, serve_forever
from gitops_sandbox.server import Sandbox

__all__ = [
    "DEPLOYMENTS",
    "EXAMPLE_APP",
    "Sandbox",
    "SandboxError",
    "banner",
    "create_app",
    "run",
    "seed_app",
    "seed_default",
    "serve_forever",
    "shutdown_app",
    "write_example_app",
]
