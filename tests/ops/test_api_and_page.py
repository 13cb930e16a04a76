"""The summary API (window set, error shape, roles) and the overview page (cards, window in the URL)."""

import json
import re

import pytest
from rq.job import Job

from app.core import capability, jobs
from app.core.jobs import history
from app.core.live import channel
from app.extensions import db
from tests.ops import scene

API = "/api/v1/parallel-ops/summary"
ROLES = ("viewer", "engineer", "operator", "admin")


def test_the_summary_answers_for_every_window_and_defaults_to_seven_days(app, client, bearer):
    scene.doc_sync()
    operator = bearer("operator")
    answer = client.get(API, headers=operator)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["window"]["days"] == 7 and body["doc_sync"]["total"] == 5 and body["doc_sync"]["success_rate"] == 0.5
    assert set(body) == {
        "window",
        "doc_sync",
        "workflow_runs",
        "flow_runs",
        "optimizations",
        "exports",
        "breakages",
        "consumption",
        "overlay_cache",
        "job_history",
    }
    assert body["workflow_runs"]["failed_rate"] is None  # nothing to divide: null, not 0
    for days in (1, 7, 14, 30, 90):
        assert client.get(f"{API}?window_days={days}", headers=operator).json["window"]["days"] == days


@pytest.mark.parametrize(
    "query",
    ["window_days=5", "window_days=0", "window_days=91", "window_days=abc", "window_days=-1", "window_days=7.5"],
)
def test_a_window_outside_the_set_is_422_naming_it(app, client, bearer, query):
    answer = client.get(f"{API}?{query}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["code"] and error["message"]
    named = error["details"].get("field") or error["details"]["fields"][0]["field"]
    assert named == "window_days"


def test_an_unknown_parameter_is_422(app, client, bearer):
    answer = client.get(f"{API}?window=7", headers=bearer("operator"))
    assert answer.status_code == 422 and "error" in answer.json


def test_operators_and_admins_read_it_others_do_not(app, client, bearer):
    assert client.get(API).status_code == 401
    for role, status in (("viewer", 403), ("engineer", 403), ("operator", 200), ("admin", 200)):
        answer = client.get(API, headers=bearer(role))
        assert answer.status_code == status, (role, answer.json)
        if status == 403:
            assert answer.json["error"]["code"]


def test_the_page_shows_a_card_per_area_with_the_window_in_the_url(app, signed_in):
    scene.doc_sync()
    scene.incidents()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/").get_data(as_text=True)
    cards = (
        "doc-sync",
        "workflow-runs",
        "flow-runs",
        "optimizations",
        "exports",
        "breakages",
        "consumption",
        "overlay-cache",
        "job-history",
    )
    for card in (f"card-{name}" for name in cards):
        assert f'id="{card}"' in html
    assert "last 7 days" in html and "50.0 %" in html  # doc sync success rate
    assert "75.0 %" in html  # breakages open rate
    assert 'href="/parallel-ops/?window_days=14&amp;bucket_days=1"' in html
    two_weeks = client.get("/parallel-ops/?window_days=14").get_data(as_text=True)
    assert "last 14 days" in two_weeks and '<strong aria-current="page">14 d</strong>' in two_weeks
    assert "last 7 days" in client.get("/parallel-ops/?window_days=5").get_data(
        as_text=True
    )  # not a window: the default


@pytest.mark.parametrize(
    ("role", "sees"), [("operator", True), ("admin", True), ("engineer", False), ("viewer", False)]
)
def test_the_page_is_in_the_operations_menu_for_operators_and_admins_only(app, signed_in, role, sees):
    client, _ = signed_in(role)
    assert ('href="/parallel-ops/"' in client.get("/account").get_data(as_text=True)) is sees
    assert client.get("/parallel-ops/").status_code == (200 if sees else 403)


def test_the_page_keeps_window_and_bucket_in_the_url_and_falls_back_on_bad_ones(app, signed_in):
    client, _ = signed_in("operator")

    def chosen(query):
        html = client.get(f"/parallel-ops/{query}").get_data(as_text=True)
        window = re.search(r'<select name="window_days"[^>]*>.*?<option value="(\d+)" selected', html, re.S)
        bucket = re.search(r'<select name="bucket_days"[^>]*>.*?<option value="(\d+)" selected', html, re.S)
        return int(window.group(1)), int(bucket.group(1)), html

    window, bucket, html = chosen("?window_days=30&bucket_days=7")
    assert (window, bucket) == (30, 7) and "buckets of 7 days" in html
    assert 'hx-get="/parallel-ops/partials/live?window_days=30&amp;bucket_days=7"' in html
    assert 'href="/parallel-ops/?window_days=1"' in html  # a week's bucket is above a day's window
    assert chosen("?window_days=7&bucket_days=14")[:2] == (7, 1)  # above the window: the bucket's default
    assert chosen("?window_days=5&bucket_days=7")[:2] == (7, 1)
    assert chosen("?bucket_days=abc")[:2] == (7, 1)
    assert chosen("?window_days=90&bucket_days=30&other=1")[:2] == (90, 30)


def test_each_card_has_a_sparkline_and_each_area_a_trend_chart(app, signed_in):
    scene.doc_sync()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/?window_days=7&bucket_days=1").get_data(as_text=True)
    card = html[html.index('id="card-doc-sync"') : html.index('id="card-workflow-runs"')]
    assert 'class="spark"' in card and "0, 0, 1, 1, 1, 1, 1 in all, 0, 0, 0, 1, 1, 0, 0 failed" in card
    for area in ("doc_sync", "workflow_runs", "flow_runs", "optimizations", "bom_delta", "workorder_packs"):
        assert f'id="trend-{area}"' in html
    chart = html[html.index('id="trend-doc_sync"') : html.index('id="trend-workflow_runs"')]
    assert chart.count('class="bucket"') == 7 and chart.count('data-total="1" data-bad="1"') == 2
    assert "5 in all, 2 failed" in chart


def test_the_live_partial_re_reads_cards_and_trends_for_operators_only(app, signed_in):
    scene.doc_sync()
    client, _ = signed_in("operator")
    answer = client.get("/parallel-ops/partials/live?window_days=14&bucket_days=7")
    html = answer.get_data(as_text=True).strip()
    assert answer.status_code == 200 and html.startswith('<div id="ops-live" data-live-topic="ops:jobs"')
    assert 'hx-trigger="live, every 30s [!window.forgelineLive]"' in html and 'data-live-interval="2000"' in html
    assert 'id="card-doc-sync"' in html and 'id="trend-doc_sync"' in html and "<html" not in html
    assert html.count('class="bucket"') == 2 * 8  # two buckets in each of the eight charts


def test_the_live_partial_is_refused_to_engineers(app, signed_in):
    engineer, _ = signed_in("engineer")
    assert engineer.get("/parallel-ops/partials/live").status_code == 403


def test_a_job_that_ends_is_told_on_the_ops_topic_which_only_operators_may_read(app, make_user):
    pubsub = app.extensions["redis"].pubsub()
    pubsub.subscribe(channel())
    pubsub.get_message(timeout=1)
    record = jobs.enqueue("demo", "app.queues.jobs.demo_job", 0, False, queue="default")
    db.session.commit()
    job = Job.fetch(record.id, connection=app.extensions["redis"])
    history.mark_started(job)
    history.on_success(job, None, None)
    events = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            events.append(json.loads(message["data"]))
    pubsub.close()
    ops = [(e["type"], e["data"]) for e in events if e["topic"] == history.OPS_TOPIC]
    assert ops == [("job_ended", {"queue": "default", "status": "finished"})]  # not at enqueue or start
    kinds = {role: capability.may_subscribe(make_user(f"ops-{role}", role), history.OPS_TOPIC) for role in ROLES}
    assert kinds == {"viewer": False, "engineer": False, "operator": True, "admin": True}
