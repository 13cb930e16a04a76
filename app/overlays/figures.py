"""Overlay cache figures over a window (the parallel-ops overview reads them from here;
docs/ops.md). The counts are kept per UTC day in Redis (cache.count_requests), so a window
counts every day it touches, from the day of its start to the day of its end."""

from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from app.core.rates import ratio
from app.extensions import redis_client
from app.overlays import cache


def cache_requests(start: datetime, end: datetime) -> dict[str, Any]:
    """Lookups (one per ref) and hits over the window's days, one HMGET per day in one round
    trip; the hit rate is hits / lookups, None with no lookup (or no Redis: `available` false)."""
    days = [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]
    try:
        pipe = redis_client().pipeline(transaction=False)
        for day in days:
            pipe.hmget(cache.stats_key(day), ["hits", "misses"])
        counted = pipe.execute()
    except RedisError:
        return {"requests": 0, "hits": 0, "hit_rate": None, "available": False}
    hits = sum(int(h or 0) for h, _ in counted)
    requests = hits + sum(int(m or 0) for _, m in counted)
    return {"requests": requests, "hits": hits, "hit_rate": ratio(hits, requests), "available": True}
