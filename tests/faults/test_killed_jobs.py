"""Jobs killed under real forking workers: the work horse alone (SIGKILL: the worker lives on
and fails the job), the whole worker (its job is abandoned: RQ finds it after WORKER_TTL), a
Redis restart under a busy worker, and jobs whose RQ job is gone. Each case ends with every
domain row final or resumed to final, nothing duplicated, within a bounded time."""

import time

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app.core.jobs import sweeper
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.extensions import db
from tests.conftest import wait_for
from tests.faults.conftest import (
    CHUNK_POINTS,
    POINTS,
    flow_run,
    history,
    kill_horse,
    kill_worker,
    mid_chunk,
    optimization,
    slow_flow_run,
    task_count,
)


def _settled(entity: str, entity_id) -> list[str]:
    """The job history once every row has closed: a job commits its domain row a moment before
    its success callback closes its history row, and lost rows wait out the sweeper's grace."""
    active = {"queued", "started", "retrying"}
    return wait_for(lambda: (rows := history(entity, entity_id)) and not active & set(rows) and rows, timeout=40)


def _final(optimization_id: int) -> bool:
    return optimization(optimization_id).is_final


def _assert_every_point_once(optimization_id: int) -> None:
    row = optimization(optimization_id)
    assert (row.status, row.done, row.total, row.chunks_done) == ("succeeded", POINTS, POINTS, row.chunks_total)
    assert task_count(optimization_id) == (POINTS, POINTS)
    assert (row.finished, row.failed) == (POINTS, 0)  # no point counted failed for its job's trouble


# --- the work horse killed, the worker lives on ---------------------------------------------


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, SWEEP_SECONDS=1)
def test_a_chunk_whose_horse_is_killed_is_resumed_and_every_point_is_saved_once(app, worker_process, big_optimization):
    started = time.monotonic()
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    kill_horse(worker_process)
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.5)
    assert worker_process.poll() is None
    _assert_every_point_once(optimization_id)
    # the killed chunk failed (WorkHorseKilled), the others finished, its resumed one too
    statuses = _settled("optimization", optimization_id)
    assert sorted(statuses) == ["failed", "finished", "finished", "finished"]
    killed = db.session.scalar(select(JobRecord).where(JobRecord.status == "failed"))
    assert "WorkHorseKilled" in killed.error
    assert time.monotonic() - started < 60


@pytest.mark.config(SWEEP_SECONDS=1)
def test_a_flow_run_whose_horse_is_killed_fails_by_itself_saying_its_job_ended(app, worker_process):
    from app.flows.models import FlowRun

    started = time.monotonic()
    run_id = slow_flow_run()
    wait_for(lambda: flow_run(run_id).status == "running", timeout=20, interval=0.1)
    kill_horse(worker_process)
    # nobody opened the run: the sweeper closed it
    wait_for(lambda: flow_run(run_id).status == "failed", timeout=30, interval=0.2)
    run = flow_run(run_id)
    assert run.error.startswith("its job ended as failed without reporting:") and run.ended_at is not None
    assert run.error.endswith("WorkHorseKilled: exit status 9")  # SIGKILL
    assert _settled("flow_run", run_id) == ["failed"]
    assert db.session.scalar(select(func.count()).select_from(FlowRun)) == 1
    assert worker_process.poll() is None
    assert time.monotonic() - started < 30


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=1)
def test_an_export_whose_horse_was_killed_fails_with_a_reason(app):
    """A delta export of a small BOM takes milliseconds: too fast to kill its horse reliably. So
    the export row and its job history row are put in the state a killed horse leaves (the export
    running, the history failed with WorkHorseKilled, as ForgelineWorker.handle_work_horse_killed
    writes it) and the sweep runs here, as the sweeper job would."""
    from app.items import exports
    from app.items.models import BomExport
    from tests.eco.factory import product

    product("PCA-1")
    export = exports.export_delta("PCA-1@A", "PCA-1@B", "by_item", 1, "csv")
    export.status = "running"
    db.session.commit()
    record = db.session.get(JobRecord, export.job_id)
    record.status, record.error = "failed", "app.core.jobs.worker.WorkHorseKilled: exit status 9"
    db.session.commit()

    closed = sweeper.sweep()
    assert (closed["jobs"], closed["app.items.exports.sweep"]) == (0, 1)
    db.session.expire_all()
    export = db.session.scalars(select(BomExport)).one()
    assert (export.status, export.content) == ("failed", None) and export.finished_at is not None
    assert (
        export.error == "its job ended as failed without finishing: app.core.jobs.worker.WorkHorseKilled: exit status 9"
    )
    assert sweeper.sweep()["app.items.exports.sweep"] == 0  # closed once


