"""Workflow action run figures over a window, computed in SQL (the parallel-ops overview reads
them from here; docs/ops.md states each in words). A run counts when it started in [start, end)."""

from datetime import datetime
from typing import Any

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import by_status_per_bucket, ratio
from app.eco.models import ActionRunStatus

# the overview's rollup (app/core/rollup.py): runs per start hour, status and result code
RUNS = rollup.Rollup(
    "rollup_workflow_runs",
    "workflow_runs",
    "started_at",
    dims=(("status", "{r}.status", "text"), ("result_code", "{r}.result_code", "text")),
)


def runs(start: datetime, end: datetime) -> dict[str, Any]:
    """Runs in the window: total, by status, by result code; failed and warning rates over the total."""
    groups = rollup.grouped(RUNS, start, end)
    by_status = dict.fromkeys((s.value for s in ActionRunStatus), 0)
    by_result: dict[str, int] = {}
    for status, code, n in groups:
        by_status[status] = by_status.get(status, 0) + n
        by_result[code] = by_result.get(code, 0) + n
    total = sum(by_status.values())
    return {
        "total": total,
        "by_status": by_status,
        "by_result_code": dict(sorted(by_result.items())),
        "failed_rate": ratio(by_status[ActionRunStatus.failed], total),
        "warning_rate": ratio(by_status[ActionRunStatus.warning], total),
    }


def runs_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: runs started in it (total) and how many failed."""
    return by_status_per_bucket(RUNS, buckets, (ActionRunStatus.failed,))
