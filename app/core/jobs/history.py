"""Keeps the job history table true to RQ: the worker marks a job started,
RQ's callbacks mark it finished / failed / stopped; every change is also
published on the live channel (topics `job:<id>` and `queue:<name>`; an end also on `ops:jobs`)."""

import math
import traceback as tb
from datetime import datetime
from typing import Any

from rq.job import Job
from sqlalchemy import case, func, select, update

from app.core import capability, live, rollup
from app.core.buckets import Buckets
from app.core.jobs.models import JobRecord, JobState
from app.core.metrics import JOB_EXEC_BUCKETS, QUEUE_WAIT_BUCKETS
from app.core.rates import ratio, zero_counts
from app.core.timeutil import utcnow
from app.extensions import db

ERROR_SUMMARY_LENGTH = 2000
# every job's end is also told on the overview's topic (Access kind "ops" in app/ops): a light
# event (queue and status) on which its cards re-read themselves
OPS_TOPIC = "ops:jobs"


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
    live.publish(OPS_TOPIC, "job_ended", {"queue": job.origin, "status": status})


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


def histogram(column: str) -> list[tuple[str, list[int], float]]:
    """Prometheus' histogram of `column` over the whole history (TIMINGS): per queue the
    cumulative bucket counts (with +Inf last) and the sum, from the rollup."""
    bounds = len(TIMING_BOUNDS[column])
    per_queue: dict[str, tuple[list[int], list[float]]] = {}
    for queue, le, n, total in rollup.all_time(TIMINGS[column]):
        counts, summed = per_queue.setdefault(queue, ([0] * (bounds + 1), [0.0]))
        counts[int(le)] += n
        summed[0] += total
    return [
        (queue, [sum(counts[: i + 1]) for i in range(bounds + 1)], summed[0])
        for queue, (counts, summed) in sorted(per_queue.items())
    ]


FAILED_STATUSES = (JobState.failed, JobState.stopped, JobState.lost)  # ended without finishing, not canceled


# The overview's rollups of the history (app/core/rollup.py): jobs per enqueue hour, queue and
# status; and per enqueue day and queue a histogram of the duration and of the wait, in bins
# e^(1/BINS_PER_E) wide (6.5 %), so that a percentile read from it is within 3.2 % of the exact one.
BINS_PER_E = 16
ZERO_BIN = -(2**31)  # 0 s (or a clock that went back)


def _bin_sql(column: str) -> str:
    value = f"{{r}}.{column}"
    return f"CASE WHEN {value} > 0 THEN CAST(floor(ln({value}) * {BINS_PER_E}) AS BIGINT) ELSE {ZERO_BIN} END"


def _histogram(column: str) -> rollup.Rollup:
    return rollup.Rollup(
        f"rollup_job_{column}s",
        "job_history",
        "enqueued_at",
        dims=(("queue", "{r}.queue", "text"), ("bin", _bin_sql(column), "int")),
        grains=(rollup.DAY, rollup.WEEK),
        where=f"{{r}}.{column} IS NOT NULL",
    )


JOBS = rollup.Rollup(
    "rollup_job_history",
    "job_history",
    "enqueued_at",
    dims=(("queue", "{r}.queue", "text"), ("status", "{r}.status", "text")),
)
# the trends' buckets are as long as days but start anywhere, so they read hours: of as few keys
# as they need (queue, and whether the job failed), a tenth of JOBS' rows
_FAILED_SQL = rollup.quoted(status.value for status in FAILED_STATUSES)
JOB_TRENDS = rollup.Rollup(
    "rollup_job_trends",
    "job_history",
    "enqueued_at",
    dims=(
        ("queue", "{r}.queue", "text"),
        ("failed", f"CASE WHEN {{r}}.status IN ({_FAILED_SQL}) THEN 1 ELSE 0 END", "int"),
    ),
    grains=(rollup.HOUR,),
)
HISTOGRAMS = {column: _histogram(column) for column in ("duration", "wait")}


def _timing(column: str) -> rollup.Rollup:
    """Prometheus' job_exec_seconds and queue_wait_seconds (app/core/metrics.py) count every job
    of the history: per enqueue day and queue, the first of the bounds the value is within
    (len(bounds): +Inf), with the values' sum."""
    bounds = TIMING_BOUNDS[column]
    within = " ".join(f"WHEN {{r}}.{column} <= {bound} THEN {i}" for i, bound in enumerate(bounds))
    return rollup.Rollup(
        f"rollup_job_{column}_le",
        "job_history",
        "enqueued_at",
        dims=(("queue", "{r}.queue", "text"), ("le", f"CASE {within} ELSE {len(bounds)} END", "int")),
        grains=(rollup.WEEK,),  # read whole (all_time)
        where=f"{{r}}.{column} IS NOT NULL",
        sums=(("total", f"{{r}}.{column}"),),
    )


