"""Publishing, and the per-process hub that feeds sockets.

A slow socket never blocks anyone: each socket has a bounded queue and, when
it is full, the oldest event is dropped (the page re-reads state anyway). The
hub's Redis subscription reconnects with backoff, so the channel survives a
Redis restart.
"""

import json
import logging
import queue
import threading
import time
from typing import Any

import redis
from flask import current_app

from app.core.timeutil import utcnow

log = logging.getLogger(__name__)

CHANNEL = "forgeline:events"
SOCKET_BUFFER = 500


def make_event(topic: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "topic": topic, "ts": utcnow().isoformat(), "data": data}


def publish(topic: str, type_: str, data: dict[str, Any]) -> None:
    """Fire and forget: a live event must never fail the work that caused it."""
    message = json.dumps(make_event(topic, type_, data), default=str)
    try:
        current_app.extensions["redis"].publish(CHANNEL, message)
    except redis.RedisError as exc:
        log.warning("live: could not publish %s on %s: %s", type_, topic, exc)


class Subscriber:
    """One socket's topics and outbox."""

    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.outbox: queue.Queue[str | None] = queue.Queue(maxsize=SOCKET_BUFFER)
        self.dropped = 0

    def offer(self, message: str) -> None:
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
    """One per web process: a thread listening on Redis, started with the first socket."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.connected = threading.Event()

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

    def _listen(self) -> None:
        backoff = 0.5
        while True:
            client = redis.Redis.from_url(self.redis_url, health_check_interval=25)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL)
                self.connected.set()
                backoff = 0.5
                for item in pubsub.listen():
                    if item["type"] == "message":
                        data = item["data"]
                        self.dispatch(data.decode() if isinstance(data, bytes) else data)
            except redis.RedisError as exc:
                log.warning("live: Redis subscription lost (%s); retrying in %.1fs", exc, backoff)
            finally:
                self.connected.clear()
                pubsub.close()
                client.close()
            time.sleep(backoff)
            backoff = min(backoff * 2, 10)
