"""Jobs through real Redis and a real RQ worker: the history row follows every step."""

import json
import time

import pytest
from rq import Queue, Retry
from rq.job import Job, JobStatus

from app.core import jobs
from app.core.jobs.models import JobRecord, JobState
from app.extensions import db
from tests.conftest import run_worker

DEMO_JOB = "app.queues.jobs.demo_job"


def history(job_id: str) -> JobRecord:
    db.session.expire_all()
    return db.session.get(JobRecord, job_id)


def rq_job(app, job_id: str) -> Job:
    return Job.fetch(job_id, connection=app.extensions["redis"])


def test_the_history_statuses_are_rqs_names():
    """All but "retrying" and "lost", the history's own (RQ says "finished", so the history does too)."""
    assert set(JobState) - {JobState.retrying, JobState.lost} <= {status.value for status in JobStatus}


def test_job_reaches_redis_only_when_the_transaction_commits(app):
    record = jobs.enqueue("demo", DEMO_JOB, 0, queue="default", link=("demo", 7))
    queue = Queue("default", connection=app.extensions["redis"])
    assert queue.count == 0  # not before commit
    db.session.commit()
    assert queue.job_ids == [record.id]
    row = history(record.id)
    assert (row.status, row.queue, row.kind, row.entity, row.entity_id) == ("queued", "default", "demo", "demo", "7")


@pytest.mark.dialects
def test_rolled_back_transaction_enqueues_nothing(app):
    record_id = jobs.enqueue("demo", DEMO_JOB, 0).id
    db.session.rollback()
    db.session.commit()  # a later commit must not push the forgotten job either
    assert Queue("default", connection=app.extensions["redis"]).count == 0
    assert history(record_id) is None


def test_finished_job_keeps_timings_progress_and_result(app):
    record = jobs.enqueue("demo", DEMO_JOB, 1, queue="default", meta={"purpose": "test"})
    db.session.commit()
    run_worker(app)
    row = history(record.id)
    assert row.status == "finished" and row.attempts == 1 and row.error is None
    assert row.started_at >= row.enqueued_at and row.ended_at >= row.started_at
    assert 0.9 <= row.duration < 5 and row.wait >= 0
    job = rq_job(app, record.id)
    assert job.meta["progress"] == 1.0 and job.meta["purpose"] == "test" and job.meta["kind"] == "demo"
    assert job.return_value() == {"slept": 1}


def test_failed_job_records_the_error(app):
    record = jobs.enqueue("demo", DEMO_JOB, 0, True, queue="exports")
    db.session.commit()
    run_worker(app)
    row = history(record.id)
    assert row.status == "failed" and row.attempts == 1
    assert "DemoFailure: the demo job was asked to fail" in row.error
    assert record.id in Queue("exports", connection=app.extensions["redis"]).failed_job_registry.get_job_ids()


def test_retry_runs_again_then_fails_for_good(app):
    record = jobs.enqueue("demo", DEMO_JOB, 0, True, retry=Retry(max=2))
    db.session.commit()
    run_worker(app)
    row = history(record.id)
    assert row.status == "failed" and row.attempts == 3


def test_history_outlives_redis(app, client, bearer):
    record = jobs.enqueue("demo", DEMO_JOB, 0)
    db.session.commit()
    run_worker(app)
    app.extensions["redis"].flushdb()
    response = client.get(f"/api/v1/jobs/{record.id}", headers=bearer("operator"))
    assert response.status_code == 200
    assert response.json["in_redis"] is False
    assert response.json["history"]["status"] == "finished"


def test_enqueue_while_redis_is_down_is_recorded_not_lost(app, database_url):
    from app import create_app
    from tests.conftest import app_config, free_port

    down = create_app(app_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    with down.app_context():
        record_id = jobs.enqueue("demo", DEMO_JOB, 0).id
        db.session.commit()
        row = db.session.get(JobRecord, record_id)
        db.session.refresh(row)
        assert row.status == "failed" and row.error.startswith("could not enqueue")


def test_unknown_queue_is_refused(app):
    from app.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        jobs.enqueue("demo", DEMO_JOB, 0, queue="nope")


def test_each_step_is_published_live(app):
    pubsub = app.extensions["redis"].pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("forgeline:events")
    record = jobs.enqueue("demo", DEMO_JOB, 0)
    db.session.commit()
    run_worker(app)
    seen = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and (not seen or seen[-1] != "job_completed"):
        message = pubsub.get_message(timeout=0.2)
        if message and json.loads(message["data"])["topic"] == f"job:{record.id}":
            seen.append(json.loads(message["data"])["type"])
    assert seen[0] == "job_queued" and seen[1] == "job_started" and seen[-1] == "job_completed"
    assert "job_progress" in seen