TIMING_BOUNDS = {"duration": JOB_EXEC_BUCKETS, "wait": QUEUE_WAIT_BUCKETS}
TIMINGS = {column: _timing(column) for column in TIMING_BOUNDS}
ROLLUPS = (JOBS, JOB_TRENDS, *HISTOGRAMS.values(), *TIMINGS.values())
# up to this many jobs in the window the percentiles are exact (nearest rank over the rows, one
# sort); past it they come from the histogram
EXACT_PERCENTILES_UP_TO = 20_000


def _exact_percentiles(column, ps: tuple[float, ...], start: datetime, end: datetime) -> dict[str, tuple]:
    """Per queue, the nearest-rank percentiles `ps` of `column` over the jobs enqueued in
    [start, end) that have it: for each p the smallest value whose rank (1-based, ascending) is
    >= p * n. On PostgreSQL `percentile_disc`, which is that definition, every p of one column
    sharing the group's sort; on SQLite (no ordered-set aggregate) window functions rank within
    each queue, the rank and the queue's count over one window so that one sort serves both."""
    window = (JobRecord.enqueued_at >= start, JobRecord.enqueued_at < end, column.is_not(None))
    if db.engine.dialect.name == "postgresql":
        picked = [func.percentile_disc(p).within_group(column) for p in ps]
        rows = db.session.execute(select(JobRecord.queue, *picked).where(*window).group_by(JobRecord.queue))
        return {queue: tuple(values) for queue, *values in rows}
    ranked = (
        select(
            JobRecord.queue,
            column.label("v"),
            func.row_number().over(partition_by=JobRecord.queue, order_by=column).label("rn"),
            func.count().over(partition_by=JobRecord.queue, order_by=column, rows=(None, None)).label("n"),
        )
        .where(*window)
        .subquery()
    )
    picked = [func.min(case((ranked.c.rn >= p * ranked.c.n, ranked.c.v))) for p in ps]
    rows = db.session.execute(select(ranked.c.queue, *picked).group_by(ranked.c.queue))
    return {queue: tuple(values) for queue, *values in rows}


def _bin_value(b: int) -> float:
    """The geometric middle of a bin: within half a bin's width (3.2 %) of any value in it."""
    return 0.0 if b == ZERO_BIN else round(math.exp((b + 0.5) / BINS_PER_E), 6)


def _percentiles(column: str, ps: tuple[float, ...], start: datetime, end: datetime, exact: bool) -> dict[str, tuple]:
    """The same nearest-rank percentiles, exact (over the rows) or from the rolled-up histogram
    (the bin holding the rank, read as its middle)."""
    if exact:
        return _exact_percentiles(getattr(JobRecord, column), ps, start, end)
    bins: dict[str, dict[int, int]] = {}
    for queue, b, n in rollup.grouped(HISTOGRAMS[column], start, end):
        bins.setdefault(queue, {})[int(b)] = n
    out = {}
    for queue, counts in bins.items():
        total, ranked, picked = sum(counts.values()), 0, []
        ordered = iter(sorted(counts.items()))
        for p in ps:
            while ranked < p * total:
                b, n = next(ordered)
                ranked += n
            picked.append(_bin_value(b))
        out[queue] = tuple(picked)
    return out


def queue_figures(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per queue, over the jobs enqueued in [start, end): total, failed (failed, stopped or
    lost), failed rate, p50 and p95 of the duration of the last attempt, p95 of the wait from
    enqueue to the last start (seconds; None when no job has the value)."""
    counts: dict[str, list[int]] = {}
    for queue, status, n in rollup.grouped(JOBS, start, end):
        totals = counts.setdefault(queue, [0, 0])
        totals[0] += n
        totals[1] += n if status in FAILED_STATUSES else 0
    exact = sum(n for n, _ in counts.values()) <= EXACT_PERCENTILES_UP_TO
    durations = _percentiles("duration", (0.5, 0.95), start, end, exact)
    waits = _percentiles("wait", (0.95,), start, end, exact)
    return [
        {
            "queue": queue,
            "total": n,
            "failed": f,
            "failed_rate": ratio(f, n),
            "duration_p50": durations.get(queue, (None, None))[0],
            "duration_p95": durations.get(queue, (None, None))[1],
            "wait_p95": waits.get(queue, (None,))[0],
        }
        for queue, (n, f) in sorted(counts.items())
    ]


def queue_figures_by_bucket(buckets: Buckets) -> dict[str, list[dict[str, int]]]:
    """Per queue with a job enqueued in the window, per bucket: jobs enqueued in it (total) and
    how many failed (failed, stopped or lost), from the trends' rollup."""
    per_queue: dict[str, dict[int, dict[str, int]]] = {}
    for i, queue, failed, n in rollup.grouped_by_bucket(JOB_TRENDS, buckets):
        counts = per_queue.setdefault(queue, {}).setdefault(i, zero_counts())
        counts["total"] += n
        counts["failed"] += n if failed else 0
    return {queue: buckets.spread(found.items(), zero_counts) for queue, found in sorted(per_queue.items())}
