"""Keeps the job history table true to RQ: the worker marks a job started,
RQ's callbacks mark it finished / failed / stopped; every change is also
published on the live channel (topics `job:<id>` and `queue:<name>`)."""

import traceback as tb
from typing import Any

from rq.job import Job
from sqlalchemy import case, func, select, update

from app.core import capability, live
from app.core.jobs.models import JobRecord, JobState
from app.core.timeutil import utcnow
from app.extensions import db

ERROR_SUMMARY_LENGTH = 2000


def _update(job_id: str, **values: Any) -> JobRecord | None:
    record = db.session.get(JobRecord, job_id)
    if record is None:  # enqueued by something other than app.core.jobs.enqueue
        return None
    for key, value in values.items():
        setattr(record, key, value)
    return record


def may_see(user, job_id: str) -> bool:
    """`job:<id>` for someone without the operator role: a job linked to a record follows that
    record's rule (an optimization's chunk: its owner); any other job, whoever started it."""
    record = db.session.get(JobRecord, job_id)
    if record is None:
        return False
    if record.entity:
        verdict = capability.may_see(user, record.entity, record.entity_id or "")
        if verdict is not None:
            return verdict
    return record.actor == user.username


def event_data(job: Job, record: JobRecord | None = None) -> dict[str, Any]:
    data = {
        "id": job.id,
        "queue": job.origin,
        "kind": job.meta.get("kind", job.func_name),
        "status": record.status if record else job.get_status(refresh=False),
        "progress": job.meta.get("progress"),
        "message": job.meta.get("message"),
    }
    if record is not None:
        data.update(attempts=record.attempts, duration=record.duration, error=record.error)
    return data


def announce(job: Job, kind: str, record: JobRecord | None = None) -> None:
    data = event_data(job, record)
    live.publish(f"job:{job.id}", kind, data)
    live.publish(f"queue:{job.origin}", kind, data)


def mark_started(job: Job) -> None:
    now = utcnow()
    record = db.session.get(JobRecord, job.id)
    if record is None:
        return
    record.status, record.started_at, record.ended_at = JobState.started, now, None
    record.wait = (now - record.enqueued_at).total_seconds()
    record.attempts += 1
    record.error = None
    db.session.commit()
    announce(job, "job_started", record)


def _duration(record: JobRecord) -> float | None:
    if record.started_at is None:
        return None
    return (utcnow() - record.started_at).total_seconds()


def _finish(job: Job, status: JobState, kind: str, error: str | None = None) -> None:
    db.session.rollback()  # a job that failed mid-transaction must not leak its half-done work
    record = db.session.get(JobRecord, job.id)
    if record is None:
        return
    record.status, record.ended_at, record.error = status, utcnow(), error
    record.duration = _duration(record)
    db.session.commit()
    announce(job, kind, record)


def on_success(job: Job, connection, result, *args, **kwargs) -> None:
    _finish(job, JobState.finished, "job_completed")


def on_failure(job: Job, connection, exc_type, exc_value, traceback) -> None:
    summary = "".join(tb.format_exception_only(exc_type, exc_value)).strip()[:ERROR_SUMMARY_LENGTH]
    status, kind = (JobState.retrying, "job_retrying") if job.retries_left else (JobState.failed, "job_failed")
    _finish(job, status, kind, summary)


def on_stopped(job: Job, connection) -> None:
    _finish(job, JobState.stopped, "job_stopped", "stopped by an operator")


def set_status(job_id: str, status: JobState) -> JobRecord | None:
    """For changes made through the queues page (cancel, requeue); the caller commits."""
    values: dict[str, Any] = {"status": status}
    if status == JobState.queued:
        values.update(ended_at=None, error=None)
    else:
        values["ended_at"] = utcnow()
    return _update(job_id, **values)


def set_canceled(job_ids: list[str]) -> None:
    """Many jobs canceled at once (by a capability that canceled them in RQ), in one statement;
    the caller commits."""
    if job_ids:
        db.session.execute(
            update(JobRecord).where(JobRecord.id.in_(job_ids)).values(status=JobState.canceled, ended_at=utcnow())
        )


def get(job_id: str) -> JobRecord | None:
    return db.session.get(JobRecord, job_id)


def recent(limit: int = 20) -> list[JobRecord]:
    return list(db.session.scalars(select(JobRecord).order_by(JobRecord.enqueued_at.desc()).limit(limit)))


def histogram(column: str, buckets: tuple[float, ...]) -> list[tuple[str, list[int], float]]:
    """Per queue: cumulative bucket counts (with +Inf last) and the sum, in one SQL query."""
    value = getattr(JobRecord, column)
    counts = [func.sum(case((value <= bound, 1), else_=0)) for bound in buckets]
    rows = db.session.execute(
        select(JobRecord.queue, *counts, func.count(), func.sum(value))
        .where(value.is_not(None))
        .group_by(JobRecord.queue)
        .order_by(JobRecord.queue)
    )
    return [(row[0], [int(c or 0) for c in row[1:-1]], float(row[-1] or 0)) for row in rows]
