"""The live channel end to end: a real HTTP server, real WebSocket clients, a
real Redis between publisher and hub. The database plays no part, so these run
on SQLite only."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest
import redis
from flask import request_finished
from simple_websocket import Client, ConnectionError

from app.config import ROOT
from app.core import live
from app.core.live.bus import SOCKET_BUFFER, Subscriber, make_event
from app.core.live.views import MAX_TOPICS, _apply
from tests.conftest import sign_in
from tests.helpers import next_event, send, until_live

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def server_socket_threads():
    names = [t.name for t in threading.enumerate()]
    return [n for n in names if n == "ws-reader" or "process_request_thread" in n]


@sqlite_only
def test_anonymous_and_bad_token_connections_are_refused(ws_url):
    for headers in (None, {"Authorization": "Bearer not-a-token"}):
        with pytest.raises(ConnectionError) as refused:
            Client.connect(ws_url, headers=headers)
        assert refused.value.status_code == 401


@sqlite_only
def test_signed_in_browser_gets_events_of_its_topics_only(app, client, make_user, connect):
    make_user("olga", "operator")
    sign_in(client, "olga")
    ws = connect(headers={"Cookie": f"session={client.get_cookie('session').value}"})
    send(ws, "subscribe", "job:abc")
    until_live(ws, "job:abc")

    live.publish("job:other", "job_started", {"id": "other"})
    live.publish("job:abc", "job_started", {"id": "abc", "progress": 0.25})
    event = next_event(ws)  # Redis keeps order: the other job's event would have come first
    assert set(event) == {"type", "topic", "ts", "data"}
    assert (event["type"], event["topic"]) == ("job_started", "job:abc")
    assert event["data"] == {"id": "abc", "progress": 0.25}
    assert datetime.fromisoformat(event["ts"]).utcoffset() == timedelta(0)

    # messages are applied in order, so once job:sync is live, job:abc is gone
    send(ws, "unsubscribe", "job:abc")
    send(ws, "subscribe", "job:sync")
    until_live(ws, "job:sync")
    live.publish("job:abc", "job_completed", {"id": "abc"})
    live.publish("job:sync", "marker", {})
    assert next_event(ws)["topic"] == "job:sync"
    assert next_event(ws, timeout=0.3) is None


@sqlite_only
def test_subscribing_is_acknowledged_once_events_of_the_topics_can_arrive(app, connect):
    ws = connect()
    send(ws, "subscribe", "job:ack")
    ack = json.loads(ws.receive(timeout=6))
    assert (ack["type"], ack["data"]) == ("subscribed", {"topics": ["job:ack"]})
    live.publish("job:ack", "job_started", {"id": "ack"})  # no probing: the ack is the promise
    assert next_event(ws)["data"] == {"id": "ack"}
    send(ws, "subscribe", "job:ack")  # nothing new: no second ack
    live.publish("job:ack", "marker", {})
    assert json.loads(ws.receive(timeout=3))["type"] == "marker"


@sqlite_only
def test_events_published_by_another_process_arrive(app, redis_server, connect):
    ws = connect()
    send(ws, "subscribe", "flow-run:7")
    until_live(ws, "flow-run:7")
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "x",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    script = (
        "from app import create_app; from app.core import live\n"
        "with create_app().app_context():\n"
        "    live.publish('flow-run:7', 'routine_started', {'routine': 'r1'})"
    )
    subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, timeout=30)
    event = next_event(ws, timeout=5)
    assert (event["type"], event["topic"]) == ("routine_started", "flow-run:7")
    assert event["data"] == {"routine": "r1"}

    # a publisher need not even load the app: the message on the channel is the contract
    raw = json.dumps(make_event("flow-run:7", "raw", {}))
    redis.Redis.from_url(redis_server.url).publish(live.channel(), raw)
    assert next_event(ws)["type"] == "raw"


def test_socket_outbox_is_bounded_and_drops_the_oldest():
    subscriber = Subscriber()
    for n in range(SOCKET_BUFFER + 25):
        subscriber.offer(str(n))
    assert subscriber.outbox.qsize() == SOCKET_BUFFER
    assert subscriber.dropped == 25
    assert subscriber.outbox.get_nowait() == "25"


def test_client_messages_cannot_grow_a_socket_without_bound():
    subscriber = Subscriber()
    for start in (0, MAX_TOPICS):
        topics = [f"job:{n}" for n in range(start, start + MAX_TOPICS)]
        _apply(subscriber, json.dumps({"action": "subscribe", "topics": topics}), lambda asked: asked)
    assert len(subscriber.topics) == MAX_TOPICS
    for garbage in (
        "not json",
        "[]",
        '{"action": "subscribe", "topics": "queue:ops"}',
        '{"action": "subscribe"}',
        json.dumps({"action": "unsubscribe", "topics": [None, 7, "x" * 1000]}),
    ):
        _apply(subscriber, garbage, lambda asked: asked)
    assert len(subscriber.topics) == MAX_TOPICS and "queue:ops" not in subscriber.topics


class _NeverReads:
    """Stands in for the client's reader thread, so nothing is read off the socket."""

    def __init__(self, target):
        self.name = "never-reads"

    def start(self):
        pass


