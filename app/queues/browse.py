"""One queue's jobs, registry by registry, read a page at a time: RQ's `Queue.get_job_ids(offset,
length)` and `registry.get_job_ids(start, end)` give the page's ids, the counts come from
LLEN / ZCARD, and only the page's job hashes are fetched. A filter (kind, text) is matched in
SQL against the job history rows of the registry's ids, read in chunks of SCAN_CHUNK ids, at
most SCAN_LIMIT of them; job hashes are still fetched for the shown page only.

Deleting a job and emptying a queue use RQ's own keys and operations (`Job.delete`, LREM on the
queue's list) and close the job history rows of what they removed."""

from dataclasses import dataclass, field
from typing import Any

from rq import Queue
from rq.job import Job
from sqlalchemy import select

from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.jobs import history
from app.core.jobs.models import ACTIVE_STATUSES, JobRecord, JobState
from app.core.paging import MAX_PAGE, MAX_PER_PAGE, Page, containing, distinct_values
from app.extensions import db, redis_client
from app.queues import service

TABS = (
    JobState.queued,
    JobState.started,
    JobState.finished,
    JobState.failed,
    JobState.deferred,
    JobState.scheduled,
    JobState.canceled,
)
# the queue's list is in the order workers take it; the scheduled registry is scored by when a job
# is due: both read first-first. The other registries are scored by expiry: newest first.
FIRST_FIRST = (JobState.queued, JobState.scheduled)
SCAN_CHUNK = 1000
SCAN_LIMIT = 50_000
MAX_TEXT = 200


@dataclass
class JobList:
    queue: str
    registry: str
    counts: dict[str, int]
    page: Page
    kinds: list[str]
    scanned: int | None = None  # with a filter: how many ids were matched (SCAN_LIMIT at most)
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return self.scanned is not None and self.scanned < self.counts[self.registry]


def counts(queue: Queue) -> dict[str, int]:
    found = {JobState.queued.value: queue.count}
    for status, registry in service.REGISTRIES.items():
        found[status.value] = registry(queue=queue).count
    return found


def _ids(queue: Queue, registry: str, start: int, stop: int) -> list[str]:
    """Ids at positions [start, stop) of the queue's list or of one registry, in the tab's order."""
    if registry == JobState.queued:
        return queue.get_job_ids(start, stop - start)
    return service.REGISTRIES[JobState(registry)](queue=queue).get_job_ids(
        start, stop - 1, desc=registry not in FIRST_FIRST, cleanup=False
    )


def _matching(ids: list[str], kind: str | None, text: str | None) -> set[str]:
    query = select(JobRecord.id).where(JobRecord.id.in_(ids))
    if kind:
        query = query.where(JobRecord.kind == kind)
    if text:
        query = query.where(
            containing(text, JobRecord.id, JobRecord.kind, JobRecord.entity_id, JobRecord.actor, JobRecord.error)
        )
    return set(db.session.scalars(query))


def _check(registry: str, kind: str | None, text: str | None) -> None:
    if registry not in TABS:
        raise InvalidInput(f"Unknown registry {registry!r}.", {"allowed": [t.value for t in TABS]})
    for name, value in (("kind", kind), ("q", text)):
        if value is not None and (len(value) > MAX_TEXT or "\x00" in value):
            raise InvalidInput(f"The {name} filter is at most {MAX_TEXT} characters, without NUL.")


def jobs(
    name: str, registry: str, kind: str | None = None, text: str | None = None, page: int = 1, per_page: int = 25
) -> JobList:
    _check(registry, kind, text)
    queue = service.get_queue(name)
    page, per_page = min(max(1, page), MAX_PAGE), min(max(1, per_page), MAX_PER_PAGE)
    found = counts(queue)
    first = (page - 1) * per_page
    scanned = None
    if kind or text:
        matched: list[str] = []
        scanned = 0
        while scanned < min(found[registry], SCAN_LIMIT):
            chunk = _ids(queue, registry, scanned, scanned + min(SCAN_CHUNK, SCAN_LIMIT - scanned))
            if not chunk:
                break
            hits = _matching(chunk, kind, text)
            matched.extend(job_id for job_id in chunk if job_id in hits)
            scanned += len(chunk)
        total, ids = len(matched), matched[first : first + per_page]
    else:
        total = found[registry]
        ids = _ids(queue, registry, first, first + per_page) if first < total else []
    rows = _rows(ids, registry)
    return JobList(
        queue=name,
        registry=registry,
        counts=found,
        page=Page(items=rows, page=page, per_page=per_page, total=total),
        kinds=kinds(name),
        scanned=scanned,
        filters={"kind": kind or "", "q": text or ""},
    )


