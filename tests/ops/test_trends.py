"""The trends: per bucket of the window, each area's totals and failures, on the hand-made rows of
scene.py (a row `d` days old lands in bucket floor(window - d) of a window of 1-day buckets);
empty buckets are zeros, a short last bucket ends at the window's end, the buckets add up to the
summary, and each area is one query whatever the number of buckets."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.ops.summary import summary
from app.ops.trends import trends
from tests.ops import scene

pytestmark = pytest.mark.dialects  # the bucket is date arithmetic in SQL

API = "/api/v1/parallel-ops/trends"
Z = {"total": 0, "failed": 0}


def _series(figures, area, *keys):
    out = []
    for bucket in figures["buckets"]:
        value = bucket
        for key in (area, *keys):
            value = value[key]
        out.append(value)
    return out


def test_doc_sync_per_day_and_per_week(app):
    scene.doc_sync()
    week = trends(7, 1)
    assert len(week["buckets"]) == 7 and week["bucket_days"] == 1
    empty = {"total": 0, "failed": 0, "dead_letter": 0}
    assert _series(week, "doc_sync") == [
        empty,
        empty,
        {"total": 1, "failed": 0, "dead_letter": 0},  # 4 days ago, queued
        {"total": 1, "failed": 1, "dead_letter": 0},  # 3 days ago, failed and replayed
        {"total": 1, "failed": 1, "dead_letter": 1},  # 2 days ago, never replayed
        {"total": 1, "failed": 0, "dead_letter": 0},
        {"total": 1, "failed": 0, "dead_letter": 0},  # the replay, half a day ago
    ]
    two = trends(14, 7)
    assert _series(two, "doc_sync") == [
        {"total": 1, "failed": 1, "dead_letter": 1},  # 10 days ago
        {"total": 5, "failed": 2, "dead_letter": 1},
    ]
    first, last = two["buckets"]
    start, end = two["window"]["start"], two["window"]["end"]
    # the edge between them is the first whole hour after a week from the start
    hour = start.replace(minute=0, second=0, microsecond=0)
    edge = (hour if hour == start else hour + timedelta(hours=1)) + timedelta(days=7)
    assert (first["start"], first["end"], last["start"], last["end"]) == (start, edge, edge, end)


def test_a_window_not_a_multiple_of_the_bucket_ends_with_a_short_bucket(app):
    scene.doc_sync()
    quarter = trends(90, 7)
    assert len(quarter["buckets"]) == 13  # 12 weeks and 6 days
    last = quarter["buckets"][-1]
    # six days less the part-hour the first bucket took
    assert timedelta(days=6, hours=-1) < last["end"] - last["start"] <= timedelta(days=6)
    assert last["end"] == quarter["window"]["end"]
    for bucket in quarter["buckets"][1:]:
        assert bucket["start"].minute == bucket["start"].second == bucket["start"].microsecond == 0
    totals = _series(quarter, "doc_sync", "total")
    assert totals == [0] * 11 + [1, 5]  # 10 days ago: day 80 of 90, in week 11 (0-based)
    assert _series(trends(90, 30), "doc_sync", "total") == [0, 0, 6]


def test_workflow_runs_and_breakages(app):
    scene.workflow_runs()
    scene.incidents()
    week = trends(7, 1)
    assert _series(week, "workflow_runs") == [
        Z,
        {"total": 1, "failed": 1},  # 5.5 days ago, RETRY_EXHAUSTED
        {"total": 1, "failed": 1},  # 4.5 days ago, BLOCK
        {"total": 1, "failed": 0},  # the warning
        {"total": 1, "failed": 0},
        {"total": 1, "failed": 0},
        {"total": 1, "failed": 0},
    ]
    assert _series(week, "breakages") == [
        {"total": 0, "open": 0, "helpdesk_failed": 0},
        {"total": 0, "open": 0, "helpdesk_failed": 0},
        {"total": 1, "open": 0, "helpdesk_failed": 1},  # resolved, its send dead
        {"total": 1, "open": 1, "helpdesk_failed": 0},
        {"total": 1, "open": 1, "helpdesk_failed": 0},  # sent
        {"total": 1, "open": 1, "helpdesk_failed": 1},  # the canceled one beside it is not counted
        {"total": 0, "open": 0, "helpdesk_failed": 0},
    ]


def test_job_history_per_queue(app):
    scene.job_history()
    week = trends(7, 1)
    sync = _series(week, "job_history", "sync")
    exports = _series(week, "job_history", "exports")
    assert sync == [Z] * 5 + [{"total": 20, "failed": 3}, Z]
    assert exports == [Z] * 6 + [{"total": 1, "failed": 0}]
    month = trends(30, 30)
    assert month["buckets"][0]["job_history"] == {
        "exports": {"total": 1, "failed": 0},
        "sync": {"total": 20, "failed": 3},
    }
    quarter = _series(trends(90, 30), "job_history", "sync")
    assert quarter == [Z, {"total": 1, "failed": 1}, {"total": 20, "failed": 3}]  # 30 days ago: just before day 60


def test_the_buckets_add_up_to_the_summary(app, make_user):
    scene.doc_sync()
    scene.workflow_runs()
    scene.flow_runs()
    scene.optimizations(make_user("ops-owner", "engineer"))
    scene.exports()
    scene.incidents()
    for window, bucket in ((7, 1), (14, 7), (30, 14), (90, 30), (1, 1)):
        whole, parts = summary(window), trends(window, bucket)
        for area in ("flow_runs", "optimizations"):
            assert sum(_series(parts, area, "failed")) == whole[area]["failed"], (area, window)
            assert sum(_series(parts, area, "total")) == whole[area]["total"], (area, window)
        for kind in ("bom_delta", "workorder_packs"):
            assert sum(_series(parts, "exports", kind, "failed")) == whole["exports"][kind]["failed"]
        assert sum(_series(parts, "doc_sync", "dead_letter")) == whole["doc_sync"]["dead_letter"]
        assert sum(_series(parts, "workflow_runs", "total")) == whole["workflow_runs"]["total"]
        assert sum(_series(parts, "breakages", "open")) == whole["breakages"]["open"]
        assert sum(_series(parts, "breakages", "total")) == whole["breakages"]["total"]


def test_one_query_per_area_whatever_the_buckets(app):
    scene.job_history()
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        trends(90, 1)
        daily = len(statements)
        statements.clear()
        trends(90, 30)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # seven areas and the job history: each at most one query per table of its rollup (hours,
    # days) and one over its source's rows at the edges, however many buckets
    assert daily <= 3 * 8 and len(statements) <= 3 * 8


def test_the_api_answers_every_pair_and_defaults_to_days_of_a_week(app, client, bearer):
    scene.doc_sync()
    operator = bearer("operator")
    body = client.get(API, headers=operator).json
    assert (body["window"]["days"], body["bucket_days"], len(body["buckets"])) == (7, 1, 7)
    assert body["buckets"][4]["doc_sync"] == {"total": 1, "failed": 1, "dead_letter": 1}
    for window, bucket, count in ((1, 1, 1), (7, 7, 1), (14, 7, 2), (30, 14, 3), (90, 7, 13), (90, 30, 3)):
        answer = client.get(f"{API}?window_days={window}&bucket_days={bucket}", headers=operator)
        assert answer.status_code == 200, answer.json
        assert len(answer.json["buckets"]) == count


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket_days=2", "bucket_days"),
        ("bucket_days=0", "bucket_days"),
        ("bucket_days=abc", "bucket_days"),
        ("window_days=7&bucket_days=14", "bucket_days"),  # above the window
        ("window_days=1&bucket_days=7", "bucket_days"),
        ("window_days=14&bucket_days=30", "bucket_days"),
        ("window_days=5&bucket_days=1", "window_days"),
    ],
)
def test_bad_input_is_422_naming_the_parameter(app, client, bearer, query, field):
    answer = client.get(f"{API}?{query}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    named = error["details"].get("field") or error["details"]["fields"][0]["field"]
    assert named == field and error["message"]


def test_operators_and_admins_read_the_trends(app, client, bearer):
    assert client.get(API).status_code == 401
    for role, status in (("viewer", 403), ("engineer", 403), ("operator", 200), ("admin", 200)):
        assert client.get(API, headers=bearer(role)).status_code == status
