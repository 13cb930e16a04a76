"""Push and pull between this site and a remote one.

A job's selection is either document numbers or "everything changed since
the checkpoint" (optionally of one type). The plan compares each document's
latest sha256 on the source side with the target's and with the sha256 both
sides agreed on at their last sync:

    target lacks it               -> send
    target has the same sha256    -> present (nothing moves)
    only the source changed       -> send
    only the target changed       -> skipped (sync the other way to get it)
    both changed, or never synced -> conflict (reported, never overwritten)

Bytes move only when the target lacks that sha256. The job (app/docsync/runner.py)
commits each item's outcome as it goes, so a retry or a replay continues where
it stopped and nothing is sent twice: the receiving side adds no version for
bytes it already has as the latest. Nothing here commits.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import audit, jobs, live
from app.core.errors import Conflict, InvalidInput, Unavailable
from app.core.jobs import history, sweeper
from app.core.jobs.models import JobRecord
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.core.validation import not_one_of
from app.docsync import documents, metrics, sites
from app.docsync.models import (
    Document,
    RemoteSite,
    SyncCheckpoint,
    SyncedDocument,
    SyncJob,
    SyncOutcome,
    SyncStatus,
)
from app.docsync.remote import Refused, RemoteClient, RemoteError, Unauthorized
from app.extensions import db

DIRECTIONS = ("push", "pull")
ACTIVE = (SyncStatus.queued, SyncStatus.running)
REPLAYABLE = (SyncOutcome.failed, SyncOutcome.pending)
CHUNK = 500  # numbers or sha256s per protocol call
ENTITY = "doc_sync_job"


def topic(job_id: int) -> str:
    return f"doc-sync:{job_id}"


@dataclass
class PlanItem:
    number: str
    action: str  # send, present, skipped, conflict
    source_sha256: str
    target_sha256: str | None
    size: int
    reason: str = ""


def _decide(source: str, target: str | None, base: str | None) -> tuple[str, str]:
    if target is None:
        return "send", "new at the target"
    if target == source:
        return "present", "same bytes on both sides"
    if base is not None and target == base:
        return "send", "changed here since the last sync"
    if base is not None and source == base:
        return "skipped", "changed only at the target; sync the other way"
    return "conflict", "changed on both sides" if base else "different on both sides and never synced"


# --- selection, idempotency ---------------------------------------------------


def _selection(
    site: RemoteSite, direction: str, document_ids: list[int] | None, numbers: list[str] | None, doc_type: str | None
) -> dict[str, Any]:
    if direction not in DIRECTIONS:
        raise InvalidInput(f"Direction is push or pull, not {direction!r}.", {"field": "direction"})
    if document_ids:
        if direction == "pull":
            raise InvalidInput(
                "A pull selects documents by number (they may not exist here yet).", {"field": "document_ids"}
            )
        rows = db.session.execute(select(Document.id, Document.number).where(Document.id.in_(document_ids)))
        found = dict(rows.all())
        unknown = sorted(set(document_ids) - set(found))
        if unknown:
            raise InvalidInput("Unknown document ids.", {"field": "document_ids", "unknown": unknown[:20]})
        numbers = sorted(set(numbers or []) | set(found.values()))
    if numbers:
        for number in numbers:
            documents.check_number(number)
        return {"numbers": sorted(set(numbers))}
    if doc_type is not None and doc_type not in documents.DOC_TYPES:
        raise not_one_of("doc_type", "Document type", doc_type, documents.DOC_TYPES)
    return {"doc_type": doc_type} if doc_type else {}


def _payload_sha256(site_id: int, direction: str, selection: dict[str, Any]) -> str:
    canonical = json.dumps({"site_id": site_id, "direction": direction, "selection": selection}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def request_job(
    site_id: int,
    direction: str,
    idempotency_key: str,
    *,
    document_ids: list[int] | None = None,
    numbers: list[str] | None = None,
    doc_type: str | None = None,
) -> tuple[SyncJob, bool]:
    """(job, created). The same key with the same payload returns the job it made; another payload is 422."""
    site = sites.get(site_id)
    selection = _selection(site, direction, document_ids, numbers, doc_type)
    payload = _payload_sha256(site.id, direction, selection)
    existing = find_by_key(idempotency_key)
    if existing is not None:
        return _same_payload(existing, payload), False
    if not site.enabled:
        raise Conflict(f"Site {site.name} is disabled.", {"site": site.name})
    sites.require_token(site)
    try:
        with db.session.begin_nested():
            job = _create(site, direction, idempotency_key, payload, selection)
    except IntegrityError:  # the same key committed by a concurrent request
        existing = find_by_key(idempotency_key)
        if existing is None:
            raise
        return _same_payload(existing, payload), False
    return job, True


def _same_payload(job: SyncJob, payload: str) -> SyncJob:
    if job.payload_sha256 != payload:
        raise InvalidInput(
            "This idempotency key was used for a different request.",
            {"idempotency_key": job.idempotency_key, "job_id": job.id},
            code="idempotency_mismatch",
        )
    return job


def find_by_key(key: str) -> SyncJob | None:
    return db.session.scalar(select(SyncJob).where(SyncJob.idempotency_key == key))


def _create(
    site: RemoteSite,
    direction: str,
    key: str,
    payload: str,
    selection: dict[str, Any],
    replay_of: SyncJob | None = None,
) -> SyncJob:
    job = SyncJob(
        site=site,
        direction=direction,
        idempotency_key=key,
        payload_sha256=payload,
        selection=selection,
        replay_of_id=replay_of.id if replay_of else None,
        status=SyncStatus.queued,
        actor=audit.current_actor(),
        created_at=utcnow(),
    )
    db.session.add(job)
    db.session.flush()
    job.rq_job_id = _enqueue(job).id
    audit.record(
        "doc_sync_job",
        job.id,
        "create",
        after={
            "idempotency_key": key,
            "site": site.name,
            "direction": direction,
            "selection": selection,
            "replay_of": job.replay_of_id,
        },
    )
    return job


def _job_retry() -> Retry:
    """Whole-job retries (e.g. the manifest call failed, or the worker died mid-job)."""
    delays = current_app.config["DOCSYNC_JOB_RETRY_DELAYS"]
    return Retry(max=len(delays), interval=delays)


def _enqueue(job: SyncJob) -> JobRecord:
    return jobs.enqueue(
        f"doc-sync-{job.direction}",
        "app.docsync.jobs.run_sync_job",
        job.id,
        queue="sync",
        link=(ENTITY, job.id),
        retry=_job_retry(),
        description=f"{job.direction} documents {'to' if job.direction == 'push' else 'from'} {job.site.name} "
        f"(sync job {job.id})",
    )


def get(job_id: int) -> SyncJob:
    return get_or_404(SyncJob, job_id, "sync job")


def recent(site_id: int | None = None, limit: int = 20) -> list[SyncJob]:
    query = select(SyncJob).order_by(SyncJob.id.desc()).limit(limit)
    if site_id is not None:
        query = query.where(SyncJob.site_id == site_id)
    return list(db.session.scalars(query))


def is_stalled(job: SyncJob) -> bool:
    """Active on paper while its RQ job has ended without closing it (work horse killed, job lost
    with Redis), as the job history says; the sweeper resumes such a job, a person may replay it."""
    record = history.get(job.rq_job_id) if job.status in ACTIVE and job.rq_job_id else None
    return record is not None and record.is_final


MAX_RESUMES = 3  # jobs enqueued for one sync job before the sweeper gives up and marks it interrupted


def sweep() -> int:
    """The sweeper's hook: resume each stalled sync job (a new RQ job; the runner continues with
    its pending items), or end it as interrupted once it was resumed MAX_RESUMES times."""
    stalled = sweeper.stalled(select(SyncJob).where(SyncJob.status.in_(ACTIVE)), SyncJob.rq_job_id)
    for job, record in stalled:
        if sweeper.attempts(ENTITY, job.id) <= MAX_RESUMES:
            job.rq_job_id = _enqueue(job).id
        else:
            close(job, SyncStatus.interrupted, sweeper.why(record))
    return len(stalled)


def replay(job_id: int) -> tuple[SyncJob, bool]:
    """A new job, linked to this one, for its failed and unfinished items; asking again returns the same one."""
    original = get(job_id)
    key = f"replay-of:{original.id}"
    existing = find_by_key(key)
    if existing is not None:
        return existing, False
    if original.status in ACTIVE and not is_stalled(original):
        raise Conflict("The job is still running; replay it once it has ended.", {"status": original.status})
    numbers = sorted(i.number for i in original.items if i.outcome in REPLAYABLE)
    if not numbers and original.status not in ACTIVE and original.items:
        raise Conflict("Nothing to replay: no item of this job failed.", {"status": original.status})
    if original.status in ACTIVE:  # stalled: it ends here, its unfinished items go to the replay
        close(original, SyncStatus.interrupted, "its worker stopped answering; replayed")
    selection = {"numbers": numbers} if numbers else original.selection
    return _create(
        original.site,
        original.direction,
        key,
        _payload_sha256(original.site_id, original.direction, selection),
        selection,
        original,
    ), True


# --- plan ----------------------------------------------------------------------


def last_checkpoint(site: RemoteSite, direction: str) -> SyncCheckpoint | None:
    return db.session.scalar(
        select(SyncCheckpoint).where(SyncCheckpoint.site_id == site.id, SyncCheckpoint.direction == direction)
    )


def _agreed(site: RemoteSite, numbers: list[str]) -> dict[str, str]:
    agreed: dict[str, str] = {}
    for start in range(0, len(numbers), CHUNK):
        rows = db.session.execute(
            select(SyncedDocument.number, SyncedDocument.sha256).where(
                SyncedDocument.site_id == site.id, SyncedDocument.number.in_(numbers[start : start + CHUNK])
            )
        )
        agreed.update((number, sha256) for number, sha256 in rows)
    return agreed


def _remote_manifest(remote: RemoteClient, numbers: list[str] | None, **filters: Any) -> list[dict]:
    if numbers is None:
        return remote.manifest(None, **filters)
    entries: list[dict] = []
    for start in range(0, len(numbers), CHUNK):
        entries.extend(remote.manifest(numbers[start : start + CHUNK]))
    return entries


@dataclass
class Plan:
    items: list[PlanItem]
    sources: dict[str, dict]  # number -> the source side's metadata and latest version
    synced_until: datetime | None  # the newest change the plan covers (the next checkpoint)


def plan(site: RemoteSite, direction: str, selection: dict[str, Any], remote: RemoteClient | None = None) -> Plan:
    remote = remote or sites.client(site)
    numbers = selection.get("numbers")
    checkpoint = last_checkpoint(site, direction) if numbers is None else None
    since = checkpoint.synced_until if checkpoint else None
    doc_type = selection.get("doc_type")
    local = (
        {d.number: _entry(d, v) for d, v in documents.latest_versions(numbers, since, doc_type)}
        if direction == "push"
        else None
    )
    if direction == "push":
        theirs = {e["number"]: e for e in _remote_manifest(remote, sorted(local))}
        source, target = local, theirs
    else:
        source = {e["number"]: e for e in _remote_manifest(remote, numbers, changed_since=since, doc_type=doc_type)}
        target = {d.number: _entry(d, v) for d, v in documents.latest_versions(sorted(source))}
    agreed = _agreed(site, sorted(source))
    items = []
    for number, entry in source.items():
        there = target.get(number)
        action, reason = _decide(entry["sha256"], there["sha256"] if there else None, agreed.get(number))
        items.append(
            PlanItem(number, action, entry["sha256"], there["sha256"] if there else None, entry["size"], reason)
        )
    changes = [_as_time(e["updated_at"]) for e in source.values()]
    return Plan(items, source, max(changes) if changes else None)


def _entry(doc: Document, version) -> dict:
    return {
        "number": doc.number,
        "title": doc.title,
        "doc_type": doc.doc_type,
        "item_refs": list(doc.item_refs),
        "updated_at": doc.updated_at,
        "version": version.version,
        "sha256": version.sha256,
        "size": version.size,
        "filename": version.filename,
    }


def _as_time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def preview(
    site_id: int,
    direction: str,
    *,
    document_ids: list[int] | None = None,
    numbers: list[str] | None = None,
    doc_type: str | None = None,
) -> list[PlanItem]:
    site = sites.get(site_id)
    sites.check_breaker(site)
    sites.require_token(site)
    selection = _selection(site, direction, document_ids, numbers, doc_type)
    try:
        return plan(site, direction, selection).items
    except Unauthorized as exc:
        raise Unavailable(str(exc), code="remote_unauthorized") from None
    except Refused as exc:
        raise Unavailable(str(exc), code="remote_refused") from None
    except RemoteError as exc:
        raise Unavailable(f"The site did not answer as expected: {exc}", code="remote_error") from None


COUNTS = ("sent", "present", "skipped", "conflicts", "failed", "bytes")


def _counts(job: SyncJob) -> dict[str, int]:
    return {name: getattr(job, name) for name in COUNTS}


def job_state(job: SyncJob) -> dict[str, Any]:
    done = job.sent + job.present + job.skipped + job.conflicts + job.failed
    return {"id": job.id, "status": job.status, "total": job.total, "done": done, **_counts(job)}


def close(job: SyncJob, status: SyncStatus, error: str | None) -> None:
    """End a job: status, metrics, the audit row that explains it, the live event once committed."""
    job.status, job.error, job.ended_at = status, error, utcnow()
    checksums = {
        i.number: i.source_sha256
        for i in job.items
        if i.outcome in (SyncOutcome.transferred, SyncOutcome.conflict, SyncOutcome.failed)
    }
    audit.record(
        "doc_sync_job",
        job.id,
        status,
        after={
            "idempotency_key": job.idempotency_key,
            "site": job.site.name,
            "direction": job.direction,
            "replay_of": job.replay_of_id,
            **_counts(job),
            "error": error,
            "checksums": checksums,
        },
    )
    metrics.DOC_SYNC_JOBS.labels(job.direction, status).inc()
    live.publish_on_commit(topic(job.id), "sync_ended", job_state(job))
