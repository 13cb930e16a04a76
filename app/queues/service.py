"""Reads RQ's own registries and uses RQ's own operations (requeue, cancel,
stop); the job history table adds what Redis forgets."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from rq import Queue, Worker
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.worker import WorkerStatus

from app.core import audit, jobs, metrics, txn
from app.core.capability import queue_names, why_not_requeued
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.jobs import history
from app.core.jobs.models import JobState
from app.core.jobs.worker import heartbeat_interval
from app.core.paging import Page, paginate_list
from app.core.timeutil import utcnow
from app.extensions import redis_client

REGISTRIES = {
    JobState.started: StartedJobRegistry,
    JobState.deferred: DeferredJobRegistry,
    JobState.scheduled: ScheduledJobRegistry,
    JobState.finished: FinishedJobRegistry,
    JobState.failed: FailedJobRegistry,
    JobState.canceled: CanceledJobRegistry,
}
STATUSES = (JobState.queued, *REGISTRIES)
FAILED_SORTS = ("newest", "oldest")


def get_queue(name: str) -> Queue:
    if name not in queue_names():
        raise NotFound(f"No queue {name!r}.", {"queues": list(queue_names())})
    return Queue(name, connection=redis_client())


def queue_counts() -> list[dict[str, Any]]:
    result = []
    for name in queue_names():
        queue = get_queue(name)
        counts = {JobState.queued: queue.count}
        for status, registry in REGISTRIES.items():
            counts[status] = registry(queue=queue).count
        result.append({"name": name, "counts": counts})
    return result


def oldest_queued_ages(now: datetime | None = None) -> list[tuple[str, float]]:
    """Per queue, seconds since the job at its head (the oldest waiting one: jobs go in at the
    tail and workers take the head) was enqueued; 0 for an empty queue. Deferred and scheduled
    jobs are not in the queue yet, so they are no backlog."""
    now = now or utcnow()
    ages = []
    for name in queue_names():
        head = get_queue(name).get_job_ids(0, 1)
        job = fetch_job(head[0]) if head else None
        age = (now - _aware(job.enqueued_at)).total_seconds() if job and job.enqueued_at else 0.0
        ages.append((name, max(0.0, age)))
    return ages


class Heartbeat(StrEnum):
    healthy = "healthy"  # heartbeat on time
    late = "late"  # overdue by more than half the way from its due time to WORKER_TTL
    dead = "dead"  # silent for WORKER_TTL: RQ counts its job abandoned, the list drops it


def heartbeat_verdict(last_heartbeat: datetime | None, now: datetime | None = None) -> tuple[Heartbeat, float | None]:
    """How a worker's last heartbeat looks, and its age in seconds; thresholds from WORKER_TTL."""
    if last_heartbeat is None:
        return Heartbeat.dead, None
    ttl = current_app.config["WORKER_TTL"]
    age = max(0.0, ((now or utcnow()) - _aware(last_heartbeat)).total_seconds())
    due = heartbeat_interval(ttl)
    if age <= due + (ttl - due) / 2:
        return Heartbeat.healthy, age
    return (Heartbeat.late if age < ttl else Heartbeat.dead), age


def _worker_info(worker: Worker) -> dict[str, Any]:
    job = worker.get_current_job()
    verdict, age = heartbeat_verdict(worker.last_heartbeat)
    return {
        "heartbeat": verdict,
        "heartbeat_age": age,
        "name": worker.name,
        "state": worker.get_state(),
        "queues": worker.queue_names(),
        "current_job_id": job.id if job else None,
        "current_job": job.description if job else None,
        "last_heartbeat": worker.last_heartbeat,
        "birth": worker.birth_date,
        "successful": worker.successful_job_count,
        "failed": worker.failed_job_count,
        "working_seconds": worker.total_working_time,
        "hostname": worker.hostname,
        "pid": worker.pid,
    }


