"""The overview's figures as Prometheus gauges (`ops_*`, docs/metrics.md), read at scrape time.

Each windowed gauge carries `window_days` (1, 7 or 30) and reads the summary of that window; the
three summaries are computed once per scrape, on first use, and kept on the scrape's app context
(ClusterCollector pushes one per scrape), so a scrape costs three summary() calls however many
gauges read them. Labels come from fixed sets only (window_days, area, status, direction, queue, level):
per-site doc-sync figures and workflow result codes stay out (site names are user data, result
codes open-ended). A rate with nothing to divide (null in the summary) gives no sample."""

from collections.abc import Callable, Iterable
from typing import Any

from flask import g

from app.core.capability import queue_names
from app.core.metrics import Rows, scrape_gauge
from app.extensions import db
from app.ops import alerts, thresholds
from app.ops.summary import summary
from app.queues import service as queues

WINDOWS = (1, 7, 30)
ALERT_WINDOW = 7  # the window of ops_alerts, as the page's default and the rules' series

Summary = dict[str, Any]
# area label -> the path of its section in the summary: the areas counted by status
JOB_AREAS = {
    "doc_sync": ("doc_sync",),
    "workflow_runs": ("workflow_runs",),
    "flow_runs": ("flow_runs",),
    "optimizations": ("optimizations",),
    "bom_delta": ("exports", "bom_delta"),
    "workorder_packs": ("exports", "workorder_packs"),
}


def _summaries() -> dict[int, Summary]:
    if "ops_summaries" not in g:
        try:
            g.ops_summaries = {days: summary(days) for days in WINDOWS}
        except Exception as exc:  # noqa: BLE001 - re-raised below, in every ops gauge of this scrape
            # kept, so the other ops gauges of this scrape fail at once instead of querying again;
            # rolled back, so the gauges read after these do not meet an aborted transaction
            db.session.rollback()
            g.ops_summaries = exc
    if isinstance(g.ops_summaries, Exception):
        raise g.ops_summaries
    return g.ops_summaries


def _windowed(name: str, documentation: str, labels: tuple[str, ...], pick: Callable[[Summary], Iterable[tuple]]):
    """Gauge `name{window_days, *labels}`: `pick(summary)` gives the rows (label values, then the
    value) of one window; None values are left out."""

    def read() -> Rows:
        for days, figures in _summaries().items():
            for *values, value in pick(figures):
                if value is not None:
                    yield (str(days), *map(str, values), float(value))

    scrape_gauge(name, documentation, ("window_days", *labels))(read)


def _at(s: Summary, path: tuple[str, ...]) -> Any:
    for key in path:
        s = s[key]
    return s


def _one(*path: str) -> Callable[[Summary], list[tuple]]:
    """The single figure at `path` of the summary, a gauge without labels but the window."""
    return lambda s: [(_at(s, path),)]


def _counts(*path: str) -> Callable[[Summary], list[tuple]]:
    """The counts by label value (status, direction) at `path` of the summary."""
    return lambda s: list(_at(s, path).items())


def _queues(key: str) -> Callable[[Summary], list[tuple]]:
    """Per queue of the app, the job history's `key`; a queue with no job in the window has counts
    of 0 and no rate or percentile."""

    def pick(s: Summary) -> list[tuple]:
        rows = {row["queue"]: row for row in s["job_history"]}
        empty = {"total": 0, "failed": 0}
        return [(queue, rows.get(queue, empty).get(key)) for queue in queue_names()]

    return pick


