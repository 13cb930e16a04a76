"""Flow metrics (docs/metrics.md): labels are flow and routine names (bounded by the
flows defined), never run ids."""

from prometheus_client import Counter

ROUTINE_EXECUTIONS = Counter(
    "routine_executions", "Routine activations by flow, routine and outcome", ["flow", "routine", "status"]
)
FLOW_RUNS = Counter("flow_runs", "Flow runs ended, by final status", ["status"])
SLOT_BACKPRESSURE_WAITS = Counter(
    "slot_backpressure_waits", "Times an emitter waited for room in a full slot", ["flow"]
)
