"""GET /ws: subscribe to topics, receive JSON events.

Client messages: {"action": "subscribe" | "unsubscribe", "topics": [...]}.
"""

import json
import threading

from flask import Blueprint, current_app
from simple_websocket import ConnectionClosed

from app.core.live.bus import Hub, Subscriber
from app.extensions import sock

MAX_TOPICS = 100

bp = Blueprint("live", __name__)


def hub() -> Hub:
    app = current_app
    with _hub_lock:
        if "live_hub" not in app.extensions:
            app.extensions["live_hub"] = Hub(app.config["REDIS_URL"])
    return app.extensions["live_hub"]


_hub_lock = threading.Lock()


def _apply(subscriber: Subscriber, raw: str) -> None:
    try:
        message = json.loads(raw)
        topics = {str(t) for t in message.get("topics", [])}
        action = message.get("action")
    except (ValueError, AttributeError, TypeError):
        return
    if action == "subscribe":
        subscriber.topics |= set(list(topics)[:MAX_TOPICS])
    elif action == "unsubscribe":
        subscriber.topics -= topics


@sock.route("/ws", bp=bp)
def websocket(ws):
    subscriber = Subscriber()
    live_hub = hub()
    live_hub.register(subscriber)

    def read() -> None:
        try:
            while True:
                raw = ws.receive()
                if raw is not None:
                    _apply(subscriber, raw)
        except ConnectionClosed:
            pass
        finally:
            subscriber.close()

    reader = threading.Thread(target=read, name="ws-reader", daemon=True)
    reader.start()
    try:
        while (message := subscriber.outbox.get()) is not None:
            ws.send(message)
    except ConnectionClosed:
        pass
    finally:
        live_hub.unregister(subscriber)