_windowed(
    "ops_jobs",
    "Background work of the window by area and status (doc-sync jobs, workflow action runs, flow runs, "
    "optimizations, BOM delta exports, work-order packs)",
    ("area", "status"),
    lambda s: [
        (area, status, n) for area, path in JOB_AREAS.items() for status, n in _at(s, path)["by_status"].items()
    ],
)
_windowed(
    "ops_failed_ratio",
    "Failed / total of the window, by area",
    ("area",),
    lambda s: [(area, _at(s, path)["failed_rate"]) for area, path in JOB_AREAS.items() if area != "doc_sync"],
)
_windowed(
    "ops_workflow_runs_warning_ratio",
    "Workflow action runs that ended in a warning / runs",
    (),
    _one("workflow_runs", "warning_rate"),
)
_windowed(
    "ops_doc_sync_jobs",
    "Doc-sync jobs of the window by direction",
    ("direction",),
    _counts("doc_sync", "by_direction"),
)
_windowed(
    "ops_doc_sync_success_ratio",
    "Doc-sync jobs finished / ended",
    (),
    _one("doc_sync", "success_rate"),
)
_windowed(
    "ops_doc_sync_dead_letter_jobs",
    "Failed doc-sync jobs not replayed yet",
    (),
    _one("doc_sync", "dead_letter"),
)
_windowed(
    "ops_doc_sync_dead_letter_ratio",
    "Doc-sync dead letters / jobs",
    (),
    _one("doc_sync", "dead_letter_rate"),
)
_windowed(
    "ops_doc_sync_mean_attempts",
    "Mean attempts per document of the window's doc-sync jobs",
    (),
    _one("doc_sync", "mean_attempts"),
)
_windowed(
    "ops_breakage_incidents",
    "Breakage incidents of the window by status",
    ("status",),
    _counts("breakages", "by_status"),
)
_windowed(
    "ops_breakage_open_ratio",
    "Unresolved breakage incidents / incidents (canceled left out)",
    (),
    _one("breakages", "open_rate"),
)
_windowed(
    "ops_breakage_repeat_incidents",
    "Breakage incidents repeating an earlier one (the breakage capability's definition)",
    (),
    _one("breakages", "repeats"),
)
_windowed(
    "ops_breakage_repeat_ratio",
    "Repeating breakage incidents / incidents",
    (),
    _one("breakages", "repeat_rate"),
)
_windowed(
    "ops_breakage_helpdesk_sends",
    "Breakage incidents of the window by helpdesk hand-over status",
    ("status",),
    _counts("breakages", "helpdesk_by_status"),
)
_windowed(
    "ops_breakage_helpdesk_failed_ratio",
    "Helpdesk sends failed or dead / sends that ended",
    (),
    _one("breakages", "helpdesk_failed_rate"),
)
_windowed(
    "ops_overlay_cache_requests",
    "Overlay component lookups of the window",
    (),
    _one("overlay_cache", "requests"),
)
_windowed(
    "ops_overlay_cache_hits",
    "Overlay component lookups the shared cache answered",
    (),
    _one("overlay_cache", "hits"),
)
_windowed(
    "ops_overlay_cache_hit_ratio",
    "Overlay cache hits / lookups",
    (),
    _one("overlay_cache", "hit_rate"),
)
_windowed("ops_queue_jobs", "Jobs enqueued in the window, by queue (job history)", ("queue",), _queues("total"))
_windowed(
    "ops_queue_failed_jobs",
    "Jobs of the window that failed, were stopped or lost, by queue",
    ("queue",),
    _queues("failed"),
)
_windowed("ops_queue_failed_ratio", "Failed jobs / jobs, by queue", ("queue",), _queues("failed_rate"))
_windowed(
    "ops_queue_duration_p50_seconds",
    "Median run time of the last attempt, by queue",
    ("queue",),
    _queues("duration_p50"),
)
_windowed(
    "ops_queue_duration_p95_seconds",
    "95th percentile run time of the last attempt, by queue",
    ("queue",),
    _queues("duration_p95"),
)
_windowed(
    "ops_queue_wait_p95_seconds",
    "95th percentile wait from enqueue to the last start, by queue",
    ("queue",),
    _queues("wait_p95"),
)


@scrape_gauge(
    "ops_queue_oldest_job_age_seconds",
    "Seconds the job at the head of the queue has waited (0 when the queue is empty)",
    ("queue",),
)
def oldest_job_ages() -> Rows:
    return queues.oldest_queued_ages()


@scrape_gauge(
    "ops_worker_heartbeat_age_seconds",
    "Seconds since the most silent registered RQ worker last heartbeat (no sample without workers)",
    (),
)
def heartbeat_age() -> Rows:
    ages = queues.heartbeat_ages()
    return [(max(ages),)] if ages else []


@scrape_gauge("ops_alerts", "Alerts of the overview firing now (7-day window, configured thresholds)", ("level",))
def alerts_by_level() -> Rows:
    fired = alerts.alerts(ALERT_WINDOW, thresholds.configured(), figures=_summaries()[ALERT_WINDOW])
    return [(level, sum(a["level"] == level for a in fired)) for level in alerts.LEVELS]
