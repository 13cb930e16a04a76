"""Helpers shared by tests of several capabilities (fixtures shared so live in conftest.py)."""

import json
import time
import uuid

import pytest

from app.core import live


def assert_error_shape(response) -> None:
    body = response.get_json()
    assert body is not None, f"{response.request.path}: not JSON"
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def send(ws, action, *topics):
    ws.send(json.dumps({"action": action, "topics": list(topics)}))


def next_event(ws, timeout=3.0):
    """The next event that is not a probe, or None when none comes in time."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        raw = ws.receive(timeout=left)
        if raw is None:
            return None
        event = json.loads(raw)
        if event["type"] not in ("probe", "subscribed"):
            return event
    return None


def until_live(ws, topic, timeout=5.0):
    """Publishes probes until one comes back: the hub listens on Redis and the
    socket's subscription is in force. Later probes are skipped by next_event."""
    # a probe of this call only: one left over from an earlier call proves nothing about now
    nonce = uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live.publish(topic, "probe", {"nonce": nonce})
        raw = ws.receive(timeout=0.1)
        event = json.loads(raw) if raw is not None else {}
        if event.get("type") == "probe" and event["data"] == {"nonce": nonce}:
            return
    pytest.fail(f"no event reached the socket on {topic!r} within {timeout}s")
