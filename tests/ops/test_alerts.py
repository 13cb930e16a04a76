"""Alerts: each one on hand-made rows (summary figures from tests/ops/scene.py, RQ jobs and workers
written to Redis, breaker rows), at its threshold (no alert) and just past it (alert); the API's
422s, level filter, overrides and OPS_THRESHOLDS; the list on the page."""

from datetime import UTC, timedelta

import pytest
from flask import current_app
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.utils import utcformat

from app import create_app
from app.breakages.models import HelpdeskEndpoint
from app.core.timeutil import utcnow
from app.docsync.models import RemoteSite, SiteStatus
from app.extensions import db, redis_client
from app.ops import alerts as alerts_module
from app.ops import thresholds
from app.ops.alerts import alerts
from tests.conftest import app_config
from tests.ops import scene

API = "/api/v1/parallel-ops/alerts"


@pytest.fixture
def fire(app):
    """alerts() of a window with some thresholds changed; the codes (or the alerts, each with its
    link made a URL in a request, as the API's answer has it) that fire."""

    def run(window_days: int = 7, level: str | None = None, **changed: float) -> list[dict]:
        found = alerts(window_days, {**thresholds.configured(), **changed}, level)  # needs no request
        with current_app.test_request_context():
            return [{**a, "link": alerts_module.link(a)} for a in found]

    return run


def codes(found: list[dict]) -> list[str]:
    return [a["code"] for a in found]


def only(found: list[dict], code: str) -> dict:
    [alert] = [a for a in found if a["code"] == code]
    return alert


def test_nothing_fires_on_an_empty_product(fire):
    assert fire() == []


@pytest.mark.dialects
def test_dead_letter_rate_fires_strictly_above(fire):
    scene.doc_sync()  # 7 days: 1 dead letter of 5 sync jobs = 0.2
    assert "dead_letter_rate" not in codes(fire(dead_letter_rate=0.2))
    alert = only(fire(dead_letter_rate=0.1999), "dead_letter_rate")
    assert (alert["level"], alert["figure"], alert["threshold"]) == ("critical", 0.2, 0.1999)
    assert alert["link"] == "/parallel-ops/doc-sync/failures?window_days=7&dead_letter=true"
    assert "20 % of the last 7 d, above 19.99 %" in alert["message"]
    assert only(fire(), "dead_letter_rate")["threshold"] == 0.05  # the default
    assert "dead_letter_rate" not in codes(fire(window_days=1))  # no dead letter in the last day: rate 0


@pytest.mark.dialects
def test_workflow_failed_rate_fires_strictly_above(fire):
    scene.workflow_runs()  # 7 days: 2 failed of 6 runs = 0.3333
    assert "workflow_failed_rate" not in codes(fire(workflow_failed_rate=0.3333))
    alert = only(fire(workflow_failed_rate=0.3332), "workflow_failed_rate")
    assert (alert["level"], alert["figure"], alert["link"]) == (
        "warn",
        0.3333,
        "/parallel-ops/workflow/failures?window_days=7",
    )


@pytest.mark.dialects
def test_breakage_open_and_helpdesk_failed_rates(fire):
    scene.incidents()  # 7 days: 3 open of 4 incidents = 0.75; helpdesk 2 failed or dead of 3 ended = 0.6667
    found = fire(breakage_open_rate=0.75, helpdesk_failed_rate=0.6667)
    assert "breakage_open_rate" not in codes(found) and "helpdesk_failed_rate" not in codes(found)
    found = fire(breakage_open_rate=0.7499, helpdesk_failed_rate=0.6666)
    opened, helpdesk = only(found, "breakage_open_rate"), only(found, "helpdesk_failed_rate")
    assert (opened["level"], opened["figure"], opened["link"]) == ("warn", 0.75, "/breakages/?status=open")
    assert (helpdesk["level"], helpdesk["figure"]) == ("critical", 0.6667)
    assert helpdesk["link"].startswith("/parallel-ops/helpdesk/failures?window_days=")
    assert codes(found).index("helpdesk_failed_rate") < codes(found).index("breakage_open_rate")  # critical first
    assert {"breakage_open_rate", "helpdesk_failed_rate"} <= set(codes(fire()))  # 0.75 > 0.5, 0.6667 > 0.5


