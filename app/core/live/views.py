"""GET /ws: subscribe to topics, receive JSON events.

Client messages: {"action": "subscribe" | "unsubscribe", "topics": [...]}.
Each socket holds two threads (the request's, which sends, and a reader);
both end when the client goes away.

Who may subscribe to what is the capabilities' rule (`Access` in their `CAPABILITY`, read
through `app.core.capability.may_subscribe`), checked at subscribe: a refused topic is answered
with an `error` message (code `forbidden`) and never subscribed. When the user's role or active
flag changes, the hub suspends the socket's topics (`user_changed`, see bus.py); the sender
re-checks them, answers `unsubscribed` for those now refused and `subscribed` again for the
rest (the page re-reads its state, as after any subscribe). A user who is gone or inactive has
the socket closed. A handshake whose `Origin` is not the app's own host (nor one of
`LIVE_ALLOWED_ORIGINS`) is refused with 403, session cookie or not.
"""

import json
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, request
from flask_login import current_user
from simple_websocket import ConnectionClosed

from app.core import capability
from app.core.auth.models import User
from app.core.errors import Forbidden
from app.core.live.bus import RECONNECT_MAX, WAKE, Hub, Subscriber, channel, make_event
from app.extensions import db, sock

MAX_TOPICS = 100  # per socket, in all
MAX_TOPIC_LENGTH = 200
READ_TIMEOUT = 5.0  # the reader re-checks the connection this often
SUBSCRIBE_ACK_WAIT = 5.0  # at most this long for the hub's Redis subscription before acknowledging

# the topics a user may see of those asked for; None when the user is gone or inactive
Authorize = Callable[[list[str]], list[str] | None]

bp = Blueprint("live", __name__)
_hub_lock = threading.Lock()


def hub() -> Hub:
    app = current_app
    with _hub_lock:
        if "live_hub" not in app.extensions:
            reconnect_max = app.config.get("LIVE_RECONNECT_MAX_SECONDS", RECONNECT_MAX)
            app.extensions["live_hub"] = Hub(app.config["REDIS_URL"], reconnect_max, channel())
    return app.extensions["live_hub"]


def origin_allowed(origin: str) -> bool:
    """The request's own host (any scheme: TLS may end at a proxy), or a listed origin."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # also "null" (sandboxed frames, file:// pages)
    if parts.netloc == request.host.lower():
        return True
    return f"{parts.scheme}://{parts.netloc}" in current_app.config.get("LIVE_ALLOWED_ORIGINS", [])


@bp.before_request
def check_origin() -> None:
    """Browsers always send Origin on a WebSocket handshake and send the session cookie with it
    from any site: a foreign page must not open the channel as the signed-in user."""
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin):
        raise Forbidden("This origin may not open the live channel.", {"origin": origin[:200]})


def authorizer(app: Flask, user_id: int) -> Authorize:
    """Checks topics for one user, re-reading the user each time (a role may have changed), in
    an app context of its own: its database session ends with each check."""

    def authorize(topics: list[str]) -> list[str] | None:
        with app.app_context():
            user = db.session.get(User, user_id)
            if user is None or not user.is_active:
                return None
            return [topic for topic in topics if capability.may_subscribe(user, topic)]

    return authorize


def _topics_of(raw: str) -> tuple[str | None, set[str]]:
    try:
        message = json.loads(raw)
        action, topics = message.get("action"), message.get("topics")
    except (ValueError, AttributeError):
        return None, set()
    if not isinstance(topics, list):
        return None, set()
    return action, {t for t in topics if isinstance(t, str) and 0 < len(t) <= MAX_TOPIC_LENGTH}


def _apply(subscriber: Subscriber, raw: str, authorize: Authorize) -> tuple[list[str], list[str]] | None:
    """Applies one client message; anything malformed is ignored. Returns the topics it
    subscribed and those it refused; None when the user may no longer use the socket."""
    action, named = _topics_of(raw)
    if action == "unsubscribe":
        with subscriber.lock:
            subscriber.topics -= named
            subscriber.stale -= named
        return [], []
    if action != "subscribe":
        return [], []
    while True:
        generation = subscriber.generation
        room = MAX_TOPICS - len(subscriber.topics) - len(subscriber.stale)
        fresh = sorted(named - subscriber.topics)[: max(room, 0)]
        allowed = authorize(fresh) if fresh else []
        if allowed is None:
            return None
        with subscriber.lock:
            if subscriber.generation != generation:
                continue  # the user changed while we checked: check again with what is true now
            subscriber.topics |= set(allowed)
        return allowed, [t for t in fresh if t not in allowed]


def _refusal(topics: list[str]) -> str:
    message = "You may not subscribe to these topics."
    return json.dumps(make_event("", "error", {"code": "forbidden", "message": message, "details": {"topics": topics}}))


def _acknowledge(subscriber: Subscriber, live_hub: Hub, topics: list[str]) -> None:
    """Tell the client its topics are live once this process listens on Redis, so
    the page re-reads its state then and misses no event published in between."""
    live_hub.connected.wait(SUBSCRIBE_ACK_WAIT)
    subscriber.offer(json.dumps(make_event("", "subscribed", {"topics": topics})))


def _recheck(subscriber: Subscriber, authorize: Authorize) -> list[str] | None:
    """The suspended topics the user may still see, given back to the socket; the messages to
    send about them. None when the user is gone or inactive."""
    generation = subscriber.generation
    stale = subscriber.take_stale()
    allowed = authorize(sorted(stale))  # also with none: it finds a user who is gone or inactive
    if allowed is None:
        return None
    with subscriber.lock:
        if subscriber.generation != generation:  # changed again meanwhile: the next wake re-checks
            subscriber.stale |= stale
            return []
        subscriber.topics |= set(allowed)
    messages = []
    if revoked := sorted(stale - set(allowed)):
        messages.append(json.dumps(make_event("", "unsubscribed", {"topics": revoked, "reason": "user_changed"})))
    if allowed:
        messages.append(json.dumps(make_event("", "subscribed", {"topics": allowed})))
    return messages


@sock.route("/ws", bp=bp)
def websocket(ws):
    authorize = authorizer(current_app._get_current_object(), current_user.id)
    subscriber = Subscriber(current_user.id)
    live_hub = hub()
    live_hub.register(subscriber)

    def read() -> None:
        try:
            # with a timeout, so a socket closed from our side cannot strand this thread
            while ws.connected:
                raw = ws.receive(timeout=READ_TIMEOUT)
                if raw is None:
                    continue
                outcome = _apply(subscriber, raw, authorize)
                if outcome is None:
                    break
                added, refused = outcome
                if refused:
                    subscriber.offer(_refusal(refused))
                if added:
                    _acknowledge(subscriber, live_hub, added)
        except ConnectionClosed:
            pass
        finally:
            subscriber.close()

    reader = threading.Thread(target=read, name="ws-reader", daemon=True)
    reader.start()
    try:
        _send(ws, subscriber, authorize)
    except (ConnectionClosed, OSError):  # OSError: the peer reset the connection mid-send
        pass
    finally:
        live_hub.unregister(subscriber)


def _send(ws, subscriber: Subscriber, authorize: Authorize) -> None:
    while (message := subscriber.outbox.get()) is not None:
        if subscriber.stale or message == WAKE:  # a wake may have been dropped from a full outbox
            messages = _recheck(subscriber, authorize)
            if messages is None:
                return
            for each in messages:
                ws.send(each)
        if message != WAKE:
            ws.send(message)
