"""One queue's registries, paged in Redis and filtered against the job history; deleting a job and
emptying a queue (admins only); on real Redis with real jobs run by a real (burst) worker."""

import time
import uuid
from datetime import timedelta

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import insert

from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.extensions import db
from tests.conftest import run_worker
from tests.helpers import assert_error_shape
from tests.queues.test_queues import DEMO_JOB, enqueue, status_of


def queue_jobs(client, headers, name="default", **params):
    response = client.get(f"/api/v1/queues/{name}/jobs", query_string=params, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_each_registry_lists_its_jobs(app, client, bearer):
    headers = bearer("operator")
    finished = [enqueue(0) for _ in range(3)]
    failed = enqueue(0, True)
    run_worker(app)
    connection = app.extensions["redis"]
    queue = Queue("default", connection=connection)
    waiting = enqueue(0)
    deferred = queue.enqueue(DEMO_JOB, 0, depends_on=waiting)  # RQ's own, without a history row
    scheduled = queue.enqueue_in(timedelta(hours=1), DEMO_JOB, 0)
    canceled = enqueue(0)
    client.post(f"/api/v1/jobs/{canceled}/cancel", headers=headers)

    listed = {
        registry: queue_jobs(client, headers, registry=registry)
        for registry in ("queued", "started", "finished", "failed", "deferred", "scheduled", "canceled")
    }
    counts = listed["queued"]["counts"]
    assert counts == {
        "queued": 1,
        "started": 0,
        "finished": 3,
        "failed": 1,
        "deferred": 1,
        "scheduled": 1,
        "canceled": 1,
    }
    assert [j["id"] for j in listed["queued"]["jobs"]] == [waiting]
    assert {j["id"] for j in listed["finished"]["jobs"]} == set(finished)
    assert listed["finished"]["jobs"][0]["kind"] == "demo" and listed["finished"]["jobs"][0]["attempts"] == 1
    (failure,) = listed["failed"]["jobs"]
    assert failure["id"] == failed and "DemoFailure" in failure["error"]
    assert [j["id"] for j in listed["deferred"]["jobs"]] == [deferred.id]
    assert listed["deferred"]["jobs"][0]["kind"] == DEMO_JOB  # no history row: RQ's function name
    assert [j["id"] for j in listed["scheduled"]["jobs"]] == [scheduled.id]
    assert [j["id"] for j in listed["canceled"]["jobs"]] == [canceled]
    assert listed["started"]["jobs"] == [] and listed["started"]["paging"]["total"] == 0

    detail = client.get("/api/v1/queues/default", headers=headers).json
    assert detail == {"name": "default", "counts": counts, "workers": []}


def _enqueue_many(app, count: int) -> list[str]:
    """`count` real RQ jobs in one pipeline, with their history rows in one statement; kinds alternate."""
    connection = app.extensions["redis"]
    queue = Queue("exports", connection=connection)
    ids = [f"bulk-{i:05d}-{uuid.uuid4().hex[:6]}" for i in range(count)]
    kinds = ["bulk_even" if i % 2 == 0 else "bulk_odd" for i in range(count)]
    with connection.pipeline() as pipe:
        queue.enqueue_many(
            [
                Queue.prepare_data(DEMO_JOB, (0,), job_id=job_id, meta={"kind": kind})
                for job_id, kind in zip(ids, kinds, strict=True)
            ],
            pipeline=pipe,
        )
        pipe.execute()
    now = utcnow()
    db.session.execute(
        insert(JobRecord),
        [
            {"id": job_id, "queue": "exports", "kind": kind, "status": "queued", "actor": "system", "enqueued_at": now}
            for job_id, kind in zip(ids, kinds, strict=True)
        ],
    )
    db.session.commit()
    return ids


def test_a_queue_of_5000_jobs_is_paged_in_redis(app, client, bearer):
    headers = bearer("operator")
    ids = _enqueue_many(app, 5000)

    def timed(**params):
        started = time.perf_counter()
        body = queue_jobs(client, headers, "exports", **params)
        return body, time.perf_counter() - started

    first, first_time = timed(per_page=50)
    assert first["paging"] == {"page": 1, "per_page": 50, "total": 5000, "pages": 100}
    assert [j["id"] for j in first["jobs"]] == ids[:50]  # the order workers take them
    last, _ = timed(per_page=50, page=100)
    assert [j["id"] for j in last["jobs"]] == ids[-50:]
    assert timed(per_page=50, page=101)[0]["jobs"] == []
    odd, filter_time = timed(kind="bulk_odd", page=3)
    assert odd["paging"]["total"] == 2500 and odd["scanned"] == 5000
    assert [j["id"] for j in odd["jobs"]] == ids[1::2][50:75]
    one, _ = timed(q=ids[4321][-6:])
    assert [j["id"] for j in one["jobs"]] == [ids[4321]]
    assert first_time < 1.0 and filter_time < 2.0, (first_time, filter_time)

    client_html = client.get("/api/v1/queues", headers=headers).json
    assert {q["name"]: q["counts"]["queued"] for q in client_html["queues"]}["exports"] == 5000


def test_bad_filters_and_unknown_queues(client, bearer):
    headers = bearer("operator")
    for path, status in (
        ("/api/v1/queues/default/jobs?registry=everything", 422),
        ("/api/v1/queues/default/jobs?per_page=100000", 422),
        ("/api/v1/queues/default/jobs?kind=" + "x" * 201, 422),
        ("/api/v1/queues/nope/jobs", 404),
        ("/api/v1/queues/nope", 404),
        ("/api/v1/queues/default/throughput?window=week", 422),
        ("/api/v1/queues/nope/throughput", 404),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        assert_error_shape(response)
    assert client.get("/api/v1/queues/default/jobs?page=99999999999999999999", headers=headers).status_code == 422
    assert queue_jobs(client, headers, page=2**31 - 1)["jobs"] == []


def _audit(entity: str, action: str) -> AuditEntry:
    db.session.expire_all()
    return db.session.query(AuditEntry).filter_by(entity=entity, action=action).one()


def test_an_admin_deletes_a_job(app, client, bearer):
    admin, operator = bearer("admin"), bearer("operator")
    job_id = enqueue(0)
    refused = client.delete(f"/api/v1/jobs/{job_id}", headers=operator)
    assert refused.status_code == 403 and Queue("default", connection=app.extensions["redis"]).count == 1
    response = client.delete(f"/api/v1/jobs/{job_id}", headers=admin)
    assert response.status_code == 200
    assert response.json == {"id": job_id, "status": "queued", "queue": "default", "description": "demo"}
    assert Queue("default", connection=app.extensions["redis"]).count == 0
    assert status_of(job_id) == "canceled"
    entry = _audit("rq_job", "delete")
    assert entry.entity_id == job_id and entry.before["status"] == "queued"
    gone = client.delete(f"/api/v1/jobs/{job_id}", headers=admin)
    assert gone.status_code == 404
    assert_error_shape(gone)

    finished = enqueue(0)
    run_worker(app)
    assert client.delete(f"/api/v1/jobs/{finished}", headers=admin).json["status"] == "finished"
    assert status_of(finished) == "finished"  # the history keeps what happened
    assert queue_jobs(client, admin, registry="finished")["paging"]["total"] == 0

    running = enqueue(0)
    Job.fetch(running, connection=app.extensions["redis"]).set_status(JobStatus.STARTED)
    conflict = client.delete(f"/api/v1/jobs/{running}", headers=admin)
    assert conflict.status_code == 409 and "stop it first" in conflict.json["error"]["message"]
    assert_error_shape(conflict)


def test_an_admin_empties_a_queue(app, client, bearer):
    admin = bearer("admin")
    ids = [enqueue(0, queue="sync") for _ in range(3)]
    other = enqueue(0, queue="exports")
    assert client.post("/api/v1/queues/sync/empty", headers=bearer("operator")).status_code == 403
    response = client.post("/api/v1/queues/sync/empty", headers=admin)
    assert response.status_code == 200 and response.json == {"queue": "sync", "deleted": 3}
    connection = app.extensions["redis"]
    assert Queue("sync", connection=connection).count == 0 and Queue("exports", connection=connection).count == 1
    assert all(Job.exists(job_id, connection=connection) is False for job_id in ids)
    assert [status_of(job_id) for job_id in ids] == ["canceled"] * 3 and status_of(other) == "queued"
    entry = _audit("rq_queue", "empty")
    assert entry.entity_id == "sync" and entry.before == {"queued": 3} and entry.after == {"deleted": 3}
    again = client.post("/api/v1/queues/sync/empty", headers=admin)
    assert again.status_code == 409
    assert_error_shape(again)
    assert client.post("/api/v1/queues/nope/empty", headers=admin).status_code == 404


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.dialects  # ILIKE with ESCAPE (icontains autoescape)
def test_queue_page_tabs_filters_and_paging(app, signed_in):
    client, _ = signed_in("operator")
    for _ in range(30):
        enqueue(0, queue="sync")
    html = client.get("/queues/sync").get_data(as_text=True)
    assert 'data-live-topic="queue:sync"' in html and 'id="queue-panel"' in html
    assert 'data-registry="queued"' in html and "Page 1 of 2 · 30 in all" in html
    assert html.count("<tr data-job=") == 25
    assert "Delete" not in html and "empty-queue" not in html  # an operator's page offers no deletion
    finished = client.get("/queues/sync?registry=finished").get_data(as_text=True)
    assert "No finished jobs." in finished
    assert "No queued jobs match" in client.get("/queues/sync?q=no-such-text").get_data(as_text=True)
    panel = client.get("/queues/sync/panel?page=2").get_data(as_text=True)
    assert panel.count("<tr data-job=") == 5 and "<html" not in panel
    assert client.get("/queues/nope").status_code == 404
    overview = client.get("/queues/").get_data(as_text=True)
    assert 'href="/queues/sync"' in overview and 'href="/queues/sync?registry=queued"' in overview


def test_admin_page_deletes_with_a_confirmation_naming_what_goes(app, signed_in):
    client, csrf = signed_in("admin")
    job_id = enqueue(0, queue="sync")
    enqueue(0, queue="sync")
    html = client.get("/queues/sync").get_data(as_text=True)
    assert 'hx-confirm="Delete all 2 queued job(s) of sync?' in html
    assert f'hx-confirm="Delete job {job_id[:8]} (demo, queued) from sync?' in html
    page = client.post(
        f"/queues/jobs/{job_id}/delete", data={"csrf_token": csrf, "back": "/queues/sync"}, follow_redirects=True
    )
    assert f"Job {job_id[:8]} (queued, demo) deleted from &#39;sync&#39;." in page.get_data(as_text=True)
    page = client.post("/queues/sync/empty", data={"csrf_token": csrf}, follow_redirects=True)
    assert "1 queued job(s) of &#39;sync&#39; deleted." in page.get_data(as_text=True)
    page = client.post("/queues/sync/empty", data={"csrf_token": csrf}, follow_redirects=True)
    assert "has no queued job to delete" in page.get_data(as_text=True)


def test_operators_may_not_delete_from_the_pages(app, signed_in):
    client, csrf = signed_in("operator")
    job_id = enqueue(0)
    assert client.post(f"/queues/jobs/{job_id}/delete", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/queues/default/empty", data={"csrf_token": csrf}).status_code == 403
    assert status_of(job_id) == "queued"
