"""Live events of overlay writes (after commit only; a viewer's socket refused a draft's topic),
the cache's keys dropped by a write, lookups without Redis, and the counter on /metrics."""

import json

import redis

from app.core.rediskeys import key
from app.extensions import db, redis_client
from app.overlays import cache, lookup, service
from tests.core.test_metrics import scrape
from tests.helpers import next_event, send, until_live
from tests.overlays import factory


def test_writes_are_published_after_commit(app, connect, bearer):
    doc, overlay = factory.overlay()
    ws = connect(headers=bearer("engineer"))
    send(ws, "subscribe", service.topic(overlay.id))
    until_live(ws, service.topic(overlay.id))
    service.move(overlay, "published")
    db.session.rollback()  # not committed: nothing published
    service.move(db.session.merge(overlay), "published")
    db.session.commit()
    event = next_event(ws)
    assert event["type"] == "overlay_changed" and event["data"]["status"] == "published"


def test_a_viewer_may_not_listen_to_a_draft(app, connect, bearer):
    doc, overlay = factory.overlay()
    ws = connect(headers=bearer("viewer"))
    send(ws, "subscribe", service.topic(overlay.id))
    answer = json.loads(ws.receive(timeout=5))
    assert answer["type"] == "error" and answer["data"]["details"]["topics"] == [service.topic(overlay.id)]


def test_a_write_drops_the_cached_lookups(app):
    doc, overlay = factory.overlay(publish=True)
    lookup.lookup_many(overlay, factory.REFS, "viewer")
    lookup.lookup_many(overlay, ["U-8"], "engineer")
    pattern = key("overlay", overlay.token, "*")
    assert len(list(redis_client().scan_iter(match=pattern))) == 2
    service.remove_entry(overlay, "C-8")
    assert len(list(redis_client().scan_iter(match=pattern))) == 2  # not before the commit
    db.session.commit()
    assert list(redis_client().scan_iter(match=pattern)) == []
    assert lookup.lookup(overlay, "C-8", "viewer")["mapped"] is False


def test_without_redis_lookups_are_computed(app, monkeypatch):
    doc, overlay = factory.overlay(publish=True)
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(cache, "redis_client", lambda: dead)
    found = lookup.lookup_many(overlay, ["U-8", "BOSS-8"], "viewer")
    assert [f["mapped"] for f in found] == [True, False]


def test_the_counter_on_metrics(app, client, bearer):
    doc, overlay = factory.overlay(publish=True)
    viewer = bearer("viewer")
    for _ in range(2):
        client.get(f"/api/v1/cad-3d/overlays/{doc.id}/components/U-8", headers=viewer)
    found = scrape(client)
    assert found.value("overlay_cache_requests_total", result="hit") >= 1
    assert found.value("overlay_cache_requests_total", result="miss") >= 1
