"""Queues and workers: RQ registries, workers and the operator's actions, through
the API and the pages, on real Redis with real workers."""

from datetime import UTC, datetime, timedelta

from rq import Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.core import jobs
from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.extensions import db
from tests.conftest import run_worker, wait_for

DEMO_JOB = "app.queues.jobs.demo_job"


def enqueue(*args, queue="default", **kwargs) -> str:
    record = jobs.enqueue("demo", DEMO_JOB, *args, queue=queue, **kwargs)
    db.session.commit()
    return record.id


def status_of(job_id: str) -> str:
    db.session.expire_all()
    return db.session.get(JobRecord, job_id).status


def audit_actions() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(e.entity, e.action) for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]


def counts(client, headers) -> dict[str, dict[str, int]]:
    return {q["name"]: q["counts"] for q in client.get("/api/v1/queues", headers=headers).json["queues"]}


def test_queue_counts_follow_each_registry(app, client, bearer):
    headers = bearer("operator")
    enqueue(0, queue="sync")
    enqueue(0, True, queue="sync")
    before = counts(client, headers)
    assert before["sync"]["queued"] == 2 and before["sync"]["finished"] == 0
    assert set(before) == {"sync", "actions", "exports", "optimize", "flows", "default"}
    run_worker(app)
    after = counts(client, headers)["sync"]
    assert (after["queued"], after["finished"], after["failed"]) == (0, 1, 1)


def test_cancel_a_queued_job_is_audited_and_kept_in_the_canceled_registry(app, client, bearer):
    headers = bearer("operator")
    job_id = enqueue(0)
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert response.status_code == 200 and response.json == {"id": job_id, "status": "canceled"}
    assert counts(client, headers)["default"]["canceled"] == 1
    assert status_of(job_id) == "canceled"
    assert ("rq_job", "cancel") in audit_actions()
    run_worker(app)  # a canceled job never runs
    assert status_of(job_id) == "canceled"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"


def test_requeue_one_failed_job_then_all(app, client, bearer):
    headers = bearer("operator")
    first, second, third = enqueue(0, True), enqueue(0, True), enqueue(0, True, queue="exports")
    run_worker(app)
    assert client.post(f"/api/v1/jobs/{first}/requeue", headers=headers).json["status"] == "queued"
    assert status_of(first) == "queued"
    response = client.post("/api/v1/queues/default/requeue-failed", headers=headers)
    assert response.json == {"queue": "default", "requeued": 1, "left": 0}
    assert status_of(second) == "queued" and status_of(third) == "failed"  # other queues untouched
    run_worker(app)
    db.session.expire_all()
    assert db.session.get(JobRecord, first).attempts == 2
    assert client.post(f"/api/v1/jobs/{first}/requeue", headers=bearer("viewer")).status_code == 403
    assert client.post("/api/v1/queues/nope/requeue-failed", headers=headers).status_code == 404


def test_failed_list_filters_sorts_and_pages(app, client, bearer):
    headers = bearer("operator")
    ids = [enqueue(0, True, queue="sync") for _ in range(3)] + [enqueue(0, True, queue="exports")]
    run_worker(app)
    everything = client.get("/api/v1/queues/failed?per_page=2", headers=headers).json
    assert everything["paging"] == {"page": 1, "per_page": 2, "total": 4, "pages": 2}
    sync = client.get("/api/v1/queues/failed?queue=sync&sort=oldest&per_page=10", headers=headers).json
    assert [j["id"] for j in sync["jobs"]] == ids[:3]
    newest = client.get("/api/v1/queues/failed?queue=sync&sort=newest", headers=headers).json
    assert [j["id"] for j in newest["jobs"]] == ids[2::-1]
    assert all(j["error"] == "app.queues.jobs.DemoFailure: the demo job was asked to fail" for j in sync["jobs"])
    assert client.get("/api/v1/queues/failed?q=timeout", headers=headers).json["paging"]["total"] == 0
    assert client.get("/api/v1/queues/failed?q=ASKED", headers=headers).json["paging"]["total"] == 4
    bad = client.get("/api/v1/queues/failed?sort=sideways", headers=headers)
    assert bad.status_code == 422