def live_workers() -> list[Worker]:
    """Workers that heartbeat: RQ keeps a dead worker's key for WORKER_TTL + 60 s, but a live one
    heartbeats well within WORKER_TTL (app/core/jobs/worker.py), so the list is right within that."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["WORKER_TTL"])
    workers = Worker.all(connection=redis_client())
    return [w for w in workers if w.last_heartbeat is None or _aware(w.last_heartbeat) >= cutoff]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def heartbeat_ages(now: datetime | None = None) -> list[float]:
    """Seconds since each worker Redis still lists last heartbeat (a silent one stays listed
    WORKER_TTL + 60 s, so its age grows that long before it drops out)."""
    now = now or utcnow()
    workers = Worker.all(connection=redis_client())
    return [max(0.0, (now - _aware(w.last_heartbeat)).total_seconds()) for w in workers if w.last_heartbeat]


def workers() -> list[dict[str, Any]]:
    return sorted((_worker_info(w) for w in live_workers()), key=lambda w: w["name"])


def worker(name: str) -> dict[str, Any]:
    """One worker Redis still lists (RQ keeps a silent one's key WORKER_TTL + 60 s), however late."""
    found = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=redis_client())
    if found is None:
        raise NotFound(f"No worker {name!r}: it stopped, or it was never started.")
    info = _worker_info(found)
    job = found.get_current_job()
    info["current_job_status"] = status_of(job) if job else None
    info["current_job_started_at"] = job.started_at if job else None
    info["current_job_progress"] = job.meta.get("progress") if job else None
    info["current_job_message"] = job.meta.get("message") if job else None
    return info


def worker_states() -> dict[str, int]:
    return dict(Counter(w.get_state() for w in live_workers()))


# RQ's WorkerStatus values; each is exported (0 when no worker is in it) so
# queries and alerts never meet a missing series.
WORKER_STATES = tuple(state.value for state in WorkerStatus)


@metrics.scrape_gauge("rq_jobs", "RQ jobs by queue and registry", ("queue", "status"))
def job_counts() -> list[tuple[str, str, int]]:
    return [(queue["name"], status, count) for queue in queue_counts() for status, count in queue["counts"].items()]


@metrics.scrape_gauge("rq_workers", "RQ workers by state", ("state",))
def worker_counts() -> list[tuple[str, int]]:
    states = worker_states()
    return [(state, states.get(state, 0)) for state in sorted(set(WORKER_STATES) | set(states))]


JOB_ID = re.compile(r"[\w.:-]{1,64}")


def _check_id(job_id: str) -> None:
    if not JOB_ID.fullmatch(job_id):
        raise NotFound("No such job: job ids are 1-64 letters, digits, '_', '-', ':' or '.'.")


def status_of(job: Job) -> str:
    """RQ's JobStatus as its plain value ("finished"), not the enum's repr."""
    status = job.get_status()
    return status.value if isinstance(status, JobStatus) else str(status)


def fetch_job(job_id: str) -> Job | None:
    _check_id(job_id)
    try:
        return Job.fetch(job_id, connection=redis_client())
    except NoSuchJobError:
        return None


def job_detail(job_id: str) -> dict[str, Any]:
    job, record = fetch_job(job_id), history.get(job_id)
    if job is None and record is None:
        raise NotFound(f"No job {job_id!r}: not in Redis and not in the job history.")
    detail: dict[str, Any] = {
        "id": job_id,
        "in_redis": job is not None,
        "history": record,
        "requeue_refusal": requeue_refusal(job_id),
    }
    if job is not None:
        detail.update(
            queue=job.origin,
            status=status_of(job),
            func=job.func_name,
            description=job.description,
            args=[repr(a) for a in job.args],
            kwargs={k: repr(v) for k, v in job.kwargs.items()},
            meta=job.meta,
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            timeout=job.timeout,
            retries_left=job.retries_left,
            worker=job.worker_name,
            traceback=traceback_of(job) or None,
        )
    else:
        detail.update(
            queue=record.queue,
            status=record.status,
            func=record.kind,
            description=record.kind,
            args=[],
            kwargs={},
            meta={},
            enqueued_at=record.enqueued_at,
            started_at=record.started_at,
            ended_at=record.ended_at,
            timeout=None,
            retries_left=None,
            worker=None,
            traceback=None,
        )
    return detail


def traceback_of(job: Job) -> str:
    result = job.latest_result()
    return (result.exc_string if result else None) or ""


def error_line(traceback: str) -> str:
    lines = traceback.strip().splitlines()
    return lines[-1] if lines else ""


def _failed_index(names: list[str], text: str | None) -> list[tuple[str, str]]:
    """(failed at, job id) of every job in the named queues' failed registries, from two fields
    of each job's hash read in one pipeline, not the jobs themselves: a page of 10,000 failed
    jobs fetches and decodes only the jobs it shows. With `text`, only the jobs whose latest
    traceback or description (function and arguments) contain it, case-folded."""
    connection = redis_client()
    ids = [job_id for name in names for job_id in FailedJobRegistry(queue=get_queue(name)).get_job_ids()]
    pipe = connection.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(Job.key_for(job_id), "ended_at", "enqueued_at", "description")
    fields = pipe.execute()
    if text:
        for job_id in ids:
            pipe.xrevrange(Result.get_key(job_id), "+", "-", count=1)
        latest = pipe.execute()
    index = []
    for n, (job_id, (ended, enqueued, description)) in enumerate(zip(ids, fields, strict=True)):
        if ended is None and enqueued is None:
            continue  # expired since the registry was read
        if text:
            haystack = (description or b"").decode()
            if latest[n]:
                result_id, payload = latest[n][0]
                result = Result.restore(job_id, result_id.decode(), payload, connection=connection)
                haystack += result.exc_string or ""
            if text.lower() not in haystack.lower():
                continue
        # RQ's ISO timestamps (…T…Z, microseconds) sort as text in time order
        index.append(((ended or enqueued).decode(), job_id))
    return index


