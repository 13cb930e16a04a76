"""Work-order metrics for Prometheus (docs/metrics.md): pack exports by how they ended
(`done`: written, `cached`: an unchanged pack reused, `failed`) and how long they took."""

from prometheus_client import Counter, Histogram

PACK_EXPORTS = Counter("workorder_pack_exports", "Work-order document pack exports, by outcome", ["status"])
PACK_EXPORT_SECONDS = Histogram(
    "workorder_pack_export_seconds",
    "Time to build a work-order document pack (a reused unchanged pack included)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
