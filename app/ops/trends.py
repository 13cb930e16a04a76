"""The parallel-ops trends: per time bucket of the window, the totals and failures of each area,
one grouped query per area (each area's figures module has the `..._by_bucket` twin of its
summary function). docs/ops.md names the time column of each."""

from datetime import datetime, timedelta
from typing import Any

from app.breakages import figures as breakage_figures
from app.core.buckets import Buckets
from app.core.jobs import history
from app.core.timeutil import utcnow
from app.docsync import figures as docsync_figures
from app.eco import figures as eco_figures
from app.flows import figures as flow_figures
from app.items import figures as item_figures
from app.ops.summary import DEFAULT_WINDOW
from app.optimization import figures as optimization_figures
from app.workorders import figures as workorder_figures

BUCKETS = (1, 7, 14, 30)
DEFAULT_BUCKET = 1


def trends(window_days: int = DEFAULT_WINDOW, bucket_days: int = DEFAULT_BUCKET, end: datetime | None = None):
    """The buckets of the window (oldest first), each with its start, end and per area counts;
    the caller has checked that the bucket is no longer than the window."""
    end = end or utcnow()
    buckets = Buckets(end - timedelta(days=window_days), end, bucket_days)
    areas: dict[str, list[Any]] = {
        "doc_sync": docsync_figures.jobs_by_bucket(buckets),
        "workflow_runs": eco_figures.runs_by_bucket(buckets),
        "flow_runs": flow_figures.runs_by_bucket(buckets),
        "optimizations": optimization_figures.optimizations_by_bucket(buckets),
        "bom_delta": item_figures.exports_by_bucket(buckets),
        "workorder_packs": workorder_figures.packs_by_bucket(buckets),
        "breakages": breakage_figures.by_bucket(buckets),
    }
    queues = history.queue_figures_by_bucket(buckets)
    return {
        "window": {"days": window_days, "start": buckets.start, "end": end},
        "bucket_days": bucket_days,
        "buckets": [
            {
                "start": start,
                "end": stop,
                "doc_sync": areas["doc_sync"][i],
                "workflow_runs": areas["workflow_runs"][i],
                "flow_runs": areas["flow_runs"][i],
                "optimizations": areas["optimizations"][i],
                "exports": {"bom_delta": areas["bom_delta"][i], "workorder_packs": areas["workorder_packs"][i]},
                "breakages": areas["breakages"][i],
                "job_history": {queue: counts[i] for queue, counts in queues.items()},
            }
            for i, (start, stop) in enumerate(buckets.bounds())
        ],
    }