def failed_jobs(queue: str | None, text: str | None, sort: str, page: int, per_page: int) -> Page:
    if sort not in FAILED_SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}.", {"allowed": list(FAILED_SORTS)})
    names = [get_queue(queue).name] if queue else list(queue_names())
    index = sorted(_failed_index(names, text), reverse=(sort == "newest"))
    shown = paginate_list(index, page, per_page)
    jobs_shown = Job.fetch_many([job_id for _, job_id in shown.items], connection=redis_client())
    shown.items = [
        {"job": job, "error": error_line(traceback_of(job)), "refusal": requeue_refusal(job.id)}
        for job in jobs_shown
        if job is not None
    ]
    return shown


def _audit(job_id: str, action: str, before: str, after: JobState) -> None:
    audit.record("rq_job", job_id, action, before={"status": before}, after={"status": after})
    history.set_status(job_id, after)


def requeue_refusal(job_id: str) -> str | None:
    """Why the job's linked record says it must not run again (its capability's `requeue_check`)."""
    record = history.get(job_id)
    return why_not_requeued(record.entity, record.entity_id) if record else None


def requeue(job_id: str) -> None:
    job = fetch_job(job_id)
    if job is None:
        raise NotFound(f"No job {job_id!r} in Redis.")
    status = status_of(job)
    if status not in (JobState.failed, JobState.stopped):
        raise Conflict(f"Only failed or stopped jobs can be requeued; this one is {status}.")
    refusal = requeue_refusal(job_id)
    if refusal:
        raise Conflict(f"This job is not requeued: {refusal}.", {"reason": refusal}, code="not_requeueable")
    FailedJobRegistry(queue=get_queue(job.origin)).requeue(job_id)
    _audit(job_id, "requeue", status, JobState.queued)
    txn.on_commit(lambda: history.announce(job, "job_requeued"))


def requeue_all(queue: str) -> tuple[int, int]:
    """(requeued, left) where left are the failed jobs whose record refuses to run again."""
    registry = FailedJobRegistry(queue=get_queue(queue))
    requeued = left = 0
    for job_id in registry.get_job_ids():
        if requeue_refusal(job_id):
            left += 1
            continue
        try:
            registry.requeue(job_id)
        except InvalidJobOperation:  # expired or already requeued by someone else
            continue
        history.set_status(job_id, JobState.queued)
        requeued += 1
    audit.record("rq_queue", queue, "requeue_failed", after={"requeued": requeued, "left": left})
    return requeued, left


def cancel(job_id: str) -> None:
    job = fetch_job(job_id)
    if job is None:
        raise NotFound(f"No job {job_id!r} in Redis.")
    status = status_of(job)
    if status not in (JobState.queued, JobState.deferred, JobState.scheduled):
        raise Conflict(
            f"Only queued, deferred or scheduled jobs can be canceled; this one is {status}.", {"status": status}
        )
    job.cancel()
    _audit(job_id, "cancel", status, JobState.canceled)
    txn.on_commit(lambda: history.announce(job, "job_canceled"))


def stop(job_id: str) -> None:
    job = fetch_job(job_id)
    if job is None:
        raise NotFound(f"No job {job_id!r} in Redis.")
    if status_of(job) != JobState.started:
        raise Conflict(f"Only running jobs can be stopped; this one is {status_of(job)}.")
    send_stop_job_command(redis_client(), job_id)
    audit.record("rq_job", job_id, "stop", before={"status": JobState.started}, after={"status": "stopping"})


def enqueue_demo(seconds: int, fail: bool) -> str:
    record = jobs.enqueue(
        "demo",
        "app.queues.jobs.demo_job",
        seconds,
        fail,
        queue="default",
        link=("demo", None),
        description=f"demo job ({seconds} s{', fails' if fail else ''})",
    )
    audit.record("rq_job", record.id, "enqueue", after={"kind": "demo", "seconds": seconds, "fail": fail})
    return record.id