def test_an_alert_carries_its_link_as_an_endpoint_and_arguments(app):
    """No URL is made without a request (the Prometheus scrape counts alerts in an app context only)."""
    scene.doc_sync()
    [alert] = alerts(7, {**thresholds.configured(), "dead_letter_rate": 0.1})
    assert (alert["link_endpoint"], alert["link_args"]) == (
        "ops.failures_page",
        {"area": "doc-sync", "window_days": 7, "dead_letter": "true"},
    )
    assert "link" not in alert


def test_a_null_rate_never_fires(fire):
    scene.doc_sync()  # no workflow run, no incident: their rates are null
    found = fire(workflow_failed_rate=0, breakage_open_rate=0, helpdesk_failed_rate=0)
    assert codes(found) == ["dead_letter_rate"]


@pytest.mark.parametrize(
    ("cache", "fires"),
    [
        (None, False),  # no overlay section yet (before that branch is merged)
        ({"requests": 10, "hits": 7, "hit_rate": 0.7}, True),
        ({"requests": 9, "hits": 0, "hit_rate": 0.0}, False),  # too few lookups to count
        ({"requests": 10, "hits": 8, "hit_rate": 0.8}, False),  # exactly at the threshold
        ({"requests": 0, "hits": 0, "hit_rate": None}, False),
    ],
)
def test_overlay_cache_hit_rate_fires_strictly_below_with_enough_lookups(fire, monkeypatch, cache, fires):
    real = alerts_module.summary

    def with_cache(days, end=None):
        figures = real(days, end)
        if cache is not None:
            figures["overlay_cache"] = cache
        return figures

    monkeypatch.setattr(alerts_module, "summary", with_cache)
    found = fire()
    assert ("overlay_cache_hit_rate" in codes(found)) is fires
    if fires:
        alert = only(found, "overlay_cache_hit_rate")
        assert (alert["level"], alert["figure"], alert["threshold"]) == ("warn", 0.7, 0.8)
        assert alert["link"] == "/parallel-ops/?window_days=7#card-overlay-cache"


def aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shift_now(monkeypatch, moment):
    monkeypatch.setattr(alerts_module, "utcnow", lambda: moment)


def _enqueued(queue="exports", **options) -> Job:
    return Queue(queue, connection=redis_client()).enqueue("app.queues.jobs.demo_job", 0, False, **options)


def test_queue_backlog_fires_when_the_oldest_job_waited_longer(fire, monkeypatch):
    oldest = _enqueued()
    _enqueued()
    since = aware(Job.fetch(oldest.id, connection=redis_client()).enqueued_at)
    _shift_now(monkeypatch, since + timedelta(minutes=15))
    assert "queue_backlog" not in codes(fire())  # exactly 15 minutes
    _shift_now(monkeypatch, since + timedelta(minutes=15, seconds=1))
    alert = only(fire(), "queue_backlog")
    assert (alert["level"], alert["figure"], alert["threshold"], alert["link"]) == (
        "warn",
        15.02,
        15,
        "/queues/exports",
    )
    assert "2 waiting" in alert["message"]
    assert "queue_backlog" not in codes(fire(queue_backlog_minutes=16))


def _started(seconds_ago: float, timeout: int) -> Job:
    job = _enqueued(queue="sync", job_timeout=timeout)
    job.started_at = utcnow() - timedelta(seconds=seconds_ago)
    job.save()
    registry = StartedJobRegistry(queue=Queue("sync", connection=redis_client()))
    redis_client().zadd(registry.key, {f"{job.id}:exec": (utcnow() + timedelta(hours=1)).timestamp()})
    return job


def test_a_job_running_past_its_timeout_is_stuck(fire, monkeypatch):
    within = _started(50, 60)
    past = _started(100, 60)
    moment = utcnow()
    _shift_now(monkeypatch, moment)
    found = [a for a in fire(queue_backlog_minutes=100) if a["code"] == "job_stuck"]
    assert [a["link"] for a in found] == [f"/queues/jobs/{past.id}"]
    assert found[0]["level"] == "critical" and found[0]["threshold"] == 60 and found[0]["figure"] >= 100
    assert within.id[:8] not in found[0]["message"]
    # exactly at its timeout it is not stuck yet
    _shift_now(monkeypatch, aware(Job.fetch(past.id, connection=redis_client()).started_at) + timedelta(seconds=60))
    assert past.id not in " ".join(a["link"] for a in fire(queue_backlog_minutes=100))
    assert StartedJobRegistry(queue=Queue("sync", connection=redis_client())).count == 2  # read, never cleaned up


