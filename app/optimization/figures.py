"""Optimization figures over a window (the parallel-ops overview reads them from here;
docs/ops.md). An optimization counts when it was submitted (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import by_status, by_status_per_bucket
from app.optimization.models import OptimizationStatus

# the overview's rollup (app/core/rollup.py): optimizations per submission hour and status
ROLLUP = rollup.of_status("rollup_optimizations", "optimization", "created_at")
FAILED = (OptimizationStatus.failed,)


def optimizations(start: datetime, end: datetime) -> dict[str, Any]:
    """Optimizations in the window: total, by status, failed and the failed rate over the total."""
    return by_status(ROLLUP, start, end, OptimizationStatus, FAILED)


def optimizations_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: optimizations submitted in it (total) and how many failed."""
    return by_status_per_bucket(ROLLUP, buckets, FAILED)
