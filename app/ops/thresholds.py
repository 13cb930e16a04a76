"""The alert thresholds of the overview, with their documented defaults (docs/ops.md). Alerts
(alerts.py) and the Prometheus rules (docs/prometheus/alerts.yml, checked against these in the
tests) read the same table. Each can be overridden by configuration (`OPS_THRESHOLDS`, a JSON
object in the environment) and per request (`?<name>=`)."""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Threshold:
    name: str
    default: float
    minimum: float
    maximum: float | None  # None: no upper bound
    fires: Literal["above", "below"]  # strictly above (rates of failure) or strictly below (hit rates)
    description: str


THRESHOLDS = {
    t.name: t
    for t in (
        Threshold("dead_letter_rate", 0.05, 0, 1, "above", "doc-sync dead letters / sync jobs"),
        Threshold("workflow_failed_rate", 0.02, 0, 1, "above", "failed workflow action runs / runs"),
        Threshold("breakage_open_rate", 0.5, 0, 1, "above", "unresolved incidents / incidents"),
        Threshold("helpdesk_failed_rate", 0.5, 0, 1, "above", "failed helpdesk sends / ended sends"),
        Threshold("overlay_cache_hit_rate", 0.8, 0, 1, "below", "overlay cache hits / lookups"),
        Threshold("overlay_cache_min_requests", 10, 0, None, "above", "lookups before the hit rate counts"),
        Threshold("queue_backlog_minutes", 15, 0, None, "above", "age of the oldest queued job"),
        Threshold("worker_heartbeat_seconds", 120, 1, None, "above", "silence after which a worker is missing"),
    )
}
