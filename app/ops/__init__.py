"""Parallel-ops overview (the operator's home): one place that says whether background work
across the product is healthy. Summary and trends (each figure read from the capability that owns
it), alerts from a thresholds table, failure tables with replay, exports, `ops_*` gauges and the
ops switches; docs/ops.md."""

from app.core.auth.roles import OPERATOR
from app.core.capability import OPERATIONS, Access, Capability, NavEntry

CAPABILITY = Capability(
    "ops",
    nav=(NavEntry("Overview", "ops.index", OPERATOR, order=50, group=OPERATIONS),),
    access=(Access("ops", OPERATOR),),  # `ops:jobs`, the end of every job (history.OPS_TOPIC)
    hooks=(("job_enqueue", "app.ops.switches.on_job_enqueue"),),
)
