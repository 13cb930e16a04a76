"""Flow run figures over a window (the parallel-ops overview reads them from here; docs/ops.md).
A run counts when it was created in [start, end)."""

from datetime import datetime
from typing import Any

from app.core.rates import by_status
from app.engine.runtime import RunStatus
from app.flows.models import FlowRun


def runs(start: datetime, end: datetime) -> dict[str, Any]:
    """Runs in the window: total, by status, failed and the failed rate over the total."""
    return by_status(FlowRun.status, FlowRun.created_at, start, end, RunStatus, (RunStatus.FAILED,))
