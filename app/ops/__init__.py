"""Parallel-ops overview (the operator's home): one place that says whether background work
across the product is healthy. Slice 1: the summary (summary.py), one section per area, each
figure read from the capability that owns it; its API and a page of cards. Trends, alerts,
failures, exports, gauges and live refresh come in later slices (docs/ops.md)."""

from app.core.auth.roles import OPERATOR
from app.core.capability import OPERATIONS, Access, Capability, NavEntry

CAPABILITY = Capability(
    "ops",
    nav=(NavEntry("Overview", "ops.index", OPERATOR, order=50, group=OPERATIONS),),
    access=(Access("ops", OPERATOR),),  # `ops:jobs`, the end of every job (history.OPS_TOPIC)
    hooks=(("job_enqueue", "app.ops.switches.on_job_enqueue"),),
)
