"""Overlay metrics for Prometheus (docs/metrics.md): the component lookup cache's hits and
misses, one per ref looked up (a batch of 1,000 counts 1,000). `result` is hit or miss: bounded."""

from prometheus_client import Counter

CACHE_REQUESTS = Counter(
    "overlay_cache_requests", "Component lookups by whether the shared cache answered them", ["result"]
)
HIT, MISS = "hit", "miss"
