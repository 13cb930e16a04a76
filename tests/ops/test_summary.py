"""The summary, section by section, on hand-made rows whose answers are computed by hand; each
figure is the owning capability's (the breakage repeat rate is breakages' own)."""

from datetime import timedelta

import pytest
import redis

from app.breakages import figures as breakage_figures
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.extensions import db, redis_client
from app.ops.summary import summary
from app.overlays import cache, lookup
from app.overlays import figures as overlay_figures
from tests.ops import scene
from tests.overlays import factory as overlay_factory

pytestmark = pytest.mark.dialects  # window functions, EXISTS and grouped sums on both databases


def test_an_empty_product_has_zero_counts_and_null_rates(app):
    figures = summary(7)
    sync, runs, brk = figures["doc_sync"], figures["workflow_runs"], figures["breakages"]
    assert sync["total"] == 0 and sync["success_rate"] is None and sync["dead_letter_rate"] is None
    assert sync["mean_attempts"] is None and sync["sites"] == []
    assert runs["total"] == 0 and runs["failed_rate"] is None and runs["warning_rate"] is None
    assert brk["total"] == 0 and brk["open_rate"] is None and brk["repeat_rate"] is None
    assert brk["helpdesk_failed_rate"] is None and figures["job_history"] == []


def test_doc_sync(app):
    scene.doc_sync()
    week = summary(7)["doc_sync"]
    assert week["total"] == 5
    assert week["by_status"] == {"queued": 1, "running": 0, "finished": 2, "failed": 2, "interrupted": 0}
    assert week["by_direction"] == {"push": 3, "pull": 2}
    assert week["success_rate"] == 0.5  # 2 finished of 4 ended
    assert (week["dead_letter"], week["dead_letter_rate"]) == (1, 0.2)  # the replayed failure is no dead letter
    assert week["mean_attempts"] == 1.75  # (1 + 1 + 3 + 2) / 4 documents
    assert week["sites"] == [
        {"site": "alpha", "total": 2, "failed": 1, "success_rate": 0.5},
        {"site": "beta", "total": 3, "failed": 1, "success_rate": 0.5},
    ]
    two_weeks = summary(14)["doc_sync"]
    assert (two_weeks["total"], two_weeks["dead_letter"], two_weeks["dead_letter_rate"]) == (6, 2, 0.3333)
    day = summary(1)["doc_sync"]
    assert (day["total"], day["success_rate"], day["dead_letter"], day["dead_letter_rate"]) == (1, 1.0, 0, 0.0)


def test_workflow_runs(app):
    scene.workflow_runs()
    week = summary(7)["workflow_runs"]
    assert week["total"] == 6
    assert week["by_status"] == {"running": 0, "queued": 0, "completed": 3, "warning": 1, "failed": 2}
    assert week["by_result_code"] == {"BLOCK": 1, "OK": 3, "RETRY_EXHAUSTED": 1, "WARN": 1}
    assert (week["failed_rate"], week["warning_rate"]) == (0.3333, 0.1667)
    assert summary(30)["workflow_runs"]["total"] == 7
    assert summary(1)["workflow_runs"]["total"] == 1


def test_breakages(app):
    scene.incidents()
    week = summary(7)["breakages"]
    assert week["total"] == 4 and week["by_status"]["canceled"] == 1  # canceled ones only in by_status
    assert (week["open"], week["open_rate"]) == (3, 0.75)
    assert (week["repeats"], week["repeat_rate"]) == (2, 0.5)
    assert week["repeat_rate"] == breakage_figures.repeat_rate(breakage_figures.window(7))["rate"]
    assert week["helpdesk_by_status"] == {"not_sent": 1, "queued": 1, "sent": 1, "failed": 1, "dead": 1}
    assert week["helpdesk_failed_rate"] == 0.6667  # failed + dead of sent + failed + dead
    assert summary(30)["breakages"]["total"] == 4 and summary(90)["breakages"]["total"] == 5


def test_job_history_per_queue(app):
    scene.job_history()
    exports, sync = summary(7)["job_history"]
    assert sync == {
        "queue": "sync",
        "total": 20,
        "failed": 3,  # failed, failed, stopped; a canceled job is no failure
        "failed_rate": 0.15,
        "duration_p50": 10.0,  # nearest rank: the 10th of 1..20
        "duration_p95": 19.0,
        "wait_p95": 1.9,
    }
    assert exports == {
        "queue": "exports",
        "total": 1,
        "failed": 0,
        "failed_rate": 0.0,
        "duration_p50": None,
        "duration_p95": None,
        "wait_p95": None,
    }
    assert summary(90)["job_history"][1]["total"] == 21


