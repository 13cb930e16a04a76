"""Live events of incidents (the detail topic and the list topic, after commit only), the
Prometheus series, and the demo seed."""

from app.breakages import service
from app.breakages.models import Incident
from app.extensions import db
from tests.breakages import factory
from tests.core.test_metrics import scrape
from tests.helpers import next_event, send, until_live


def test_moves_are_published_on_the_incident_and_the_list(app, connect):
    made = factory.incident()
    ws = connect()
    for topic in (f"breakage:{made.id}", "breakage:list"):
        send(ws, "subscribe", topic)
        until_live(ws, topic)
    service.move(made.id, "investigating", "look")
    db.session.rollback()  # not committed: nothing published
    service.move(made.id, "investigating", "look")
    db.session.commit()
    events = [next_event(ws), next_event(ws)]
    assert {e["topic"] for e in events} == {f"breakage:{made.id}", "breakage:list"}
    assert all(e["type"] == "breakage_event" and e["data"]["to"] == "investigating" for e in events)


def test_prometheus_series(app, client):
    bom = factory.product()
    factory.incident(bom, severity="critical")
    factory.incident(bom, severity="low")
    resolved = factory.resolve(factory.incident(bom, severity="low"))
    assert resolved.status == "resolved"
    found = scrape(client)
    assert found.value("breakage_incidents_total", severity="critical") >= 1
    assert found.value("breakage_open_incidents", severity="critical") == 1
    assert found.value("breakage_open_incidents", severity="low") == 1
    assert found.value("breakage_open_incidents", severity="high") == 0
    assert found.value("breakage_helpdesk_sends", status="not_sent") == 3
    assert {s["status"] for s in found.series("breakage_helpdesk_sends")} == {
        "not_sent",
        "queued",
        "sent",
        "failed",
        "dead",
    }


def test_demo_seed_records_repeats_once(app):
    from app.breakages import demo, figures
    from app.items import demo as items_demo

    items_demo.seed()
    db.session.commit()
    assert demo.seed() is not None
    db.session.commit()
    assert demo.seed() is None  # idempotent
    assert db.session.query(Incident).count() == len(demo.INCIDENTS)
    assert figures.hotspots(figures.window(90))[0]["number"] == "C-10U"
    assert figures.repeat_rate(figures.window(90))["repeats"] >= 3
