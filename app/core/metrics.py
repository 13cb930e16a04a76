"""Every metric Forgeline exposes, and the /metrics endpoint.

- HTTP metrics come from prometheus-flask-exporter (one registry per app, so
  tests may build many apps; under several processes the values live in
  PROMETHEUS_MULTIPROC_DIR and are merged at scrape time).
- Domain counters and histograms are declared here, in one place.
- Cluster-wide figures (RQ jobs per registry, workers per state, job durations
  from the job history table) are read at scrape time by ClusterCollector, so
  every web process answers the same and nothing goes stale.
"""

import hmac
import os

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_flask_exporter import PrometheusMetrics

AUDIT_WRITES = Counter("audit_writes", "Audit log rows committed")

JOB_EXEC_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 1800)
QUEUE_WAIT_BUCKETS = (0.05, 0.25, 1, 5, 30, 120, 600, 3600)

# Required on every scrape; `flask metrics-check` fails when one is missing.
REQUIRED_METRICS = (
    "http_requests_total",
    "http_request_duration_seconds",
    "audit_writes_total",
    "rq_jobs",
    "rq_workers",
    "job_exec_seconds",
    "queue_wait_seconds",
)

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """Attach the HTTP metrics; call after every blueprint is registered."""
    exporter = PrometheusMetrics(app, path=None, export_defaults=False, registry=CollectorRegistry())

    def endpoint_label() -> str:
        return request.url_rule.rule if request.url_rule else "unmatched"

    labels = {"method": lambda: request.method, "endpoint": endpoint_label, "status": lambda r: r.status_code}
    exporter.register_default(
        exporter.counter("http_requests_total", "HTTP requests by method, route and status", labels=labels),
        exporter.histogram("http_request_duration_seconds", "HTTP request duration by route", labels=labels),
    )
    app.extensions["forgeline_metrics"] = exporter


class ClusterCollector:
    """Figures read from Redis and the database at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        from app.core.jobs import history
        from app.queues import service as queues

        with self.app.app_context():
            jobs = GaugeMetricFamily("rq_jobs", "RQ jobs by queue and registry", labels=["queue", "status"])
            workers = GaugeMetricFamily("rq_workers", "RQ workers by state", labels=["state"])
            try:
                for queue in queues.queue_counts():
                    for status, count in queue["counts"].items():
                        jobs.add_metric([queue["name"], status], count)
                for state, count in queues.worker_states().items():
                    workers.add_metric([state], count)
            except Exception:  # Redis down: report no samples rather than fail the whole scrape
                current_app.logger.warning("metrics: Redis unavailable during scrape")
            yield jobs
            yield workers
            for name, doc, column, buckets in (
                ("job_exec_seconds", "Job execution time by queue", "duration", JOB_EXEC_BUCKETS),
                ("queue_wait_seconds", "Time jobs waited in the queue", "wait", QUEUE_WAIT_BUCKETS),
            ):
                family = HistogramMetricFamily(name, doc, labels=["queue"])
                for queue, cumulative, total in history.histogram(column, buckets):
                    family.add_metric([queue], list(zip([str(b) for b in buckets] + ["+Inf"], cumulative)), total)
                yield family


def _app_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return current_app.extensions["forgeline_metrics"].registry


@bp.get("/metrics")
def metrics_endpoint():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given, token):
            abort(401)
    cluster = CollectorRegistry(auto_describe=False)
    cluster.register(ClusterCollector(current_app._get_current_object()))
    parts = [generate_latest(_app_registry()), generate_latest(cluster)]
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        parts.insert(1, generate_latest(REGISTRY))
    return Response(b"".join(parts), mimetype=CONTENT_TYPE_LATEST)
