"""Optimization figures over a window (the parallel-ops overview reads them from here;
docs/ops.md). An optimization counts when it was submitted (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core.rates import by_status
from app.optimization.models import Optimization, OptimizationStatus


def optimizations(start: datetime, end: datetime) -> dict[str, Any]:
    """Optimizations in the window: total, by status, failed and the failed rate over the total."""
    return by_status(
        Optimization.status, Optimization.created_at, start, end, OptimizationStatus, (OptimizationStatus.failed,)
    )
