"""gunicorn settings for the GitOps webhook (docs/WEBHOOK.md, "Production").

    gunicorn -c deploy/gunicorn.conf.py            # the app is named below (wsgi_app)

Override a setting for one run with gunicorn's own flags or GUNICORN_CMD_ARGS, which
win over this file (e.g. GUNICORN_CMD_ARGS="--bind 0.0.0.0:8080"). The webhook itself
is configured by its environment (GITOPS_*, GITLAB_*, JENKINS_*: docs/WEBHOOK.md).
"""

from __future__ import annotations

from typing import Any

# The app factory, called in the worker: `webhook:create_app()` (gunicorn >= 20.1).
wsgi_app = "webhook:create_app()"

# Loopback: put TLS and the public address on a reverse proxy in front. The
# container image binds 0.0.0.0 instead (deploy/Containerfile).
bind = ["127.0.0.1:8080"]

# ONE worker process, with threads. The job workers (huey's consumer threads, the
# reconcile loop) run inside the process that created the app, and each new process
# starts by recovering: it clears the branch locks and re-queues every job left
# queued or running (webhook/jobs.py, `Jobs.recover`). A second process on the same
# data directory would clear the locks of the first one's running job and run that
# job again beside it. One process also keeps SQLite (queue.db, webhook.db) to one
# writer. Threads serve the requests: a hook is answered in milliseconds, but /readyz
# may wait up to 5 s for GitLab and the status board reads GitLab, so a few threads
# keep a slow GitLab from delaying GitLab's own deliveries (it waits about 10 s).
workers = 1
worker_class = "gthread"
threads = 8
# The app (and its threads, SQLite connections) is made after the fork, in the
# worker: threads do not survive a fork, and the master stays small.
preload_app = False

# gthread's timeout is the worker's heartbeat, not a request's: requests are short,
# and promotions run on job threads, not in requests.
timeout = 30
keepalive = 5  # above 2 s, as behind a load balancer
# On SIGTERM: stop accepting, finish the requests in flight, then stop the job
# workers (worker_exit below), letting a running promotion end. After this many
# seconds the master kills the worker; a promotion cut short is re-queued at the
# next start and its rerun updates the same MR. Below Kubernetes' default grace
# period (30 s) and systemd's TimeoutStopSec in gitops-webhook.service (60 s).
graceful_timeout = 25

# Logs to stderr and stdout (journald, or the container runtime). The app writes JSON
# lines with secrets masked; the access log writes the path without the query string
# (%(U)s, not %(r)s), no referer and no user, so no token ever given in a URL or a
# Basic header lands in a log.
errorlog = "-"
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
loglevel = "info"

# The heartbeat file on memory, not disk (gunicorn's FAQ on blocking os.fchmod);
# /dev/shm exists on Linux and in containers. gunicorn makes it with mkstemp and
# unlinks it at once, so a shared directory is safe here.
worker_tmp_dir = "/dev/shm"  # noqa: S108
# gunicorn >= 25.1 opens a control socket under $HOME or $XDG_RUNTIME_DIR; the service
# user has neither writable (systemd's ProtectHome), and nothing here uses it.
control_socket_disable = True
proc_name = "gitops-webhook"


def worker_exit(server: Any, worker: Any) -> None:
    """Stop the job workers and close the store as the worker exits: a running job ends
    first, and its state is written before the process goes."""
    import webhook

    app = getattr(worker, "wsgi", None)
    if app is not None:
        webhook.shutdown(app)
