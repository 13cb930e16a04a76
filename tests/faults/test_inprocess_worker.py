"""The in-process worker (`flask worker --queues optimize`: no fork per job, see
app/core/jobs/worker.py) keeps the guarantees of the forking one: a job past its timeout fails
and the worker goes on, a killed worker's chunk is found abandoned and resumed by the next
worker, a Redis restart under a busy worker ends the optimization final without duplicates. The
sweeper's job runs on `default`, so those tests keep a worker there too, as a deployment does."""

import os
import time

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.core.jobs.models import JobRecord
from app.extensions import db
from tests.conftest import wait_for
from tests.faults.conftest import CHUNK_POINTS, POINTS, children, kill_worker, mid_chunk, optimization, task_count
from tests.faults.test_killed_jobs import _assert_every_point_once, _final, _settled


def _no_horse(worker) -> bool:
    """No child leads a process group of its own: the jobs ran in the worker itself."""
    return all(os.getpgid(pid) != pid for pid in children(worker.pid) if _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.getpgid(pid)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, SWEEP_SECONDS=1)
def test_a_job_past_its_timeout_fails_and_the_in_process_worker_takes_the_next(app, start_workers, big_optimization):
    worker = start_workers(1, queues="optimize")[0]
    connection = app.extensions["redis"]
    slow = Queue("optimize", connection=connection).enqueue("time.sleep", 30, job_timeout=1)
    optimization_id = big_optimization()
    started = time.monotonic()
    wait_for(lambda: slow.get_status(refresh=True) == JobStatus.FAILED, timeout=20, interval=0.1)
    assert time.monotonic() - started < 10  # the 30 s sleep was cut at its 1 s timeout
    assert "JobTimeoutException" in Job.fetch(slow.id, connection=connection).latest_result().exc_string
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.2)
    assert worker.poll() is None and _no_horse(worker)
    _assert_every_point_once(optimization_id)


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, WORKER_TTL=6, SWEEP_SECONDS=1)
def test_a_chunk_abandoned_by_a_killed_in_process_worker_is_resumed_by_the_next(app, start_workers, big_optimization):
    started = time.monotonic()
    start_workers(1, queues="default")  # the sweeper's job runs on `default`, as in a real deployment
    first = start_workers(1, queues="optimize")[0]
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    kill_worker(first)
    assert 0 < optimization(optimization_id).done < POINTS
    second = start_workers(1, queues="optimize")[0]
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.5)
    assert second.poll() is None
    _assert_every_point_once(optimization_id)
    assert sorted(_settled("optimization", optimization_id)) == ["failed", "finished", "finished", "finished"]
    abandoned = db.session.scalar(select(JobRecord).where(JobRecord.status == "failed"))
    assert "AbandonedJobError" in abandoned.error
    assert time.monotonic() - started < 60


@pytest.mark.config(OPTIMIZATION_CHUNK_POINTS=CHUNK_POINTS, SWEEP_SECONDS=1)
def test_an_optimization_on_an_in_process_worker_through_a_redis_restart_ends_final_once(
    app, redis_server, start_workers, big_optimization
):
    start_workers(1, queues="default")  # the sweeper's job runs on `default`, as in a real deployment
    worker = start_workers(1, queues="optimize")[0]
    optimization_id = big_optimization()
    wait_for(lambda: mid_chunk(optimization_id), timeout=30, interval=0.05)
    redis_server.stop()
    time.sleep(1)
    redis_server.start()  # empty: the queued chunk and the started one are gone from RQ
    wait_for(lambda: _final(optimization_id), timeout=60, interval=0.5)
    assert worker.poll() is None
    _assert_every_point_once(optimization_id)
    assert task_count(optimization_id) == (POINTS, POINTS)
    statuses = _settled("optimization", optimization_id)
    assert "lost" in statuses and not {"queued", "started", "retrying"} & set(statuses)