def _worker(name: str, last_heartbeat) -> Worker:
    worker = Worker(["default"], name=name, connection=redis_client())
    worker.register_birth()
    redis_client().hset(worker.key, "last_heartbeat", utcformat(last_heartbeat))
    return worker


def test_a_worker_whose_heartbeat_is_older_than_the_threshold_is_missing(fire, monkeypatch):
    moment = utcnow()
    _shift_now(monkeypatch, moment)
    _worker("fresh", moment - timedelta(seconds=120))  # exactly at the threshold: no alert
    _worker("silent", moment - timedelta(seconds=121))
    alert = only(fire(), "worker_missing")
    assert (alert["level"], alert["figure"], alert["threshold"]) == ("critical", 121.0, 120)
    assert alert["link"] == "/queues/workers/silent" and "silent" in alert["message"]
    assert "worker_missing" not in codes(fire(worker_heartbeat_seconds=121))


def test_a_site_down_or_with_its_breaker_open_and_a_disabled_one_ignored(fire):
    down = RemoteSite(name="down", base_url="https://down.example", status=SiteStatus.down, status_detail="timed out")
    tripped = RemoteSite(
        name="tripped", base_url="https://t.example", failures=3, breaker_open_until=utcnow() + timedelta(minutes=1)
    )
    cooled = RemoteSite(name="cooled", base_url="https://c.example", breaker_open_until=utcnow() - timedelta(seconds=1))
    off = RemoteSite(name="off", base_url="https://off.example", enabled=False, status=SiteStatus.down)
    held = RemoteSite(name="held", base_url="https://h.example", status=SiteStatus.up)
    held.breaker_held_by, held.breaker_held_at, held.breaker_held_reason = "root", utcnow(), "maintenance"
    db.session.add_all([down, tripped, cooled, off, held])
    db.session.commit()
    found = fire()
    assert [(a["code"], a["message"].split()[1].rstrip(":")) for a in found] == [
        ("site_down", "down"),
        ("site_breaker_open", "held"),
        ("site_breaker_open", "tripped"),
    ]
    assert found[0]["link"] == "/parallel-ops/doc-sync/failures?site=down" and "timed out" in found[0]["message"]
    assert "by hand by root" in found[1]["message"] and "maintenance" in found[1]["message"]
    assert found[2]["link"] == f"/doc-sync/sites/{tripped.id}" and found[2]["figure"] == 3


def test_the_helpdesk_down_or_with_its_breaker_open(fire):
    endpoint = HelpdeskEndpoint(name="desk", base_url="https://desk.example")
    db.session.add(endpoint)
    endpoint.status = "down"
    db.session.commit()
    alert = only(fire(), "helpdesk_down")
    assert alert["level"] == "critical" and alert["link"] == "/breakages/helpdesk"
    endpoint.breaker_open_until = utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert codes(fire()) == ["helpdesk_breaker_open"]


def test_the_level_filter_and_critical_first(fire):
    scene.doc_sync()
    scene.workflow_runs()
    found = fire()
    assert [a["level"] for a in found] == ["critical", "warn"]
    assert codes(fire(level="warn")) == ["workflow_failed_rate"]
    assert codes(fire(level="critical")) == ["dead_letter_rate"]


