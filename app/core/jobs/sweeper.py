"""The sweeper: nothing stays running after its job is gone.

A scheduled RQ job (`sweep`, on the default queue, every SWEEP_SECONDS at most
once across all workers: each idle worker's maintenance step offers it, a
Redis lock lets one through). It

1. lets RQ find abandoned jobs (`StartedJobRegistry.cleanup()`: a started job
   whose worker stopped heartbeating goes to the failed registry, through our
   failure callback, or is retried when it has retries left);
2. closes job history rows RQ no longer agrees with: a queued or started row
   whose job Redis forgot (a restart; Redis keeps nothing) becomes `lost`, one
   whose job RQ ended without our callback running takes RQ's final status;
3. calls each capability's `sweep` hook (its Capability descriptor names it),
   which closes or resumes that capability's rows whose job has ended without
   saying so (a killed work horse, a lost job), committing after each;
4. folds the rollups' pending rows (app/core/rollup.py), so that the overview's
   long windows sum settled hours.

Rows younger than GRACE are left alone: their job may still be on its way to Redis.
"""

import logging
from datetime import timedelta
from typing import TypeVar

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.utils import import_string

from app.core import rediskeys, rollup
from app.core.capability import DEFAULT_QUEUE, queue_names, registry
from app.core.jobs.models import ACTIVE_STATUSES, FINAL_STATUSES, JobRecord, JobState
from app.core.timeutil import utcnow
from app.extensions import db, redis_client

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=15)
BATCH = 500
T = TypeVar("T")
RQ_FINAL = {s.value: s for s in (JobState.finished, JobState.failed, JobState.stopped, JobState.canceled)}


def offer(connection: Redis, interval: int) -> bool:
    """From a worker's maintenance step: enqueue a sweep unless one was offered this interval."""
    if not connection.set(rediskeys.key("sweeper", "lock"), 1, nx=True, ex=max(1, interval - 1)):
        return False
    Queue(DEFAULT_QUEUE, connection=connection).enqueue(
        "app.core.jobs.sweeper.sweep", job_timeout=300, result_ttl=0, failure_ttl=3600, description="sweeper"
    )
    return True


def sweep() -> dict[str, int]:
    """The job: what it closed, by kind."""
    connection = redis_client()
    for name in queue_names():
        StartedJobRegistry(name, connection=connection).cleanup()
    closed = {"jobs": close_lost_jobs(connection)}
    db.session.commit()
    for path in registry().sweeps:
        try:
            closed[path] = import_string(path)() or 0
            db.session.commit()
        except Exception:  # one capability's trouble must not stop the others' sweep
            db.session.rollback()
            log.exception("sweep %s failed", path)
    closed["rollups"] = sum(rollup.compact_all().values())
    return closed


def close_lost_jobs(connection: Redis) -> int:
    """Job history rows still active whose RQ job is gone or ended; the caller commits."""
    rows = list(
        db.session.scalars(
            select(JobRecord)
            .where(JobRecord.status.in_(ACTIVE_STATUSES), JobRecord.enqueued_at < utcnow() - GRACE)
            .order_by(JobRecord.enqueued_at)
            .limit(BATCH)
        )
    )
    changed = 0
    for row, job in zip(rows, Job.fetch_many([r.id for r in rows], connection=connection), strict=True):
        status, error = _rq_verdict(job)
        if status is not None:
            row.status, row.ended_at, row.error = status, utcnow(), row.error or error
            changed += 1
    return changed


def _rq_verdict(job: Job | None) -> tuple[JobState | None, str | None]:
    if job is None:
        return JobState.lost, "Redis no longer knows this job (restarted or flushed); it did not run to its end"
    rq_status = job.get_status(refresh=False)  # RQ's JobStatus is (str, Enum): str() of it is "JobStatus.FINISHED"
    status = RQ_FINAL.get(JobStatus(rq_status).value) if rq_status else None
    return status, f"RQ ended it as {status} without telling the history" if status else None


def stalled(active: Select[tuple[T]], job_id: InstrumentedAttribute[str | None]) -> list[tuple[T, JobRecord]]:
    """For a capability's sweep hook: which of its `active` rows (a select of still-running
    rows) have a job that has ended, each with that job's final history row."""
    rows = list(db.session.scalars(active.where(job_id.is_not(None)).limit(BATCH)))
    ids = [getattr(row, job_id.key) for row in rows]
    query = select(JobRecord).where(JobRecord.id.in_(ids), JobRecord.status.in_(FINAL_STATUSES))
    ended = {record.id: record for record in db.session.scalars(query)} if ids else {}
    return [(row, ended[job]) for row, job in zip(rows, ids, strict=True) if job in ended]


def attempts(entity: str, entity_id: object) -> int:
    """How many jobs were enqueued for this domain row (a hook resumes a row only so often)."""
    query = select(func.count()).where(JobRecord.entity == entity, JobRecord.entity_id == str(entity_id))
    return db.session.scalar(query) or 0


def why(record: JobRecord) -> str:
    """The sentence a hook puts on the domain row it closes."""
    return f"its job ended as {record.status} without finishing: {record.error or 'no error recorded'}"
