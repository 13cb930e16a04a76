"""ECO metrics (docs/metrics.md)."""

from prometheus_client import Counter

ECO_TRANSITIONS = Counter(
    "eco_transitions", "ECO stage moves and applies by result (moved, blocked, failed)", ["result"]
)
WORKFLOW_ACTION_RUNS = Counter(
    "workflow_action_runs", "Workflow rule runs recorded, by action and status", ["action", "status"]
)