def test_flow_runs_optimizations_and_exports(app, make_user):
    scene.flow_runs()
    scene.optimizations(make_user("ops-owner", "engineer"))
    scene.exports()
    week = summary(7)
    flows = week["flow_runs"]
    assert (flows["total"], flows["failed"], flows["failed_rate"]) == (3, 1, 0.3333)
    assert flows["by_status"] == {
        "pending": 0,
        "running": 1,
        "idle": 0,
        "paused": 0,
        "completed": 1,
        "failed": 1,
        "canceled": 0,
    }
    runs = week["optimizations"]
    assert (runs["total"], runs["failed"], runs["failed_rate"]) == (4, 2, 0.5)
    assert runs["by_status"]["early-stopped"] == 1 and runs["by_status"]["canceled"] == 0
    delta, packs = week["exports"]["bom_delta"], week["exports"]["workorder_packs"]
    assert delta == {
        "total": 3,
        "by_status": {"queued": 1, "running": 0, "done": 1, "failed": 1},
        "failed": 1,
        "failed_rate": 0.3333,
    }
    assert (packs["total"], packs["failed"], packs["failed_rate"]) == (3, 1, 0.3333)
    assert summary(1)["exports"]["workorder_packs"]["failed_rate"] == 0.0
    assert summary(90)["optimizations"]["by_status"]["canceled"] == 1
    empty = summary(1)["flow_runs"]
    assert (empty["total"], empty["failed_rate"]) == (1, 0.0)


def test_consumption(app):
    scene.consumption()
    week = summary(7)["consumption"]
    assert week == {
        "templates_without_active": 2,  # ops-drafted (a draft only) and ops-bare (no version)
        "inbox_dead": 2,
        "plans_ended": 4,  # the draft and the running plan are not counted
        "plans_out_of_tolerance": 2,  # 10 % over and nothing recorded; exactly 5 % is within
        "out_of_tolerance_rate": 0.5,
    }
    month = summary(30)["consumption"]
    assert (month["plans_ended"], month["plans_out_of_tolerance"], month["out_of_tolerance_rate"]) == (5, 3, 0.6)
    day = summary(1)["consumption"]
    assert (day["plans_ended"], day["plans_out_of_tolerance"], day["out_of_tolerance_rate"]) == (1, 0, 0.0)
    assert day["inbox_dead"] == 2  # a state: the same in every window


def test_consumption_on_an_empty_product(app):
    assert summary(7)["consumption"] == {
        "templates_without_active": 0,
        "inbox_dead": 0,
        "plans_ended": 0,
        "plans_out_of_tolerance": 0,
        "out_of_tolerance_rate": None,
    }


def test_overlay_cache_sums_the_days_of_the_window(app):
    assert summary(7)["overlay_cache"] == {"requests": 0, "hits": 0, "hit_rate": None, "available": True}
    scene.overlay_cache()
    assert summary(1)["overlay_cache"] == {"requests": 4, "hits": 3, "hit_rate": 0.75, "available": True}
    assert summary(7)["overlay_cache"] == {"requests": 8, "hits": 3, "hit_rate": 0.375, "available": True}
    assert summary(30)["overlay_cache"] == {"requests": 18, "hits": 13, "hit_rate": 0.7222, "available": True}


def test_overlay_lookups_count_their_hits_and_misses_per_day(app):
    doc, overlay = overlay_factory.overlay(publish=True)
    lookup.lookup_many(overlay, ["U-8", "BOSS-8"], "viewer")  # both computed
    lookup.lookup_many(overlay, ["U-8", "BOSS-8"], "viewer")  # both cached
    key = cache.stats_key(utcnow().date())
    assert redis_client().hgetall(key) == {b"hits": b"2", b"misses": b"2"}
    assert 0 < redis_client().ttl(key) <= cache.STATS_TTL_SECONDS
    assert summary(1)["overlay_cache"]["hit_rate"] == 0.5


def test_without_redis_the_overlay_section_says_so(app, monkeypatch):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(overlay_figures, "redis_client", lambda: dead)
    assert summary(7)["overlay_cache"] == {"requests": 0, "hits": 0, "hit_rate": None, "available": False}


def test_percentiles_are_the_nearest_rank_with_ties_and_gaps_on_both_databases(app):
    now = utcnow()
    for i, (duration, wait) in enumerate(((5.0, None), (1.0, 2.0), (1.0, 3.0))):
        db.session.add(
            JobRecord(
                id=f"tie-{i}",
                queue="ties",
                kind="k",
                status="finished",
                enqueued_at=now - timedelta(hours=1),
                duration=duration,
                wait=wait,
            )
        )
    db.session.commit()
    (ties,) = summary(1)["job_history"]
    # durations 1, 1, 5: p50 is rank >= 1.5 (the 2nd, a tie), p95 rank >= 2.85 (the 3rd);
    # waits 2, 3 (one job has none): p95 is rank >= 1.9 (the 2nd)
    assert (ties["duration_p50"], ties["duration_p95"], ties["wait_p95"]) == (1.0, 5.0, 3.0)