def test_failed_list_pages_a_big_registry_reading_only_the_jobs_it_shows(app, client, bearer, monkeypatch):
    """500 failed jobs, 100 of them within one second: pages in exact failure order (RQ's
    registry scores are whole seconds), and a page decodes only its own 20 jobs."""
    connection = app.extensions["redis"]
    registry = FailedJobRegistry(queue=Queue("sync", connection=connection))
    first = datetime(2026, 1, 1, tzinfo=UTC)
    failed_at = {}
    pipe = connection.pipeline()
    for n in range(500):
        job = Job.create(DEMO_JOB, args=(0, True), connection=connection, origin="sync")
        job.ended_at = first + timedelta(seconds=n // 100, microseconds=(n * 7919) % 100 * 1000)
        failed_at[job.id] = job.ended_at
        job.save(pipeline=pipe)
        registry.add(job, ttl=3600, pipeline=pipe)
    pipe.execute()
    fetched = []
    fetch_many = Job.fetch_many
    monkeypatch.setattr(Job, "fetch_many", lambda ids, **kw: fetched.append(len(ids)) or fetch_many(ids, **kw))
    oldest = sorted(failed_at, key=lambda i: (failed_at[i], i))
    headers = bearer("operator")
    for page, sort, expected in (
        (1, "oldest", oldest[:20]),
        (3, "newest", oldest[::-1][40:60]),
        (25, "oldest", oldest[480:]),
    ):
        answer = client.get(
            f"/api/v1/queues/failed?queue=sync&sort={sort}&page={page}&per_page=20", headers=headers
        ).json
        assert [j["id"] for j in answer["jobs"]] == expected
        assert answer["paging"]["total"] == 500
    assert fetched == [20, 20, 20]


def test_job_detail_has_args_meta_timings_traceback_and_history(app, client, bearer):
    job_id = enqueue(0, True)
    run_worker(app)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=bearer("operator")).json
    assert job["status"] == "failed" and job["queue"] == "default" and job["in_redis"] is True
    assert job["func"] == "app.queues.jobs.demo_job" and job["args"] == ["0", "True"]
    assert job["meta"]["kind"] == "demo" and job["timeout"] == 600
    assert "Traceback" in job["traceback"] and "DemoFailure" in job["traceback"]
    assert job["history"]["attempts"] == 1 and job["history"]["status"] == "failed"
    assert job["started_at"] and job["ended_at"]


def test_workers_show_state_and_current_job(app, client, bearer, worker_process):
    headers = bearer("operator")
    # idle once the sweep every new worker offers at start has run
    workers = wait_for(
        lambda: [w for w in client.get("/api/v1/workers", headers=headers).json["workers"] if w["state"] == "idle"]
    )
    assert len(workers) == 1 and workers[0]["last_heartbeat"]
    assert set(workers[0]["queues"]) == {"sync", "actions", "exports", "optimize", "flows", "default"}
    job_id = enqueue(20)
    wait_for(lambda: status_of(job_id) == "started")
    busy = wait_for(
        lambda: [
            w for w in client.get("/api/v1/workers", headers=headers).json["workers"] if w["current_job_id"] == job_id
        ]
    )
    assert busy[0]["state"] == "busy"

    # stop the running job: RQ kills the work horse, the job lands in failed with status stopped
    response = client.post(f"/api/v1/jobs/{job_id}/stop", headers=headers)
    assert response.status_code == 200
    wait_for(lambda: status_of(job_id) == "stopped")
    # RQ runs the on_stopped callback a moment before it files the job as stopped
    wait_for(lambda: Job.fetch(job_id, connection=app.extensions["redis"]).get_status() == "stopped")
    assert ("rq_job", "stop") in audit_actions()
    assert client.post(f"/api/v1/jobs/{job_id}/stop", headers=headers).status_code == 409


def test_unknown_job_is_404(client, bearer):
    response = client.get("/api/v1/jobs/0123456789abcdef", headers=bearer("operator"))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_demo_job_from_the_api_is_audited(app, client, bearer):
    response = client.post("/api/v1/jobs/demo", json={"seconds": 0}, headers=bearer("operator"))
    assert response.status_code == 202
    assert Queue("default", connection=app.extensions["redis"]).job_ids == [response.json["id"]]
    assert ("rq_job", "enqueue") in audit_actions()


# --- pages -----------------------------------------------------------------------------------


