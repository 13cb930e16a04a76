"""The one way the app enqueues a job: RQ's own timeout, Retry, meta and
callbacks, a history row, and the RQ job id handed back for the domain row."""

import uuid
from typing import Any

from flask import g, has_request_context
from flask_login import current_user
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq import get_current_job as _rq_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import update

from app.core import txn
from app.core.capability import notify, queue_names
from app.core.errors import InvalidInput
from app.core.jobs import history
from app.core.jobs.models import JobRecord, JobState
from app.core.timeutil import utcnow
from app.extensions import db, redis_client

DEFAULT_TIMEOUT = 600


def enqueue(
    kind: str,
    func: str,
    *args: Any,
    queue: str = "default",
    link: tuple[str, Any] | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    retry: Retry | None = None,
    meta: dict[str, Any] | None = None,
    description: str | None = None,
    **kwargs: Any,
) -> JobRecord:
    """Add a history row to the current transaction; the RQ job is pushed when it commits.

    `func` is the job function's dotted path ("app.flows.jobs.run_flow"): RQ stores only
    the path and the worker imports it, so a service never imports its own jobs module.
    `link` = (entity, id) of the domain row the job works for; store the
    returned record's id on that row. (entity, None) names a kind of work and no row: such jobs
    follow the entity's access rule but are not grouped as one record's jobs on the queues page.
    """
    if not isinstance(func, str):
        raise TypeError(f"enqueue() takes the job function's dotted path, not {func!r}")
    if queue not in queue_names():
        raise InvalidInput(f"Unknown queue {queue!r}.", {"allowed": list(queue_names())})
    notify("job_enqueue", kind)  # e.g. the ops switches refuse a paused kind (503 `paused`)
    actor = current_user.username if has_request_context() and current_user.is_authenticated else "system"
    record = JobRecord(
        id=uuid.uuid4().hex,
        queue=queue,
        kind=kind,
        status=JobState.queued,
        actor=actor,
        entity=link[0] if link else None,
        entity_id=str(link[1]) if link and link[1] is not None else None,
    )
    db.session.add(record)
    options = {
        "job_id": record.id,
        "args": args,
        "kwargs": kwargs,
        "job_timeout": timeout,
        "retry": retry,
        "meta": {"kind": kind, **(meta or {})},
        "description": description or kind,
        "on_success": Callback(history.on_success),
        "on_failure": Callback(history.on_failure),
        "on_stopped": Callback(history.on_stopped),
    }
    connection = redis_client()
    txn.on_commit(lambda: _push(queue, func, options, connection))
    return record


def _push(queue: str, func: str, options: dict[str, Any], connection) -> None:
    try:
        job = Queue(queue, connection=connection).enqueue(func, **options)
    except Exception as exc:  # noqa: BLE001 (Redis down, args that do not pickle): say so on the row, never lose it
        with db.engine.begin() as conn:
            conn.execute(
                update(JobRecord)
                .where(JobRecord.id == options["job_id"])
                .values(status=JobState.failed, ended_at=utcnow(), error=f"could not enqueue: {exc}")
            )
        if has_request_context():  # the request must not answer "queued" (app.core.errors makes it a 503)
            g.setdefault("unqueued", []).append(options["job_id"])
        return
    history.announce(job, "job_queued")


def current_job_id() -> str | None:
    job = _rq_current_job()
    return job.id if job else None


def progress_of(job_id: str) -> tuple[float | None, str]:
    """What a job last reported with progress(): (fraction or None, message);
    (None, "") when Redis forgot the job or does not answer."""
    try:
        meta = Job.fetch(job_id, connection=redis_client()).get_meta(refresh=False)
    except (NoSuchJobError, RedisError):
        return None, ""
    return meta.get("progress"), meta.get("message") or ""


def progress(fraction: float, message: str = "") -> None:
    """Report progress from inside a running job (RQ meta + a live event)."""
    job = _rq_current_job()
    if job is None:
        return
    job.meta["progress"] = max(0.0, min(1.0, fraction))
    job.meta["message"] = message
    job.save_meta()
    history.announce(job, "job_progress")
