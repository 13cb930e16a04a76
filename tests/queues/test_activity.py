"""Workers one by one (heartbeat verdicts from WORKER_TTL), recent jobs grouped per record, and
throughput / failure-rate buckets aggregated in SQL from the job history."""

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue, Worker
from sqlalchemy import insert

from app.core import jobs
from app.core.jobs.models import JobRecord
from app.extensions import db
from app.queues import activity, service
from tests.conftest import run_worker, wait_for
from tests.helpers import assert_error_shape
from tests.queues.test_queues import DEMO_JOB, enqueue, status_of


def test_heartbeat_verdict_follows_worker_ttl(app):
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    app.config["WORKER_TTL"] = 30  # heartbeats due every 15 s (idle), late past 22.5 s, dead at 30 s
    with app.app_context():
        verdicts = [service.heartbeat_verdict(now - timedelta(seconds=s), now)[0] for s in (0, 15, 22, 23, 29, 30, 300)]
        assert verdicts == ["healthy", "healthy", "healthy", "late", "late", "dead", "dead"]
        assert service.heartbeat_verdict(None, now) == ("dead", None)


def test_a_registered_worker_that_stopped_heartbeating_reads_late_then_dead(app, client, bearer):
    headers = bearer("operator")
    connection = app.extensions["redis"]
    worker = Worker([Queue("sync", connection=connection)], connection=connection, name="host-a.1")
    worker.register_birth()
    ttl = app.config["WORKER_TTL"]

    def heartbeat_ago(seconds: float) -> dict:
        moment = datetime.now(UTC) - timedelta(seconds=seconds)
        connection.hset(worker.key, "last_heartbeat", moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        response = client.get("/api/v1/workers/host-a.1", headers=headers)
        assert response.status_code == 200
        return response.json

    assert heartbeat_ago(0)["heartbeat"] == "healthy"
    assert heartbeat_ago(ttl - 1)["heartbeat"] == "late"
    dead = heartbeat_ago(ttl + 5)
    assert dead["heartbeat"] == "dead" and dead["heartbeat_age"] >= ttl
    assert dead["queues"] == ["sync"] and dead["current_job_id"] is None and dead["birth"]
    missing = client.get("/api/v1/workers/no-such-worker", headers=headers)
    assert missing.status_code == 404
    assert_error_shape(missing)
    assert client.get("/api/v1/workers/host-a.1", headers=bearer("viewer")).status_code == 403


def test_worker_page_and_api_count_real_jobs(app, client, bearer, signed_in, worker_process):
    headers = bearer("operator")
    (name,) = wait_for(lambda: [w["name"] for w in client.get("/api/v1/workers", headers=headers).json["workers"]])
    done, failed = enqueue(0), enqueue(0, True)
    wait_for(lambda: status_of(done) == "finished" and status_of(failed) == "failed")
    worker = wait_for(lambda: (w := client.get(f"/api/v1/workers/{name}", headers=headers).json)["failed"] == 1 and w)
    assert worker["successful"] >= 1  # the sweep a new worker offers counts too
    assert worker["heartbeat"] == "healthy" and worker["birth"] and worker["last_heartbeat"]
    assert "default" in worker["queues"]
    client_page, _ = signed_in("operator")
    html = client_page.get(f"/queues/workers/{name}").get_data(as_text=True)
    assert 'id="worker-heartbeat">healthy</span>' in html and f'id="worker-failed">{worker["failed"]}</dd>' in html
    assert 'data-live-topic="queue:' in html and 'href="/queues/default"' in html
    assert f'data-job="{done}"' in html and f'data-job="{failed}"' in html  # "jobs it ran lately"
    assert client_page.get("/queues/workers/nobody-here").status_code == 404
    overview = client_page.get("/queues/").get_data(as_text=True)
    assert f'href="/queues/workers/{name}"' in overview and "badge-healthy" in overview


def _chunks(optimization_id: int, count: int, fail: int = 0) -> list[str]:
    ids = []
    for i in range(count):
        record = jobs.enqueue(
            "optimization_chunk", DEMO_JOB, 0, i < fail, queue="optimize", link=("optimization", optimization_id)
        )
        ids.append(record.id)
    db.session.commit()
    return ids


@pytest.mark.dialects
def test_recent_jobs_are_grouped_per_record(app, client, bearer, signed_in, monkeypatch):
    headers = bearer("operator")
    chunk_ids = _chunks(7, 6, fail=2)
    _chunks(8, 2)
    demo = [enqueue(0), enqueue(0)]
    waiting = client.get("/api/v1/queues/recent?kind=optimization_chunk", headers=headers).json["groups"]
    assert [(g["jobs"], g["waiting"], g["running"], g["status"]) for g in waiting] == [
        (2, 2, 0, "queued"),
        (6, 6, 0, "queued"),
    ]
    run_worker(app)
    groups = client.get("/api/v1/queues/recent", headers=headers).json
    assert groups["paging"]["total"] == 4  # two optimizations, two demo jobs: not ten lines
    by_key = {g["key"]: g for g in groups["groups"]}
    seven = by_key["optimization_chunk:optimization:7"]
    assert (seven["jobs"], seven["finished"], seven["failed"], seven["status"]) == (6, 4, 2, "failed")
    assert seven["job_id"] is None and by_key["optimization_chunk:optimization:8"]["status"] == "finished"
    assert by_key[demo[0]]["jobs"] == 1 and by_key[demo[0]]["job_id"] == demo[0]
    only = client.get("/api/v1/queues/recent?kind=demo", headers=headers).json
    assert {g["job_id"] for g in only["groups"]} == set(demo)
    assert client.get("/api/v1/queues/recent?per_page=1&page=2", headers=headers).json["paging"]["pages"] == 4

    monkeypatch.setattr(activity, "RECENT_WINDOW", 2)  # grouped among the newest jobs only: a bounded query
    newest = client.get("/api/v1/queues/recent", headers=headers).json["groups"]
    assert [g["job_id"] for g in newest] == demo[::-1]
    monkeypatch.undo()

    page_client, _ = signed_in("operator")
    overview = page_client.get("/queues/").get_data(as_text=True)
    assert overview.count('data-group="optimization_chunk:optimization:') == 2 and ">6 jobs</a>" in overview
    assert "4 finished · 2 failed" in overview and f'data-job="{demo[1]}"' in overview
    assert 'data-group="' not in page_client.get("/queues/?kind=demo").get_data(as_text=True)
    opened = page_client.get("/queues/recent?kind=optimization_chunk&entity=optimization&entity_id=7")
    html = opened.get_data(as_text=True)
    assert all(f'data-job="{job_id}"' in html for job_id in chunk_ids) and html.count("<tr data-job=") == 6


def _ended(queue: str, status: str, ended_at: datetime, n: int = 1) -> None:
    db.session.execute(
        insert(JobRecord),
        [
            {
                "id": f"{status}-{ended_at.timestamp()}-{i}-{queue}",
                "queue": queue,
                "kind": "demo",
                "status": status,
                "actor": "system",
                "enqueued_at": ended_at - timedelta(seconds=5),
                "ended_at": ended_at,
            }
            for i in range(n)
        ],
    )


@pytest.mark.dialects
def test_throughput_and_failure_rate_per_bucket(app, client, bearer, signed_in):
    now = datetime.now(UTC)
    _ended("sync", "finished", now - timedelta(seconds=1), 3)
    _ended("sync", "failed", now - timedelta(seconds=1))
    _ended("sync", "finished", now - timedelta(minutes=20), 2)
    _ended("sync", "stopped", now - timedelta(minutes=20))
    _ended("sync", "canceled", now - timedelta(minutes=20))  # ended, but neither ran nor failed
    _ended("sync", "finished", now - timedelta(hours=3), 5)  # in the day only
    _ended("exports", "failed", now - timedelta(minutes=1), 4)  # another queue
    db.session.commit()
    headers = bearer("operator")

    hour = client.get("/api/v1/queues/sync/throughput", headers=headers).json
    assert len(hour["buckets"]) == 12 and hour["window"] == "hour"

    def at(moment: datetime) -> dict:
        (found,) = [
            b for b in hour["buckets"] if 0 <= (moment - datetime.fromisoformat(b["start"])).total_seconds() < 300
        ]
        return found

    latest, earlier = at(now - timedelta(seconds=1)), at(now - timedelta(minutes=20))
    assert (latest["finished"], latest["failed"], latest["ended"], latest["failure_rate"]) == (3, 1, 4, 0.25)
    assert (earlier["finished"], earlier["failed"]) == (2, 1)
    assert sum(b["ended"] for b in hour["buckets"]) == 7
    assert all(b["failure_rate"] is None for b in hour["buckets"] if not b["ended"])

    day = client.get("/api/v1/queues/sync/throughput?window=day", headers=headers).json
    assert len(day["buckets"]) == 24 and sum(b["ended"] for b in day["buckets"]) == 12
    # a minute ago may be in the bucket before the last one (the buckets follow the clock)
    assert sum(bucket.failed for bucket in activity.throughput("hour")["exports"]) == 4

    page_client, _ = signed_in("operator")
    html = page_client.get("/queues/sync").get_data(as_text=True)
    assert '<svg viewBox="0 0 560 170"' in html and 'class="failed"' in html and '<polyline class="rate"' in html
    assert "7 ended, 2 failed in the last hour" in html
    assert "12 ended, 2 failed in the last day" in page_client.get("/queues/sync?window=day").get_data(as_text=True)
    overview = page_client.get("/queues/").get_data(as_text=True)
    assert "7 ended · 29 % failed" in overview
