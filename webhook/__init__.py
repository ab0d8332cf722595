"""The GitLab webhook: merged promotion MRs become the next environment's MR.

A Flask app factory (`create_app`); the views check the token and payload, then
call the same library functions as the CLI (jenkins_helpers.promotion).
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the webhook app: defaults, then the instance config, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_pyfile("webhook.cfg", silent=True)
    if test_config is not None:
        app.config.from_mapping(test_config)
    return app
