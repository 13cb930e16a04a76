"""Optimization metrics (docs/metrics.md)."""

from prometheus_client import Counter, Histogram

from app.optimization.models import TaskStatus

# a grid point's outcome: a TaskStatus, or skipped (broke the constraint) / stopped (never ran)
TASK_OUTCOMES = (*(status.value for status in TaskStatus), "skipped", "stopped")
OPTIMIZATION_TASKS = Counter(
    "optimization_tasks",
    "Optimization grid points by outcome "
    "(skipped: broke the constraint; stopped: never ran, canceled or early-stopped)",
    ["status"],
)
for _outcome in TASK_OUTCOMES:
    OPTIMIZATION_TASKS.labels(_outcome)
OPTIMIZATION_EXPORT_SECONDS = Histogram(
    "optimization_export_seconds", "Time to build an optimization export zip", buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30)
)
