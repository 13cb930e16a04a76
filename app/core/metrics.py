"""Every metric Forgeline exposes, and the /metrics endpoint (docs/metrics.md).

- HTTP metrics (`http_requests_total`, `http_request_duration_seconds`) are
  kept per app in the registry of its prometheus-flask-exporter instance and
  recorded by request hooks, so every request counts: also those answered
  before any view runs (401/302 from the sign-in gate, 400 CSRF, 429 rate
  limit) and those no route matches (404/405, endpoint "unmatched"). The
  exporter's own view wrappers (`register_default`) miss those, and its
  defaults have other names and no route label on the counter. Its
  `do_not_track()` / `exclude_all_metrics()` decorators are honoured.
- Each capability declares its own counters and histograms in its metrics.py
  (app/eco/metrics.py, ...); core declares only its own (audit, HTTP, jobs).
- Under several processes (gunicorn workers, RQ workers and their work
  horses) PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is
  imported; each process then writes its values there and /metrics merges
  them at scrape time.
- Cluster-wide figures (RQ jobs per registry, workers per state, job timings
  from the job history table, slot fill of running flows, remote sites up) are
  read at scrape time by ClusterCollector, so every web process answers the
  same and nothing goes stale. A capability adds such a gauge with
  @scrape_gauge next to the data it reads; core imports no capability.

No label takes unbounded values: the route label is the URL rule
(`/api/v1/jobs/<job_id>`), never the path.
"""

import hmac
import os
from collections.abc import Callable, Iterable
from timeit import default_timer

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString
from prometheus_flask_exporter import PrometheusMetrics

from app.core.capability import queue_names

AUDIT_WRITES = Counter("audit_writes", "Audit log rows committed")

JOB_EXEC_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 1800)
QUEUE_WAIT_BUCKETS = (0.05, 0.25, 1, 5, 30, 120, 600, 3600)
UNMATCHED = "unmatched"  # endpoint label of requests no route matches (404, 405)

# Required on every scrape; `flask metrics-check` fails when one has no sample.
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


def _endpoint_label() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def init_app(app: Flask) -> None:
    """Attach the HTTP metrics (one registry per app, so tests may build many apps)."""
    exporter = PrometheusMetrics(app, path=None, export_defaults=False, registry=CollectorRegistry())
    labels = ("method", "endpoint", "status")
    requests_total = Counter(
        "http_requests", "HTTP requests by method, route and status", labels, registry=exporter.registry
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "HTTP request duration by method, route and status",
        labels,
        registry=exporter.registry,
    )
    # so a fresh process already exposes both families (first scrape, metrics-check)
    requests_total.labels("GET", "/metrics", "200")
    duration.labels("GET", "/metrics", "200")

    def start_timer():
        g._metrics_start = default_timer()

    def tracked() -> bool:
        return not (hasattr(request, "prom_do_not_track") or hasattr(request, "prom_exclude_all"))

    def observe(status: int) -> None:
        if g.get("_metrics_done"):
            return
        g._metrics_done = True
        values = (request.method, _endpoint_label(), str(status))
        requests_total.labels(*values).inc()
        duration.labels(*values).observe(max(default_timer() - g.get("_metrics_start", default_timer()), 0))

    def after_request(response):
        if tracked():
            observe(response.status_code)
        return response

    def teardown_request(exception=None):
        # an exception Flask did not turn into a response (TESTING re-raises them)
        if exception is not None and tracked():
            observe(500)

    # first of all before_request hooks, so the time covers the sign-in gate and the rate limiter
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)
    app.after_request(after_request)
    app.teardown_request(teardown_request)
    app.extensions["forgeline_metrics"] = exporter


Rows = Iterable[tuple]  # each row: the label values, then the value
_SCRAPE_GAUGES: list[tuple[str, str, tuple[str, ...], Callable[[], Rows]]] = []


def scrape_gauge(name: str, documentation: str, labels: tuple[str, ...]):
    """Register `read()` as the source of gauge `name`, read at every scrape inside an app
    context; it returns rows of label values followed by the value."""

    def register(read: Callable[[], Rows]) -> Callable[[], Rows]:
        _SCRAPE_GAUGES.append((name, documentation, labels, read))
        return read

    return register


class ClusterCollector:
    """Figures read from Redis and the database at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        with self.app.app_context():
            for gauge in _SCRAPE_GAUGES:
                yield _gauge(*gauge)
            yield from self._job_timings()

    def _job_timings(self):
        from app.core.jobs import history

        for name, doc, column, buckets in (
            ("job_exec_seconds", "Job execution time by queue (job history)", "duration", JOB_EXEC_BUCKETS),
            ("queue_wait_seconds", "Time jobs waited in the queue (job history)", "wait", QUEUE_WAIT_BUCKETS),
        ):
            family = HistogramMetricFamily(name, doc, labels=["queue"])
            try:
                rows = {queue: (cumulative, total) for queue, cumulative, total in history.histogram(column)}
            except Exception:  # database down: no samples (metrics-check fails) rather than a failed scrape
                current_app.logger.warning("metrics: database unavailable during scrape", exc_info=True)
                yield family
                continue
            bounds = [floatToGoString(b) for b in buckets] + ["+Inf"]
            for queue in sorted(set(queue_names()) | set(rows), key=_queue_order):
                cumulative, total = rows.get(queue, ([0] * (len(buckets) + 1), 0.0))
                family.add_metric([queue], list(zip(bounds, cumulative, strict=True)), total)
            yield family


def _gauge(name: str, documentation: str, labels: tuple[str, ...], read: Callable[[], Rows]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    try:
        rows = list(read())
    except Exception:  # Redis or the database down: no samples (metrics-check fails) rather than a failed scrape
        current_app.logger.warning("metrics: %s unavailable during scrape", name, exc_info=True)
        rows = []
    for *values, value in rows:
        family.add_metric(values, value)
    return family


def _queue_order(name: str) -> tuple[int, str]:
    names = queue_names()
    return (names.index(name) if name in names else len(names), name)


def _app_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return current_app.extensions["forgeline_metrics"].registry


def _authorized() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    return hmac.compare_digest(given.encode(), token.encode())


@bp.get("/metrics")
def metrics_endpoint():
    if not _authorized():
        abort(401)
    cluster = CollectorRegistry(auto_describe=False)
    cluster.register(ClusterCollector(current_app._get_current_object()))
    parts = [generate_latest(_app_registry()), generate_latest(cluster)]
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        parts.insert(1, generate_latest(REGISTRY))
    return Response(b"".join(parts), mimetype=CONTENT_TYPE_LATEST)
