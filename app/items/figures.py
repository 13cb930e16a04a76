"""BOM compare (delta) export figures over a window (the parallel-ops overview reads them from
here; docs/ops.md). An export counts when it was requested (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import by_status, by_status_per_bucket
from app.items.models import ExportStatus

# the overview's rollup (app/core/rollup.py): exports per request hour and status
ROLLUP = rollup.of_status("rollup_bom_exports", "bom_exports", "created_at")
FAILED = (ExportStatus.failed,)


def exports(start: datetime, end: datetime) -> dict[str, Any]:
    """Background BOM delta exports in the window: total, by status, failed and the failed rate."""
    return by_status(ROLLUP, start, end, ExportStatus, FAILED)


def exports_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: BOM delta exports requested in it (total) and how many failed."""
    return by_status_per_bucket(ROLLUP, buckets, FAILED)
