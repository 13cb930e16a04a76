"""gunicorn settings for the web tier: threads for WebSockets (each open socket
holds one), and cleanup of the Prometheus multiprocess files of dead workers."""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "32"))
timeout = 60
graceful_timeout = 20
accesslog = "-"


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
