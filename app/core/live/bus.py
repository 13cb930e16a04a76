"""Publishing, and the per-process hub that feeds sockets.

A slow socket never blocks anyone: each socket has a bounded queue and, when
it is full, the oldest event is dropped (the page re-reads state anyway). The
hub's Redis subscription reconnects with backoff, so the channel survives a
Redis restart; the hub runs while at least one socket is open.
"""

import json
import logging
import queue
import threading
import time
from typing import Any

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.core.timeutil import utcnow

log = logging.getLogger(__name__)

CHANNEL = "forgeline:events"
SOCKET_BUFFER = 500
RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0
POLL_SECONDS = 1.0  # how soon an idle hub notices that its last socket has gone


def make_event(topic: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "topic": topic, "ts": utcnow().isoformat(), "data": data}


def publish(topic: str, type_: str, data: dict[str, Any], *, strict: bool = False) -> None:
    """Fire and forget: a live event must never fail the work that caused it.
    `strict` re-raises a Redis error, for callers whose job *is* the event."""
    message = json.dumps(make_event(topic, type_, data), default=str)
    try:
        current_app.extensions["redis"].publish(CHANNEL, message)
    except redis.RedisError as exc:
        if strict:
            raise
        log.warning("live: could not publish %s on %s: %s", type_, topic, exc)


def publish_many(topic: str, events: list[tuple[str, dict[str, Any]]], connection: redis.Redis | None = None) -> None:
    """Several events on one topic in one round trip; like publish(), never fails the caller.
    `connection` lets threads without an app context publish."""
    client = connection if connection is not None else current_app.extensions["redis"]
    pipe = client.pipeline(transaction=False)
    for type_, data in events:
        pipe.publish(CHANNEL, json.dumps(make_event(topic, type_, data), default=str))
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("live: could not publish %d events on %s: %s", len(events), topic, exc)


def publish_on_commit(topic: str, type_: str, data: dict[str, Any]) -> None:
    """Publish when the current database transaction commits (never if it rolls back), so
    a page that re-reads on the event sees the change it announces."""
    from app.core import txn

    txn.on_commit(lambda: publish(topic, type_, data))


class Subscriber:
    """One socket's topics and outbox."""

    def __init__(self) -> None:
        # replaced whole, never mutated in place: the hub reads it without a lock
        self.topics: frozenset[str] = frozenset()
        self.outbox: queue.Queue[str | None] = queue.Queue(maxsize=SOCKET_BUFFER)
        self.dropped = 0

    def offer(self, message: str | None) -> None:
        while True:
            try:
                self.outbox.put_nowait(message)
                return
            except queue.Full:
                try:
                    self.outbox.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def close(self) -> None:
        self.offer(None)  # wakes the sender so it can stop


class Hub:
    """One per web process: a thread listening on Redis, started with the first
    socket and ended after the last one."""

    def __init__(self, redis_url: str, reconnect_max: float = RECONNECT_MAX) -> None:
        self.redis_url = redis_url
        self.reconnect_max = reconnect_max
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.connected = threading.Event()  # subscribed on Redis right now

    def register(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.subscribers.add(subscriber)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._listen, name="live-hub", daemon=True)
                self.thread.start()

    def unregister(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.subscribers.discard(subscriber)

    def dispatch(self, message: str) -> None:
        try:
            topic = json.loads(message)["topic"]
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            targets = [s for s in self.subscribers if topic in s.topics]
        for subscriber in targets:
            subscriber.offer(message)

    def _retire_if_idle(self) -> bool:
        """True when no socket is left; the thread must then return (a later
        register() starts a new one)."""
        with self.lock:
            if self.subscribers:
                return False
            self.thread = None
            return True

    def _listen(self) -> None:
        backoff = RECONNECT_MIN
        while not self._retire_if_idle():
            # No retries inside redis-py: this loop owns the backoff, and a blocked
            # retry would delay noticing that the last socket has gone.
            client = redis.Redis.from_url(
                self.redis_url,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=5,
                socket_keepalive=True,
                health_check_interval=25,
            )
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(CHANNEL)
                while not self._retire_if_idle():
                    item = pubsub.get_message(timeout=POLL_SECONDS)
                    if item is None:
                        continue
                    if item["type"] == "subscribe":
                        self.connected.set()
                        backoff = RECONNECT_MIN
                    elif item["type"] == "message":
                        data = item["data"]
                        self.dispatch(data.decode() if isinstance(data, bytes) else data)
                return
            except redis.RedisError as exc:
                log.warning("live: Redis subscription lost (%s); retrying in %.1fs", exc, backoff)
            except Exception:  # the hub must outlive any one bad message or client bug
                log.exception("live: hub error; retrying in %.1fs", backoff)
            finally:
                self.connected.clear()
                pubsub.close()
                client.close()
            time.sleep(backoff)
            backoff = min(backoff * 2, self.reconnect_max)
