"""The GitLab webhook: merged promotion MRs become the next environment's MR.

`create_app` is a Flask app factory: defaults, then the instance config
(instance/webhook.cfg), then `test_config`; the environment fills in what none of
them sets (settings.py). The views check the token and payload and queue a job;
the jobs call the same library as the CLI (jenkins_helpers.promotion).

    gunicorn -c deploy/gunicorn.conf.py    # docs/WEBHOOK.md, Production
"""

from __future__ import annotations

import atexit
import gc
from typing import Any

from flask import Flask

from jenkins_helpers.operations.cascade import Promote
from jenkins_helpers.promotion.target import remove_stale_clones
from webhook import board, logs, views
from webhook import settings as settings_module
from webhook.executors import executor_for
from webhook.jobs import Jobs
from webhook.metrics import Metrics
from webhook.store import Store


def create_app(
    test_config: dict[str, Any] | None = None, *, promote: Promote | None = None
) -> Flask:
    """Create the webhook app and start its job workers (GITOPS_WORKERS of them)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_pyfile("webhook.cfg", silent=True)
    if test_config is not None:
        app.config.from_mapping(test_config)
    settings = settings_module.load(app.config)
    logs.configure()
    app.config["MAX_CONTENT_LENGTH"] = settings_module.MAX_BODY
    remove_stale_clones()  # a worker killed with SIGKILL before this start left its clones
    store = Store(settings.data_dir / "webhook.db")
    metrics = Metrics(store)
    jobs = Jobs(settings, store, metrics, promote or executor_for(settings))
    app.extensions["gitops"] = {
        "settings": settings,
        "store": store,
        "metrics": metrics,
        "jobs": jobs,
    }
    app.register_blueprint(views.bp)
    app.register_blueprint(board.bp)
    if settings.workers > 0:
        jobs.start()
        atexit.register(jobs.stop)
    # What is loaded by now lives as long as the process: keep it out of the garbage
    # collector, whose full passes over it paused an ack for 30 ms (docs/PERFORMANCE.md).
    gc.freeze()
    return app


def shutdown(app: Flask) -> None:
    """Stop the app's workers and close its store (tests, and `webhook serve` on exit)."""
    gitops = app.extensions["gitops"]
    gitops["jobs"].stop()
    gitops["store"].close()
