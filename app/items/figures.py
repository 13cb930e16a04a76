"""BOM compare (delta) export figures over a window (the parallel-ops overview reads them from
here; docs/ops.md). An export counts when it was requested (created) in [start, end)."""

from datetime import datetime
from typing import Any

from app.core.rates import by_status
from app.items.models import BomExport, ExportStatus


def exports(start: datetime, end: datetime) -> dict[str, Any]:
    """Background BOM delta exports in the window: total, by status, failed and the failed rate."""
    return by_status(BomExport.status, BomExport.created_at, start, end, ExportStatus, (ExportStatus.failed,))
