"""GET /ws: subscribe to topics, receive JSON events.

Client messages: {"action": "subscribe" | "unsubscribe", "topics": [...]}.
Each socket holds two threads (the request's, which sends, and a reader);
both end when the client goes away.
"""

import json
import threading

from flask import Blueprint, current_app
from simple_websocket import ConnectionClosed

from app.core.live.bus import RECONNECT_MAX, Hub, Subscriber, make_event
from app.extensions import sock

MAX_TOPICS = 100  # per socket, in all
MAX_TOPIC_LENGTH = 200
READ_TIMEOUT = 5.0  # the reader re-checks the connection this often
SUBSCRIBE_ACK_WAIT = 5.0  # at most this long for the hub's Redis subscription before acknowledging

bp = Blueprint("live", __name__)
_hub_lock = threading.Lock()


def hub() -> Hub:
    app = current_app
    with _hub_lock:
        if "live_hub" not in app.extensions:
            reconnect_max = app.config.get("LIVE_RECONNECT_MAX_SECONDS", RECONNECT_MAX)
            app.extensions["live_hub"] = Hub(app.config["REDIS_URL"], reconnect_max)
    return app.extensions["live_hub"]


def _apply(subscriber: Subscriber, raw: str) -> list[str]:
    """Applies one client message; anything malformed is ignored. Returns the topics it subscribed."""
    try:
        message = json.loads(raw)
        action, topics = message.get("action"), message.get("topics")
    except (ValueError, AttributeError):
        return []
    if not isinstance(topics, list):
        return []
    named = {t for t in topics if isinstance(t, str) and 0 < len(t) <= MAX_TOPIC_LENGTH}
    if action == "subscribe":
        room = MAX_TOPICS - len(subscriber.topics)
        added = sorted(named - subscriber.topics)[: max(room, 0)]
        subscriber.topics |= set(added)
        return added
    if action == "unsubscribe":
        subscriber.topics -= named
    return []


def _acknowledge(subscriber: Subscriber, live_hub: Hub, topics: list[str]) -> None:
    """Tell the client its topics are live once this process listens on Redis, so
    the page re-reads its state then and misses no event published in between."""
    live_hub.connected.wait(SUBSCRIBE_ACK_WAIT)
    subscriber.offer(json.dumps(make_event("", "subscribed", {"topics": topics})))


@sock.route("/ws", bp=bp)
def websocket(ws):
    subscriber = Subscriber()
    live_hub = hub()
    live_hub.register(subscriber)

    def read() -> None:
        try:
            # with a timeout, so a socket closed from our side cannot strand this thread
            while ws.connected:
                raw = ws.receive(timeout=READ_TIMEOUT)
                if raw is not None and (added := _apply(subscriber, raw)):
                    _acknowledge(subscriber, live_hub, added)
        except ConnectionClosed:
            pass
        finally:
            subscriber.close()

    reader = threading.Thread(target=read, name="ws-reader", daemon=True)
    reader.start()
    try:
        while (message := subscriber.outbox.get()) is not None:
            ws.send(message)
    except (ConnectionClosed, OSError):  # OSError: the peer reset the connection mid-send
        pass
    finally:
        live_hub.unregister(subscriber)