def test_redis_down_is_an_alert_not_a_failure(fire, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def refuse(*args, **kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(alerts_module.Queue, "get_job_ids", refuse)
    alert = only(fire(), "redis_unavailable")
    assert alert["level"] == "critical" and alert["link"] == "/queues/"


# ---- the API --------------------------------------------------------------------------------


def test_the_api_lists_alerts_with_the_thresholds_in_force(app, client, bearer):
    scene.doc_sync()
    answer = client.get(API, headers=bearer("operator"))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["window_days"] == 7 and body["thresholds"]["dead_letter_rate"] == 0.05
    assert body["thresholds"] == {name: t.default for name, t in thresholds.THRESHOLDS.items()}
    assert [a["code"] for a in body["alerts"]] == ["dead_letter_rate"]
    assert set(body["alerts"][0]) == {"code", "level", "message", "figure", "threshold", "link"}


def test_a_threshold_overridden_per_request(app, client, bearer):
    scene.doc_sync()
    answer = client.get(f"{API}?dead_letter_rate=0.2", headers=bearer("operator"))
    assert answer.status_code == 200 and answer.json["alerts"] == []
    assert answer.json["thresholds"]["dead_letter_rate"] == 0.2
    answer = client.get(f"{API}?dead_letter_rate=0.1&window_days=14&level=critical", headers=bearer("admin"))
    assert [(a["code"], a["figure"]) for a in answer.json["alerts"]] == [("dead_letter_rate", 0.3333)]
    assert client.get(f"{API}?level=warn", headers=bearer("operator")).json["alerts"] == []


@pytest.mark.config(OPS_THRESHOLDS='{"dead_letter_rate": 0.25, "queue_backlog_minutes": 5}')
def test_ops_thresholds_configures_them_and_a_request_still_overrides(app, client, bearer):
    scene.doc_sync()
    body = client.get(API, headers=bearer("operator")).json
    assert body["alerts"] == [] and body["thresholds"]["dead_letter_rate"] == 0.25
    assert body["thresholds"]["queue_backlog_minutes"] == 5 and body["thresholds"]["workflow_failed_rate"] == 0.02
    body = client.get(f"{API}?dead_letter_rate=0.15", headers=bearer("operator")).json
    assert [a["code"] for a in body["alerts"]] == ["dead_letter_rate"]


@pytest.mark.parametrize(
    "raw", ['{"dead_letter_rate": 2}', '{"nope": 1}', "[1]", "not json", {"queue_backlog_minutes": -1}]
)
def test_a_wrong_ops_thresholds_stops_the_app_naming_it(sqlite_database, redis_server, raw):
    with pytest.raises(ValueError, match="OPS_THRESHOLDS"):
        create_app(app_config(sqlite_database, redis_server.url, OPS_THRESHOLDS=raw))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("dead_letter_rate=-1", "dead_letter_rate"),
        ("dead_letter_rate=2", "dead_letter_rate"),
        ("workflow_failed_rate=abc", "workflow_failed_rate"),
        ("overlay_cache_hit_rate=1.01", "overlay_cache_hit_rate"),
        ("queue_backlog_minutes=-5", "queue_backlog_minutes"),
        ("worker_heartbeat_seconds=0", "worker_heartbeat_seconds"),
        ("helpdesk_failed_rate=nan", "helpdesk_failed_rate"),
        ("queue_backlog_minutes=inf", "queue_backlog_minutes"),
        ("level=info", "level"),
        ("window_days=5", "window_days"),
        ("dead_letter=0.1", "dead_letter"),  # unknown parameter
    ],
)
def test_bad_input_is_422_naming_the_parameter(app, client, bearer, query, named):
    answer = client.get(f"{API}?{query}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["message"]
    assert named in [f["field"] for f in error["details"]["fields"]]


def test_the_edges_of_the_ranges_are_allowed(app, client, bearer):
    for query in ("dead_letter_rate=0", "dead_letter_rate=1", "worker_heartbeat_seconds=1", "queue_backlog_minutes=0"):
        assert client.get(f"{API}?{query}", headers=bearer("operator")).status_code == 200, query


def test_operators_and_admins_read_alerts_others_do_not(app, client, bearer):
    assert client.get(API).status_code == 401
    for role, status in (("viewer", 403), ("engineer", 403), ("operator", 200), ("admin", 200)):
        assert client.get(API, headers=bearer(role)).status_code == status, role


# ---- the page -------------------------------------------------------------------------------


def test_the_page_lists_the_alerts_critical_first_with_their_links(app, signed_in, client):
    scene.doc_sync()
    scene.workflow_runs()
    signed_in("operator")
    page = client.get("/parallel-ops/").get_data(as_text=True)
    alerts_html = page[page.index('id="alerts"') : page.index('id="switches"')]
    assert alerts_html.index('data-alert="dead_letter_rate"') < alerts_html.index('data-alert="workflow_failed_rate"')
    assert 'href="/parallel-ops/doc-sync/failures?window_days=7&amp;dead_letter=true"' in alerts_html
    assert 'href="/parallel-ops/workflow/failures?window_days=7"' in alerts_html


def test_the_page_says_when_nothing_fires(app, signed_in, client):
    signed_in("operator")
    assert "No alert" in client.get("/parallel-ops/").get_data(as_text=True)


def test_the_live_partial_carries_the_alerts_alone(app, signed_in, client):
    scene.doc_sync()
    signed_in("operator")
    panel = client.get("/parallel-ops/partials/live?window_days=1")
    assert panel.status_code == 200
    html = panel.get_data(as_text=True)
    assert 'id="alerts"' in html and "<html" not in html
    assert 'data-alert="dead_letter_rate"' not in html  # no dead letter in the last day
    assert 'data-alert="dead_letter_rate"' in client.get("/parallel-ops/partials/live").get_data(as_text=True)