def test_queues_page_shows_counts_workers_and_an_empty_state(signed_in):
    client, _ = signed_in("operator")
    html = client.get("/queues/").get_data(as_text=True)
    assert 'data-queue="optimize"' in html and "No worker is running" in html and "No jobs yet" in html
    assert 'data-live-topic="queue:sync queue:actions' in html


def test_enqueue_demo_from_the_page_then_see_it_listed(app, signed_in):
    client, csrf = signed_in("operator")
    response = client.post("/queues/demo", data={"seconds": "0", "csrf_token": csrf}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "enqueued on &#39;default&#39;" in html
    job_id = db.session.query(JobRecord).one().id
    assert f'data-job="{job_id}"' in html
    run_worker(app)
    partial = client.get("/queues/panel").get_data(as_text=True)
    assert "badge-finished" in partial


def test_page_actions_need_csrf_and_report_conflicts(app, signed_in):
    client, csrf = signed_in("operator")
    job_id = enqueue(0)
    assert client.post(f"/queues/jobs/{job_id}/cancel").status_code == 400  # no CSRF token
    assert status_of(job_id) == "queued"
    client.post(f"/queues/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    page = client.post(f"/queues/jobs/{job_id}/cancel", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Only queued, deferred or scheduled jobs can be canceled" in page.get_data(as_text=True)


def test_failed_page_filters_and_requeues_all(app, signed_in):
    client, csrf = signed_in("operator")
    enqueue(0, True, queue="sync")
    enqueue(0, True, queue="exports")
    run_worker(app)
    html = client.get("/queues/failed?queue=sync").get_data(as_text=True)
    assert "1 in all" in html and "Requeue all failed jobs of sync" in html and "DemoFailure" in html
    assert "No failed jobs match" in client.get("/queues/failed?q=nothing-like-this").get_data(as_text=True)
    page = client.post("/queues/sync/requeue-failed", data={"csrf_token": csrf}, follow_redirects=True)
    assert "1 failed job(s) of &#39;sync&#39; requeued" in page.get_data(as_text=True)


def test_job_page_shows_traceback_and_history(app, signed_in):
    client, _ = signed_in("operator")
    job_id = enqueue(0, True, retry=Retry(max=1))
    run_worker(app)
    html = client.get(f"/queues/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-status">failed</span>' in html  # RQ's status by value, not JobStatus.FAILED
    assert "Traceback" in html and "DemoFailure" in html and f'data-live-topic="job:{job_id}"' in html
    assert "<dt>Attempts</dt><dd>2</dd>" in html
    assert client.get("/queues/jobs/nope-nope").status_code == 404


def test_job_page_of_a_job_that_has_not_reported_progress_yet(app, signed_in):
    client, _ = signed_in("operator")
    job_id = enqueue(1)  # queued, no worker yet: its RQ meta has no progress
    for path in (f"/queues/jobs/{job_id}", f"/queues/jobs/{job_id}/panel"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert 'id="job-status">queued</span>' in html and "<progress" not in html


def die_abruptly() -> None:
    """Run by the worker: the work horse is killed as the OS would kill it (out of memory)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_work_horse_closes_the_history_row(app, worker_process):
    record = jobs.enqueue("doomed", "tests.queues.test_queues.die_abruptly", queue="default")
    db.session.commit()
    wait_for(lambda: status_of(record.id) == "failed")
    db.session.expire_all()
    row = db.session.get(JobRecord, record.id)
    assert "WorkHorseKilled" in row.error and row.ended_at is not None
    # the hook that closes the row runs just before RQ files the job as failed
    wait_for(lambda: Job.fetch(record.id, connection=app.extensions["redis"]).get_status() == "failed")


def test_htmx_form_aimed_at_the_flash_area_answers_in_place(app, signed_in):
    client, csrf = signed_in("operator")
    headers = {"HX-Request": "true", "HX-Target": "flashes"}
    response = client.post("/queues/demo", data={"seconds": "0", "csrf_token": csrf}, headers=headers)
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert 'class="flash flash-success"' in response.get_data(as_text=True)
    bad = client.post("/queues/demo", data={"seconds": "9999", "csrf_token": csrf}, headers=headers)
    assert "flash-error" in bad.get_data(as_text=True) and "between 0 and 600" in bad.get_data(as_text=True)
    assert db.session.query(JobRecord).count() == 1
