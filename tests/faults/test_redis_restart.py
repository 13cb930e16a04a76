"""Redis restarted (it keeps nothing) under a real forking worker, idle or busy: the worker
lives on, is listed again within one heartbeat, and takes new jobs."""

import time

import pytest
from rq import Worker

from app.core.jobs.models import JobRecord
from app.extensions import db
from app.queues import service
from tests.conftest import wait_for
from tests.faults.conftest import horse


def _demo(seconds: int) -> str:
    job_id = service.enqueue_demo(seconds, False)
    db.session.commit()
    return job_id


def _status(job_id: str) -> str:
    db.session.expire_all()
    return db.session.get(JobRecord, job_id).status


def _listed(app) -> int:
    return len(Worker.all(connection=app.extensions["redis"]))


def _heartbeat(app) -> int:
    return max(1, app.config["WORKER_TTL"] - 15)  # an idle worker's heartbeat interval (RQ's dequeue timeout)


def _restart(redis_server) -> None:
    redis_server.stop()
    time.sleep(1)
    redis_server.start()


def test_an_idle_worker_is_listed_again_within_one_heartbeat_and_works(app, redis_server, worker_process):
    assert _listed(app) == 1
    _restart(redis_server)
    assert _listed(app) == 0  # Redis forgot everything
    wait_for(lambda: _listed(app) == 1, timeout=_heartbeat(app) + 5, interval=0.5)
    job_id = _demo(1)
    wait_for(lambda: _status(job_id) == "finished", timeout=20, interval=0.2)
    assert worker_process.poll() is None


def test_a_busy_worker_survives_a_redis_restart_and_takes_the_next_job(app, redis_server, worker_process):
    busy = _demo(3)
    wait_for(lambda: _status(busy) == "started", timeout=20, interval=0.1)
    _restart(redis_server)
    # the job has ended (or failed to report) meanwhile: its work horse is gone
    wait_for(lambda: horse(worker_process) is None, timeout=20, interval=0.1)
    assert worker_process.poll() is None, worker_process.stderr.read().decode()[-2000:]
    wait_for(lambda: _listed(app) == 1, timeout=_heartbeat(app) + 5, interval=0.5)
    job_id = _demo(1)
    wait_for(lambda: _status(job_id) == "finished", timeout=20, interval=0.2)


@pytest.mark.config(WORKER_TTL=6)  # the wait is WORKER_TTL: the shortest the fault suite runs with
def test_a_killed_worker_leaves_the_worker_list_within_worker_ttl(app, worker_process):
    from app.queues.service import worker_counts
    from tests.faults.conftest import kill_worker

    assert [w["pid"] for w in service.workers()] == [worker_process.pid]
    killed = time.monotonic()
    kill_worker(worker_process)
    wait_for(lambda: service.workers() == [], timeout=app.config["WORKER_TTL"] + 5, interval=0.5)
    assert time.monotonic() - killed <= app.config["WORKER_TTL"] + 5  # RQ alone kept it WORKER_TTL + 60 s
    assert dict(worker_counts())["idle"] == 0  # rq_workers agrees with the list
