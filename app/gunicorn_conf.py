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
# Processes, not threads, carry the rendering: a page is CPU-bound Python under one GIL per process,
# so a process busy with heavy pages slows every thread of its own, `/health` included. Two per core
# keeps one process free for `/health` and light pages while others render (docs/operations.md,
# "Sizing the web tier"); `-w` on the command line overrides it.
workers = int(os.environ.get("WEB_PROCESSES") or 2 * (os.cpu_count() or 1))
threads = int(os.environ.get("WEB_THREADS", "32"))  # every open WebSocket holds one
timeout = 60
graceful_timeout = 20
accesslog = "-"
# A longer request line (URL and query) than this is answered by gunicorn itself with
# "414 Request-URI Too Long" as plain HTML, before the app sees it (docs/operations.md).
# 8190 is gunicorn's largest bounded value; the default, 4094, is short for long filter queries.
limit_request_line = 8190
# gunicorn >= 25 opens a control socket for `gunicornc`, by default at one path per user
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): a second instance takes it over and
# removes it on exit. Off unless GUNICORN_CONTROL_SOCKET names a path of this instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


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
