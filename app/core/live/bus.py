"""Publishing, and the per-process hub that feeds sockets.

A slow socket never blocks anyone: each socket has a bounded queue and, when
it is full, the oldest event is dropped (the page re-reads state anyway). The
hub's Redis subscription reconnects with backoff, so the channel survives a
Redis restart; the hub runs while at least one socket is open.

When a user's role or active flag changes, `user_changed` goes out on the topic
`user:<id>` (no socket may subscribe to it): the hub takes every topic off that
user's sockets at once, and each socket re-checks them against the new role
before it gets back those it may still see (app/core/live/views.py).
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

from app.core import rediskeys
from app.core.timeutil import utcnow

log = logging.getLogger(__name__)

SOCKET_BUFFER = 500
RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0
POLL_SECONDS = 1.0  # how soon an idle hub notices that its last socket has gone


def channel() -> str:
    """The deployment's pub/sub channel, `<REDIS_NAMESPACE>:events` (pub/sub ignores the db number)."""
    return rediskeys.key("events")


def make_event(topic: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "topic": topic, "ts": utcnow().isoformat(), "data": data}


def publish(topic: str, type_: str, data: dict[str, Any], *, strict: bool = False) -> None:
    """Fire and forget: a live event must never fail the work that caused it.
    `strict` re-raises a Redis error, for callers whose job *is* the event."""
    message = json.dumps(make_event(topic, type_, data), default=str)
    try:
        current_app.extensions["redis"].publish(channel(), message)
    except redis.RedisError as exc:
        if strict:
            raise
        log.warning("live: could not publish %s on %s: %s", type_, topic, exc)


def publish_many(
    topic: str,
    events: list[tuple[str, dict[str, Any]]],
    connection: redis.Redis | None = None,
    channel_name: str | None = None,
) -> None:
    """Several events on one topic in one round trip; like publish(), never fails the caller.
    `connection` and `channel_name` (both read from the app beforehand) let threads without an
    app context publish."""
    client = connection if connection is not None else current_app.extensions["redis"]
    name = channel_name or channel()
    pipe = client.pipeline(transaction=False)
    for type_, data in events:
        pipe.publish(name, json.dumps(make_event(topic, type_, data), default=str))
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("live: could not publish %d events on %s: %s", len(events), topic, exc)


def publish_on_commit(topic: str, type_: str, data: dict[str, Any]) -> None:
    """Publish when the current database transaction commits (never if it rolls back), so
    a page that re-reads on the event sees the change it announces."""
    from app.core import txn

    txn.on_commit(lambda: publish(topic, type_, data))


USER_TOPIC = "user"  # `user:<id>`: the hub's own, for `user_changed`
USER_CHANGED = "user_changed"
WAKE = ""  # put in an outbox to make its sender look at `Subscriber.stale`; never sent


def user_changed(user_id: int) -> None:
    """After the commit of a role or active-flag change: sockets of that user re-check their topics."""
    publish_on_commit(f"{USER_TOPIC}:{user_id}", USER_CHANGED, {"id": user_id})


class Subscriber:
    """One socket's topics and outbox."""

    def __init__(self, user_id: int | None = None) -> None:
        self.user_id = user_id
        # replaced whole, never mutated in place: the hub reads it without a lock
        self.topics: frozenset[str] = frozenset()
        self.outbox: queue.Queue[str | None] = queue.Queue(maxsize=SOCKET_BUFFER)
        self.dropped = 0
        self.lock = threading.Lock()  # around changes of `topics`, `stale` and `generation`
        self.generation = 0  # moves whenever the hub suspends the topics
        self.stale: frozenset[str] = frozenset()  # suspended topics, waiting for their re-check

    def suspend(self) -> None:
        """The user changed: no event reaches this socket until its topics are checked again."""
        with self.lock:
            self.stale |= self.topics
            self.topics = frozenset()
            self.generation += 1
        self.offer(WAKE)

    def take_stale(self) -> frozenset[str]:
        with self.lock:
            stale, self.stale = self.stale, frozenset()
        return stale

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

    def __init__(
        self, redis_url: str, reconnect_max: float = RECONNECT_MAX, channel_name: str = "forgeline:events"
    ) -> None:
        self.redis_url = redis_url
        self.channel = channel_name
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
            event = json.loads(message)
            topic = event["topic"]
        except (ValueError, KeyError, TypeError):
            return
        if topic.startswith(f"{USER_TOPIC}:"):
            self._user_changed(event)
            return
        with self.lock:
            targets = [s for s in self.subscribers if topic in s.topics]
        for subscriber in targets:
            subscriber.offer(message)

    def _user_changed(self, event: dict[str, Any]) -> None:
        if event.get("type") != USER_CHANGED or not isinstance(event.get("data"), dict):
            return
        user_id = event["data"].get("id")
        with self.lock:
            targets = [s for s in self.subscribers if s.user_id is not None and s.user_id == user_id]
        for subscriber in targets:
            subscriber.suspend()

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
                pubsub.subscribe(self.channel)
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
