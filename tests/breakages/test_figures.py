"""The figures, one definition each, on hand-made incidents whose answers are known: repeat
rate (the earlier incident may lie before the window), hotspots and Pareto, counts, MTTR,
weekly trend; the metrics API and its exports say the same."""

from datetime import timedelta

import pytest

from app.breakages import figures, service
from app.core.timeutil import utcnow
from app.extensions import db
from tests.breakages import factory

pytestmark = pytest.mark.dialects  # SQL aggregates and window functions on both databases


def _scene():
    bom = factory.product()
    # C-9 four times: at 100 days (outside the 90-day window) and 80, 30, 10 days ago -> all three in
    # the window are repeats (each within 90 days of the one before)
    for days, severity in ((100, "low"), (80, "high"), (30, "critical"), (10, "medium")):
        factory.incident(bom, days_ago=days, severity=severity, component="C-9")
    factory.incident(bom, days_ago=20, severity="low", component="R-9")
    # no component: the same normalised description twice -> the second is a repeat
    factory.incident(bom, days_ago=50, component=None, description="Display flickers", severity="low")
    factory.incident(bom, days_ago=5, component=None, description="display   FLICKERS!", severity="low")
    factory.incident(bom, days_ago=4, component=None, description="Something else", severity="low")
    canceled = factory.incident(bom, days_ago=3, component="R-9", severity="critical")
    service.move(canceled.id, "canceled")
    db.session.commit()
    return bom


def test_repeat_rate_hotspots_and_counts(app):
    _scene()
    w = figures.window(90)
    # in the window, not canceled: C-9 x3, R-9 x1, flicker x2, else x1 = 7; repeats: C-9 x3 + flicker x1 = 4
    assert figures.repeat_rate(w) == {"incidents": 7, "repeats": 4, "rate": round(4 / 7, 4)}
    # 25 days: C-9 at 10 repeats the one at 30 (20 days before); the flicker at 5 does not repeat the one at 50
    assert figures.repeat_rate(figures.window(25))["repeats"] == 1
    assert figures.repeat_rate(figures.window(15))["repeats"] == 0
    hot = figures.hotspots(w)
    assert [(h["number"], h["count"], h["score"]) for h in hot] == [("C-9", 3, 4 + 8 + 2), ("R-9", 1, 1)]
    assert hot[0]["share"] == 0.75 and [p["cumulative_share"] for p in figures.pareto(w)] == [0.75, 1.0]
    counts = figures.counts(w)
    assert counts["status"]["canceled"] == 1 and counts["status"]["open"] == 7
    assert counts["severity"] == {"low": 4, "medium": 1, "high": 1, "critical": 1}
    trend = figures.weekly_trend(w)
    assert sum(week["incidents"] for week in trend) == 7 and sum(week["severe"] for week in trend) == 2
    assert len(trend) in (13, 14, 15)


def test_mean_time_to_resolve(app):
    made = factory.incident()
    factory.resolve(made)
    made.created_at = utcnow() - timedelta(hours=10)
    db.session.commit()
    mttr = figures.mean_time_to_resolve(figures.window(90))
    assert mttr["resolved"] == 1 and 9.9 < mttr["hours"] < 10.1


def test_metrics_api_and_exports_match_the_definitions(app, client, bearer):
    _scene()
    viewer = bearer("viewer")
    answer = client.get("/api/v1/breakages/metrics?days=90&top=1", headers=viewer)
    assert answer.status_code == 200
    assert answer.json["repeat"]["repeats"] == 4 and [h["number"] for h in answer.json["hotspots"]] == ["C-9"]
    assert client.get("/api/v1/breakages/metrics?days=0", headers=viewer).status_code == 422
    csv = client.get("/api/v1/breakages/metrics/export?export_format=csv", headers=viewer).get_data(as_text=True)
    assert "repeat,repeats,4" in csv and "hotspot,C-9,3,0.75,14" in csv
    md = client.get("/api/v1/breakages/metrics/export?export_format=md", headers=viewer).get_data(as_text=True)
    assert "| repeat | rate |" in md


def test_the_repeat_gaps_follow_edits_and_cancels(app):
    bom = factory.product()
    older = factory.incident(bom, days_ago=30, component="C-9")
    newer = factory.incident(bom, days_ago=10, component="C-9")
    w = figures.window(90)
    assert figures.repeat_rate(w)["repeats"] == 1
    service.update_incident(newer.id, {"component_id": factory.part("R-9").id})  # another failure now
    db.session.commit()
    assert figures.repeat_rate(w)["repeats"] == 0
    service.update_incident(
        older.id, {"component_id": factory.part("R-9").id, "occurred_at": utcnow() - timedelta(days=40)}
    )
    db.session.commit()
    assert figures.repeat_rate(w)["repeats"] == 1
    service.move(older.id, "canceled")
    db.session.commit()
    assert figures.repeat_rate(w) == {"incidents": 1, "repeats": 0, "rate": 0.0}
