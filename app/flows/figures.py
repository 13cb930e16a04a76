"""Flow run figures over a window (the parallel-ops overview reads them from here; docs/ops.md).
A run counts when it was created in [start, end)."""

from datetime import datetime
from typing import Any

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import by_status, by_status_per_bucket
from app.engine.runtime import RunStatus

# the overview's rollup (app/core/rollup.py): runs per creation hour and status
ROLLUP = rollup.of_status("rollup_flow_runs", "flow_runs", "created_at")
FAILED = (RunStatus.FAILED,)


def runs(start: datetime, end: datetime) -> dict[str, Any]:
    """Runs in the window: total, by status, failed and the failed rate over the total."""
    return by_status(ROLLUP, start, end, RunStatus, FAILED)


def runs_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: runs created in it (total) and how many failed."""
    return by_status_per_bucket(ROLLUP, buckets, FAILED)
