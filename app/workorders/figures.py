"""Work-order pack export figures over a window (the parallel-ops overview reads them from
here; docs/ops.md). A pack counts when it was requested (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import by_status, by_status_per_bucket
from app.workorders.models import PackStatus

# the overview's rollup (app/core/rollup.py): packs per request hour and status
ROLLUP = rollup.of_status("rollup_workorder_packs", "workorder_packs", "created_at")
FAILED = (PackStatus.failed,)


def packs(start: datetime, end: datetime) -> dict[str, Any]:
    """Pack exports in the window: total, by status, failed and the failed rate over the total."""
    return by_status(ROLLUP, start, end, PackStatus, FAILED)


def packs_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: work-order packs requested in it (total) and how many failed."""
    return by_status_per_bucket(ROLLUP, buckets, FAILED)