@sqlite_only
def test_a_socket_that_never_reads_blocks_neither_publisher_nor_other_sockets(app, connect):
    stalled = connect(thread_class=_NeverReads)
    send(stalled, "subscribe", "queue:flood")
    reader = connect(receive_bytes=65536)
    send(reader, "subscribe", "queue:flood")
    hub = app.extensions["live_hub"]
    assert wait_for(lambda: sum("queue:flood" in s.topics for s in list(hub.subscribers)) == 2)
    until_live(reader, "queue:flood")

    pad = "x" * 2000  # enough to fill the kernel's socket buffers many times over
    slowest = 0.0
    started = time.monotonic()
    for seq in range(5000):
        t0 = time.monotonic()
        live.publish("queue:flood", "slot_queue_update", {"seq": seq, "pad": pad})
        slowest = max(slowest, time.monotonic() - t0)
    assert time.monotonic() - started < 10 and slowest < 0.5

    seen = []
    while (event := next_event(reader, timeout=5)) is not None:
        seen.append(event["data"]["seq"])
        if seen[-1] == 4999:
            break
    assert seen and seen[-1] == 4999 and seen == sorted(seen)

    [outbox] = [s for s in list(hub.subscribers) if s.dropped]
    assert outbox.outbox.qsize() <= SOCKET_BUFFER

    # when the stalled client goes away (resetting the connection mid-send), its
    # server side ends cleanly, not as an internal error (a 5xx on /ws in metrics and logs)
    finished = []

    def record(sender, response, **extra):
        finished.append(response.status_code)

    with request_finished.connected_to(record, app):
        stalled.sock.close()  # with unread data: a reset, no close frame
        assert wait_for(lambda: outbox not in hub.subscribers and finished)
    assert finished == [200]


@sqlite_only
@pytest.mark.config(LIVE_RECONNECT_MAX_SECONDS=0.5)
def test_the_same_socket_keeps_receiving_across_a_redis_restart(app, redis_server, connect):
    ws = connect()
    send(ws, "subscribe", "queue:ops")
    until_live(ws, "queue:ops")
    hub = app.extensions["live_hub"]
    try:
        redis_server.stop()
        started = time.monotonic()
        live.publish("queue:ops", "lost", {})  # must neither raise nor hang the caller
        assert time.monotonic() - started < 2
        assert wait_for(lambda: not hub.connected.is_set())
    finally:
        if redis_server.process is None:
            redis_server.start()
    until_live(ws, "queue:ops", timeout=10)
    live.publish("queue:ops", "alert_raised", {"id": 1})
    event = next_event(ws, timeout=10)  # generous: the machine may be busy with the rest of the suite
    assert event is not None and event["type"] == "alert_raised"


@sqlite_only
def test_server_side_threads_end_when_clients_disconnect(app, connect):
    before = len(server_socket_threads())
    polite, abrupt = connect(), connect()
    for ws in (polite, abrupt):
        send(ws, "subscribe", "queue:ops")
        until_live(ws, "queue:ops")
    hub = app.extensions["live_hub"]
    assert len(hub.subscribers) == 2 and len(server_socket_threads()) >= before + 4

    polite.close()  # a close frame
    abrupt.sock.shutdown(socket.SHUT_RDWR)  # the tab was killed: no close frame
    assert wait_for(lambda: not hub.subscribers)
    assert wait_for(lambda: len(server_socket_threads()) == before)
    assert wait_for(lambda: hub.thread is None)  # no socket left: the hub lets go of Redis too
