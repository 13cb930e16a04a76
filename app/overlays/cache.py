"""The shared cache of component lookups, in Redis so every web process agrees.

One hash per overlay revision and role, `<ns>:overlay:<token>:<revision>:<role>`, field ref ->
the lookup's JSON: a batch is one HMGET, its misses one HSET. The overlay's random `token`
names it (never its id, which a recreated database gives again) and every write bumps the
revision, so a lookup computed just before a write and stored just after it lands under a key
nobody reads; the write also deletes the overlay's keys once it commits (`forget`). Keys
expire after OVERLAY_CACHE_SECONDS, which bounds how long an item, ECO or incident change
takes to show. Without Redis every lookup is computed (and counted a miss): never an error.
"""

from datetime import date

from flask import current_app
from redis.exceptions import RedisError

from app.core import rediskeys
from app.core.timeutil import utcnow
from app.extensions import redis_client


def _key(token: str, revision: int | str, role: str) -> str:
    return rediskeys.key("overlay", token, revision, role)


def get_many(token: str, revision: int, role: str, refs: list[str]) -> list[bytes | None]:
    if not refs:
        return []
    try:
        return redis_client().hmget(_key(token, revision, role), refs)
    except RedisError:
        return [None] * len(refs)


def put_many(token: str, revision: int, role: str, values: dict[str, str]) -> None:
    if not values:
        return
    key = _key(token, revision, role)
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.hset(key, mapping=values)
        pipe.expire(key, current_app.config["OVERLAY_CACHE_SECONDS"])
        pipe.execute()
    except RedisError:
        pass


def forget(token: str) -> None:
    """Drop every cached lookup of the overlay (all revisions, all roles)."""
    try:
        client = redis_client()
        keys = list(client.scan_iter(match=_key(token, "*", "*"), count=500))
        if keys:
            client.delete(*keys)
    except RedisError:
        pass


STATS_TTL_SECONDS = 100 * 86400  # past the overview's longest window (90 days)


def stats_key(day: date) -> str:
    """The day's lookup counts (UTC), fields `hits` and `misses`: the overview sums a window of them."""
    return rediskeys.key("overlay-cache-stats", day.isoformat())


def count_requests(hits: int, misses: int) -> None:
    """Adds one lookup batch's hits and misses to today's counts; without Redis they are lost
    (the lookups themselves never fail for it)."""
    key = stats_key(utcnow().date())
    try:
        pipe = redis_client().pipeline(transaction=False)
        if hits:
            pipe.hincrby(key, "hits", hits)
        if misses:
            pipe.hincrby(key, "misses", misses)
        pipe.expire(key, STATS_TTL_SECONDS)
        pipe.execute()
    except RedisError:
        pass
