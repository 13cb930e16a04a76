"""What the job history says about the work done, aggregated in SQL: recent jobs grouped by the
record they worked for (one optimization's chunks are one line), and per queue the jobs ended
and the failure rate in time buckets over the last hour or day."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from app.core.capability import queue_names
from app.core.errors import InvalidInput
from app.core.jobs.models import JobRecord, JobState
from app.core.paging import Page, distinct_values, paginate
from app.core.timeutil import utcnow
from app.extensions import db

FAILED = (JobState.failed, JobState.stopped, JobState.lost)
WAITING = (JobState.queued, JobState.retrying)
# window: (span, bucket)
WINDOWS = {"hour": (timedelta(hours=1), timedelta(minutes=5)), "day": (timedelta(days=1), timedelta(hours=1))}


def _count(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


RECENT_WINDOW = (
    10_000  # groups are made of the newest jobs this many: the page costs the same whatever the history holds
)


def _group_key(job):
    """Jobs that worked for one record (entity, id) of one kind are one group; any other job is its own."""
    return case((job.entity_id.is_not(None), job.kind + ":" + job.entity + ":" + job.entity_id), else_=job.id)


def recent_groups(kind: str | None = None, queue: str | None = None, page: int = 1, per_page: int = 15) -> Page:
    """Groups among the newest RECENT_WINDOW jobs (of this kind and queue), the most recently
    enqueued first; items are dicts (see `_group`)."""
    newest = select(JobRecord).order_by(JobRecord.enqueued_at.desc()).limit(RECENT_WINDOW)
    if kind:
        newest = newest.where(JobRecord.kind == kind)
    if queue:
        newest = newest.where(JobRecord.queue == queue)
    job = aliased(JobRecord, newest.subquery())
    key = _group_key(job).label("key")
    last = func.max(job.enqueued_at)
    query = select(
        key,
        func.min(job.kind),
        func.min(job.queue),
        func.min(job.entity),
        func.min(job.entity_id),
        func.count(),
        _count(job.status == JobState.finished),
        _count(job.status.in_(FAILED)),
        _count(job.status == JobState.started),
        _count(job.status.in_(WAITING)),
        _count(job.status == JobState.canceled),
        func.min(job.id),
        func.min(job.status),
        func.min(job.actor),
        func.min(job.enqueued_at),
        last,
        func.max(job.ended_at),
        func.sum(job.duration),
        func.max(job.wait),
        func.max(job.attempts),
    )
    found = paginate(query.group_by(key).order_by(last.desc(), key), page, per_page, rows=True)
    found.items = [_group(row) for row in found.items]
    return found


def _group(row) -> dict[str, Any]:
    (
        key,
        kind,
        queue,
        entity,
        entity_id,
        jobs,
        finished,
        failed,
        running,
        waiting,
        canceled,
        first_id,
        status,
        actor,
        first_enqueued,
        last_enqueued,
        last_ended,
        duration,
        wait,
        attempts,
    ) = row
    one = jobs == 1
    return {
        "key": key,
        "kind": kind,
        "queue": queue,
        "entity": entity,
        "entity_id": entity_id,
        "jobs": jobs,
        "finished": int(finished or 0),
        "failed": int(failed or 0),
        "running": int(running or 0),
        "waiting": int(waiting or 0),
        "canceled": int(canceled or 0),
        "job_id": first_id if one else None,  # a group of one links to its job
        "status": status if one else _group_status(int(running or 0), int(waiting or 0), int(failed or 0)),
        "actor": actor,
        "first_enqueued": first_enqueued,
        "last_enqueued": last_enqueued,
        "last_ended": last_ended,
        "duration": duration,
        "wait": wait,
        "attempts": attempts,
    }


def _group_status(running: int, waiting: int, failed: int) -> str:
    """A group reads as its most pressing state: running, else waiting, else failed when any failed."""
    if running:
        return JobState.started
    if waiting:
        return JobState.queued
    return JobState.failed if failed else JobState.finished


def group_jobs(kind: str, entity: str, entity_id: str, page: int = 1, per_page: int = 25) -> Page:
    """The jobs of one group, the newest first."""
    query = (
        select(JobRecord)
        .where(JobRecord.kind == kind, JobRecord.entity == entity, JobRecord.entity_id == entity_id)
        .order_by(JobRecord.enqueued_at.desc(), JobRecord.id)
    )
    return paginate(query, page, per_page)


def all_kinds() -> list[str]:
    return distinct_values(JobRecord.kind)


@dataclass
class Bucket:
    start: datetime
    finished: int
    failed: int

    @property
    def ended(self) -> int:
        return self.finished + self.failed

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.ended if self.ended else None


def throughput(window: str, queue: str | None = None, now: datetime | None = None) -> dict[str, list[Bucket]]:
    """Per queue (or one), the jobs that ended in each bucket of the window: finished, and failed
    (failed, stopped or lost). The last bucket is the current one, still filling."""
    if window not in WINDOWS:
        raise InvalidInput(f"Unknown window {window!r}.", {"allowed": list(WINDOWS)})
    span, step = WINDOWS[window]
    now = now or utcnow()
    epoch = datetime(2000, 1, 1, tzinfo=now.tzinfo)
    end = epoch + ((now - epoch) // step + 1) * step
    start = end - span
    count = span // step
    starts = [start + i * step for i in range(count)]
    bucket = case(*((JobRecord.ended_at < moment + step, i) for i, moment in enumerate(starts)), else_=count - 1)
    query = (
        select(
            JobRecord.queue, bucket, _count(JobRecord.status == JobState.finished), _count(JobRecord.status.in_(FAILED))
        )
        .where(JobRecord.ended_at >= start, JobRecord.ended_at < end)
        .group_by(JobRecord.queue, bucket)
    )
    # by queue name, so each queue is one range of ix_job_history_queue_ended
    query = query.where(JobRecord.queue == queue) if queue else query.where(JobRecord.queue.in_(queue_names()))
    found: dict[str, list[Bucket]] = {}
    for name, index, finished, failed in db.session.execute(query):
        series = found.setdefault(name, [Bucket(moment, 0, 0) for moment in starts])
        series[index] = Bucket(starts[index], int(finished or 0), int(failed or 0))
    if queue and queue not in found:
        found[queue] = [Bucket(moment, 0, 0) for moment in starts]
    return found
