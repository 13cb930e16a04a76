"""gunicorn settings for the web tier: threads for WebSockets (each open socket
holds one), and the Prometheus multiprocess mode (docs/metrics.md).

PROMETHEUS_MULTIPROC_DIR must be in the environment before gunicorn starts
(prometheus_client reads it when it is imported) and shared with the RQ
workers on the same host. It is wiped by whatever starts web and workers
together (`make run`, a systemd ExecStartPre), before any of them starts; not
here, because workers started earlier already write into it.
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "32"))
timeout = 60
graceful_timeout = 20
accesslog = "-"
# A longer request line (URL and query) than this is answered by gunicorn itself with
# "414 Request-URI Too Long" as plain HTML, before the app sees it (docs/operations.md).
# 8190 is gunicorn's largest bounded value; the default, 4094, is short for long filter queries.
limit_request_line = 8190


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        # prometheus_client fails at import in every worker if the directory is missing
        os.makedirs(path, exist_ok=True)
    elif server.cfg.workers > 1:
        server.log.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set: with %d web processes each /metrics "
            "answer shows the figures of one process only",
            server.cfg.workers,
        )


def child_exit(server, worker):
    """Runs in the master when a web process exits: drop its live-gauge files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