def test_an_eco_job_whose_rq_job_is_lost_fails_its_run_job_lost(app):
    """The create_job action's job was taken (history `started`), then Redis forgot it."""
    from app.eco import transitions
    from app.eco.models import WorkflowRun
    from tests.eco import factory

    eco = factory.eco()
    factory.rule("Report", "create_job", "after", params={"job": "bom_delta_report"})
    transitions.move(eco.id, "review")
    db.session.commit()
    run = db.session.scalars(select(WorkflowRun)).one()
    assert (run.status, run.result_code) == ("queued", "QUEUED")
    record = db.session.get(JobRecord, run.job_id)
    record.status, record.enqueued_at = "started", record.enqueued_at - 2 * sweeper.GRACE
    db.session.commit()
    Job.fetch(run.job_id, connection=app.extensions["redis"]).delete()

    first = sweeper.sweep()
    assert (first["jobs"], first["app.eco.rules.sweep"]) == (1, 1)  # history lost, then the run failed
    second = sweeper.sweep()
    assert sum(second.values()) == 0
    db.session.expire_all()
    run = db.session.scalars(select(WorkflowRun)).one()
    assert (run.status, run.result_code) == ("failed", "JOB_LOST") and run.finished_at is not None
    assert run.error.startswith("its job ended as lost without finishing: Redis no longer knows this job")
    assert db.session.scalar(select(func.count()).select_from(WorkflowRun)) == 1
    assert [r.status for r in db.session.scalars(select(JobRecord))] == ["lost"]


# --- close_lost_jobs ----------------------------------------------------------------------------


def test_close_lost_jobs_trusts_rq_and_leaves_young_rows_alone(app):
    connection = app.extensions["redis"]
    old = utcnow() - 2 * sweeper.GRACE
    rows = {
        "gone-old": JobRecord(id="gone-old", queue="default", kind="demo", status="queued", enqueued_at=old),
        "gone-young": JobRecord(id="gone-young", queue="default", kind="demo", status="queued", enqueued_at=utcnow()),
        "done-in-rq": JobRecord(id="done-in-rq", queue="default", kind="demo", status="started", enqueued_at=old),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    job = Job.create("app.queues.jobs.demo", id="done-in-rq", connection=connection)
    job.set_status(JobStatus.FINISHED, pipeline=None)
    job.save()

    assert sweeper.close_lost_jobs(connection) == 2
    db.session.commit()
    db.session.expire_all()
    statuses = {row.id: (row.status, row.ended_at is not None) for row in db.session.scalars(select(JobRecord))}
    assert statuses == {
        "gone-old": ("lost", True),
        "gone-young": ("queued", False),
        "done-in-rq": ("finished", True),
    }
    assert "Redis no longer knows this job" in db.session.get(JobRecord, "gone-old").error
    assert "RQ ended it as finished" in db.session.get(JobRecord, "done-in-rq").error
    assert sweeper.close_lost_jobs(connection) == 0


# --- the whole worker killed, a new one takes over ------------------------------------------


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, WORKER_TTL=6, SWEEP_SECONDS=1)
def test_a_chunk_abandoned_by_a_killed_worker_is_resumed_by_the_next_worker(app, start_workers, big_optimization):
    started = time.monotonic()
    first = start_workers(1)[0]
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    kill_worker(first)
    saved_before = optimization(optimization_id).done
    assert 0 < saved_before < POINTS
    second = start_workers(1)[0]
    # RQ's abandoned-job cleanup (no heartbeat for WORKER_TTL) fails the chunk; the sweeper resumes it
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.5)
    assert second.poll() is None
    _assert_every_point_once(optimization_id)
    assert sorted(_settled("optimization", optimization_id)) == ["failed", "finished", "finished", "finished"]
    abandoned = db.session.scalar(select(JobRecord).where(JobRecord.status == "failed"))
    assert "AbandonedJobError" in abandoned.error
    assert time.monotonic() - started < 60


# --- Redis restarted under a busy worker -------------------------------------------------------


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, SWEEP_SECONDS=1)
def test_an_optimization_busy_through_a_redis_restart_ends_final_without_duplicates(
    app, redis_server, worker_process, big_optimization
):
    started = time.monotonic()
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    redis_server.stop()
    time.sleep(1)
    redis_server.start()  # empty: the queued chunk and the started one are gone from RQ
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.5)
    assert worker_process.poll() is None
    _assert_every_point_once(optimization_id)
    statuses = _settled("optimization", optimization_id)
    # the chunk jobs Redis forgot say lost (after the sweeper's grace); the sweeper resumed, once,
    # each lost chunk that still had points to run (one whose points were all saved needs none)
    lost, finished = statuses.count("lost"), statuses.count("finished")
    chunks = optimization(optimization_id).chunks_total
    assert lost >= 1 and lost + finished == len(statuses) and chunks - lost <= finished <= chunks
    assert not {"queued", "started", "retrying"} & set(statuses)
    assert time.monotonic() - started < 60
