"""The parallel-ops summary: one section per area, each figure computed by the capability that
owns it (its figures module); this module only picks the window and puts the sections together.
docs/ops.md says where each figure comes from."""

from datetime import datetime, timedelta
from typing import Any

from app.breakages import figures as breakage_figures
from app.breakages.models import UNRESOLVED, IncidentStatus
from app.consumption import figures as consumption_figures
from app.core.jobs import history
from app.core.rates import ratio
from app.core.timeutil import utcnow
from app.docsync import figures as docsync_figures
from app.eco import figures as eco_figures
from app.flows import figures as flow_figures
from app.items import figures as item_figures
from app.optimization import figures as optimization_figures
from app.overlays import figures as overlay_figures
from app.workorders import figures as workorder_figures

WINDOWS = (1, 7, 14, 30, 90)
DEFAULT_WINDOW = 7


def breakages(days: int, end: datetime) -> dict[str, Any]:
    """Incidents in the window (canceled ones apart), how many are still unresolved and their
    share, the breakage capability's own repeat rate, and the helpdesk sends."""
    figures = breakage_figures.rolled_up(breakage_figures.window(days, end))
    by_status, repeat, helpdesk = figures["by_status"], figures["repeat"], figures["helpdesk"]
    total = sum(n for status, n in by_status.items() if status != IncidentStatus.canceled)
    open_ = sum(by_status[status] for status in UNRESOLVED)
    return {
        "total": total,
        "by_status": by_status,
        "open": open_,
        "open_rate": ratio(open_, total),
        "repeats": repeat["repeats"],
        "repeat_rate": repeat["rate"] if repeat["incidents"] else None,
        "helpdesk_by_status": helpdesk["by_status"],
        "helpdesk_failed_rate": helpdesk["failed_rate"],
    }


def summary(window_days: int = DEFAULT_WINDOW, end: datetime | None = None) -> dict[str, Any]:
    end = end or utcnow()
    start = end - timedelta(days=window_days)
    return {
        "window": {"days": window_days, "start": start, "end": end},
        "doc_sync": docsync_figures.jobs(start, end),
        "workflow_runs": eco_figures.runs(start, end),
        "flow_runs": flow_figures.runs(start, end),
        "optimizations": optimization_figures.optimizations(start, end),
        "exports": {
            "bom_delta": item_figures.exports(start, end),
            "workorder_packs": workorder_figures.packs(start, end),
        },
        "breakages": breakages(window_days, end),
        "consumption": consumption_figures.consumption(start, end),
        "overlay_cache": overlay_figures.cache_requests(start, end),
        "job_history": history.queue_figures(start, end),
    }