def kinds(queue: str) -> list[str]:
    """The kinds of job the history knows on this queue, for the filter."""
    return distinct_values(JobRecord.kind, JobRecord.queue == queue)


def _rows(ids: list[str], registry: str) -> list[dict[str, Any]]:
    if not ids:
        return []
    fetched = Job.fetch_many(ids, connection=redis_client())
    records = {r.id: r for r in db.session.scalars(select(JobRecord).where(JobRecord.id.in_(ids)))}
    rows = []
    for job_id, job in zip(ids, fetched, strict=True):
        record = records.get(job_id)
        row = {
            "id": job_id,
            "in_redis": job is not None,
            "kind": record.kind
            if record
            else (job.meta.get("kind") if job else None) or (job.func_name if job else "?"),
            "func": job.func_name if job else None,
            "description": job.description if job else None,
            "entity": record.entity if record else None,
            "entity_id": record.entity_id if record else None,
            "enqueued_at": (job.enqueued_at if job else None) or (record.enqueued_at if record else None),
            "started_at": job.started_at if job else None,
            "ended_at": job.ended_at if job else None,
            "worker": job.worker_name if job else None,
            "attempts": record.attempts if record else None,
            "error": None,
        }
        if registry == JobState.failed:
            row["error"] = (record.error if record else None) or (job and service.error_line(service.traceback_of(job)))
        rows.append(row)
    return rows


RECENT_PER_REGISTRY = 10


def worker_jobs(worker_name: str, queues: list[str]) -> list[dict[str, Any]]:
    """The jobs this worker ran among the newest RECENT_PER_REGISTRY finished and failed of each of
    its queues (RQ keeps no per-worker list), the latest ended first."""
    rows = []
    for name in queues:
        queue = service.get_queue(name)
        for registry in (JobState.finished, JobState.failed):
            for row in _rows(_ids(queue, registry, 0, RECENT_PER_REGISTRY), registry):
                if row["worker"] == worker_name:
                    rows.append({**row, "queue": name, "status": registry.value})
    return sorted(rows, key=lambda r: r["ended_at"].timestamp() if r["ended_at"] else 0, reverse=True)


# --- the admin's two deletions ---------------------------------------------------------------


def delete_job(job_id: str) -> dict[str, str]:
    """Delete one job from Redis (its queue or registry, its hash); a running job must be stopped first."""
    job = service.fetch_job(job_id)
    if job is None:
        raise NotFound(f"No job {job_id!r} in Redis.")
    status = service.status_of(job)
    if status == JobState.started:
        raise Conflict("This job is running: stop it first, then delete it.", {"status": status})
    what = {"status": status, "queue": job.origin, "description": job.description or job.func_name or ""}
    job.delete()
    record = history.get(job_id)
    if record is not None and record.status in ACTIVE_STATUSES:
        history.set_status(job_id, JobState.canceled)
        record.error = "deleted by an admin before it ran"
    audit.record("rq_job", job_id, "delete", before=what, after=None)
    return what


def empty_queue(name: str) -> int:
    """Delete every queued job of a queue (not its registries), as `rq empty` does, a chunk at a time:
    a job a worker took meanwhile is left to run (LREM found nothing), only the removed ones are deleted."""
    queue = service.get_queue(name)
    waiting = queue.count
    if not waiting:
        raise Conflict(f"Queue {name!r} has no queued job to delete.", {"queue": name})
    connection = redis_client()
    removed = 0
    for _ in range(-(-waiting // SCAN_CHUNK)):
        ids = queue.get_job_ids(0, SCAN_CHUNK)
        if not ids:
            break
        with connection.pipeline() as pipe:
            for job_id in ids:
                queue.remove(job_id, pipeline=pipe)
            taken = [job_id for job_id, gone in zip(ids, pipe.execute(), strict=True) if gone]
        with connection.pipeline() as pipe:
            for job_id in taken:
                pipe.delete(Job.key_for(job_id), Job.dependents_key_for(job_id))
            pipe.execute()
        history.set_canceled(taken)
        removed += len(taken)
    audit.record("rq_queue", name, "empty", before={"queued": waiting}, after={"deleted": removed})
    return removed
