"""Items metrics (docs/metrics.md)."""

from prometheus_client import Histogram

BOM_COMPARE_SECONDS = Histogram(
    "bom_compare_seconds",
    "BOM compare time (both explosions and the diff) by mode",
    ["mode"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
