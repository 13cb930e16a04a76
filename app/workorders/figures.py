"""Work-order pack export figures over a window (the parallel-ops overview reads them from
here; docs/ops.md). A pack counts when it was requested (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core.rates import by_status
from app.workorders.models import Pack, PackStatus


def packs(start: datetime, end: datetime) -> dict[str, Any]:
    """Pack exports in the window: total, by status, failed and the failed rate over the total."""
    return by_status(Pack.status, Pack.created_at, start, end, PackStatus, (PackStatus.failed,))
