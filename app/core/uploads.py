"""Uploaded text kept between a preview and its commit (a CSV import): in Redis for STASH_TTL,
named by a random token the commit form sends instead of the whole file (which would make the
preview page as large as the file)."""

import secrets

from redis.exceptions import RedisError

from app.core import rediskeys
from app.extensions import redis_client

STASH_TTL = 3600  # seconds between a preview and its commit
MAX_TOKEN = 64


def stash(text: str) -> str | None:
    """The token the text is kept under; None when Redis cannot keep it (the form carries the text)."""
    token = secrets.token_urlsafe(24)
    try:
        redis_client().set(rediskeys.key("upload", token), text.encode(), ex=STASH_TTL)
    except RedisError:
        return None
    return token


def stashed(token: str) -> str | None:
    """The text kept under `token`, or None when it expired (or never was)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        raw = redis_client().get(rediskeys.key("upload", token))
    except RedisError:
        return None
    return raw.decode("utf-8", errors="replace") if raw is not None else None
