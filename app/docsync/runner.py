"""The sync job's work inside a worker: plan once, then move each pending item,
committing its outcome as it goes (see app/docsync/sync.py for the plan). Only
the worker runs this module; it owns its transactions."""

import functools
import time
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.core import jobs, live
from app.core.errors import Conflict, DomainError
from app.core.timeutil import utcnow
from app.docsync import documents, metrics, sites, sync
from app.docsync.documents import Metadata
from app.docsync.models import SiteStatus, SyncCheckpoint, SyncedDocument, SyncItem, SyncJob, SyncOutcome, SyncStatus
from app.docsync.remote import Refused, RemoteError, Unauthorized, Unreachable
from app.docsync.store import store
from app.extensions import db

# each final outcome and the job's counter of it
COUNTERS = {
    SyncOutcome.transferred: "sent",
    SyncOutcome.present: "present",
    SyncOutcome.skipped: "skipped",
    SyncOutcome.conflict: "conflicts",
    SyncOutcome.failed: "failed",
}
PROGRESS_EVERY = 0.5  # seconds between live progress events


class Runner:
    """Runs one job inside a worker: plan once, then each pending item, committing as it goes."""

    def __init__(self, job: SyncJob) -> None:
        self.job, self.site = job, job.site
        self.remote = sites.client(self.site)
        self.origin = current_app.config.get("SITE_NAME")
        self.last_progress = 0.0

    def run(self) -> None:
        job = self.job
        if job.status not in sync.ACTIVE:  # finished, or replaced by a replay while this one was stalled
            return
        sites.check_breaker(self.site)
        job.status, job.started_at, job.heartbeat_at, job.error = (
            SyncStatus.running,
            job.started_at or utcnow(),
            utcnow(),
            None,
        )
        db.session.commit()
        live.publish(sync.topic(job.id), "sync_started", self.state())
        try:
            planned = sync.plan(self.site, job.direction, job.selection, self.remote)
            self._record_plan(planned)
            pending = [i for i in job.items if i.outcome == SyncOutcome.pending]
            missing = self._missing([i.source_sha256 for i in pending]) if job.direction == "push" else set()
            for item in pending:
                if sites.breaker_open(self.site):
                    self._outcome(item, SyncOutcome.failed, error="circuit open: the site failed too often in a row")
                    continue
                self._transfer(item, planned.sources[item.number], item.source_sha256 in missing)
        except Unreachable as exc:  # counted against the site; RQ retries the job with backoff
            db.session.rollback()
            sites.record_failure(self.site, str(exc))
            db.session.commit()
            raise
        except (Unauthorized, Refused) as exc:  # no retry helps: every item left fails, the site page says why
            db.session.rollback()
            status = SiteStatus.refused if isinstance(exc, Refused) else SiteStatus.unauthorized
            site = self.site
            site.status, site.status_detail, site.checked_at = status, str(exc)[:300], utcnow()
            for item in job.items:
                if item.outcome == SyncOutcome.pending:
                    item.outcome, item.error = SyncOutcome.failed, str(exc)[:500]
            self._count()
            sync.close(job, SyncStatus.failed, str(exc))
            db.session.commit()
            return
        self._finish(planned)

    def _record_plan(self, planned: sync.Plan) -> None:
        known = {i.number for i in self.job.items}
        for p in planned.items:
            if p.number in known:
                continue
            outcome = SyncOutcome.pending if p.action == "send" else SyncOutcome(p.action)
            item = SyncItem(
                job=self.job,
                number=p.number,
                outcome=outcome,
                source_sha256=p.source_sha256,
                target_sha256=p.target_sha256,
                error=None if outcome == SyncOutcome.pending else p.reason,
                bytes=0,
                attempts=0,
                updated_at=utcnow(),
            )
            db.session.add(item)
            if outcome == SyncOutcome.present:
                self._agree(p.number, p.source_sha256)
        self.job.total = len(self.job.items)
        self._count()
        db.session.commit()

    def _missing(self, sha256s: list[str]) -> set[str]:
        missing: set[str] = set()
        unique = sorted(set(sha256s))
        for start in range(0, len(unique), sync.CHUNK):
            missing |= self.remote.missing(unique[start : start + sync.CHUNK])
        return missing

    def _transfer(self, item: SyncItem, source: dict, send_bytes: bool) -> None:
        item.attempts += 1
        base = db.session.scalar(
            select(SyncedDocument.sha256).where(
                SyncedDocument.site_id == self.site.id, SyncedDocument.number == item.number
            )
        )
        try:
            if self.job.direction == "push":
                outcome, sent = self._push(item, source, send_bytes, base)
            else:
                outcome, sent = self._pull(item, source, base)
        except Unreachable as exc:
            db.session.rollback()
            sites.record_failure(self.site, str(exc))
            self._outcome(item, SyncOutcome.failed, error=str(exc))
            return
        except (Unauthorized, Refused):
            raise
        except (RemoteError, DomainError) as exc:
            db.session.rollback()
            message = getattr(exc, "message", None) or str(exc)
            self._outcome(item, SyncOutcome.failed, error=message)
            return
        sites.record_success(self.site)
        if outcome in (SyncOutcome.transferred, SyncOutcome.present):
            self._agree(item.number, item.source_sha256)
        self._outcome(
            item,
            outcome,
            sent=sent,
            error="changed at the target since the last sync" if outcome == SyncOutcome.conflict else None,
        )

    def _push(self, item: SyncItem, source: dict, send_bytes: bool, base: str | None) -> tuple[SyncOutcome, int]:
        params = {
            "title": source["title"],
            "doc_type": source["doc_type"],
            "item_refs": source["item_refs"],
            "filename": source["filename"],
            "base_sha256": base,
            "origin": self.origin,
        }
        if send_bytes:
            with store().open(item.source_sha256) as body:
                answer = self.remote.send_version(item.number, item.source_sha256, params, body, source["size"])
        else:
            answer = self.remote.send_version(item.number, item.source_sha256, params, None, 0)
        if answer.status == 201:
            return SyncOutcome.transferred, source["size"] if send_bytes else 0
        if answer.status == 200:
            return SyncOutcome.present, 0
        if answer.status == 409:
            return SyncOutcome.conflict, 0
        error = (answer.body.get("error") or {}) if isinstance(answer.body, dict) else {}
        raise RemoteError(
            f"{answer.status} {error.get('code', '')}: {error.get('message', '')}".strip(), answer.status, answer.body
        )

    def _pull(self, item: SyncItem, source: dict, base: str | None) -> tuple[SyncOutcome, int]:
        meta = Metadata(source["title"], source["doc_type"], tuple(source["item_refs"]))
        origin = self.site.name
        receive = functools.partial(
            documents.receive,
            item.number,
            meta,
            item.source_sha256,
            filename=source["filename"],
            base_sha256=base,
            origin=origin,
        )
        try:
            if store().exists(item.source_sha256):
                version, created = receive(stream=None)
                sent = 0
            else:
                with self.remote.download(item.source_sha256) as response:
                    version, created = receive(stream=response)
                sent = version.size if created else 0
        except Conflict:
            db.session.rollback()
            return SyncOutcome.conflict, 0
        return (SyncOutcome.transferred, sent) if created else (SyncOutcome.present, 0)

    def _agree(self, number: str, sha256: str) -> None:
        row = db.session.scalar(
            select(SyncedDocument).where(SyncedDocument.site_id == self.site.id, SyncedDocument.number == number)
        )
        if row is None:
            db.session.add(SyncedDocument(site_id=self.site.id, number=number, sha256=sha256, synced_at=utcnow()))
        else:
            row.sha256, row.synced_at = sha256, utcnow()

    def _outcome(self, item: SyncItem, outcome: SyncOutcome, *, sent: int = 0, error: str | None = None) -> None:
        item.outcome, item.bytes, item.error, item.updated_at = outcome, sent, (error or None) and error[:500], utcnow()
        if outcome == SyncOutcome.transferred:
            item.target_sha256 = item.source_sha256
        counter = COUNTERS[outcome]  # counted up, not recounted: a commit expires the job's items
        setattr(self.job, counter, getattr(self.job, counter) + 1)
        self.job.bytes += sent
        self.job.heartbeat_at = utcnow()
        db.session.commit()
        if sent:
            metrics.DOC_SYNC_BYTES.labels(self.job.direction).inc(sent)
        self._progress()

    def _count(self) -> None:
        job = self.job
        for counter in COUNTERS.values():
            setattr(job, counter, 0)
        for each in job.items:
            if each.outcome in COUNTERS:
                setattr(job, COUNTERS[each.outcome], getattr(job, COUNTERS[each.outcome]) + 1)
        job.bytes = sum(i.bytes for i in job.items)

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_EVERY:
            return
        self.last_progress = now
        state = self.state()
        done = state["done"] / state["total"] if state["total"] else 1.0
        jobs.progress(done, f"{state['done']} of {state['total']} documents")
        live.publish(sync.topic(self.job.id), "sync_progress", state)

    def state(self) -> dict[str, Any]:
        return sync.job_state(self.job)

    def _finish(self, planned: sync.Plan) -> None:
        job = self.job
        # only a job that took everything changed may move the checkpoint past what it saw
        if job.failed == 0 and not job.selection and planned.synced_until is not None:
            checkpoint = sync.last_checkpoint(self.site, job.direction) or SyncCheckpoint(
                site_id=self.site.id, direction=job.direction
            )
            checkpoint.synced_until, checkpoint.job_id, checkpoint.updated_at = planned.synced_until, job.id, utcnow()
            db.session.add(checkpoint)
        sync.close(job, SyncStatus.failed if job.failed else SyncStatus.finished, None)
        db.session.commit()
        self._progress(force=True)


def fail(job: SyncJob, error: str, retrying: bool) -> None:
    """The job raised: say so on the row (and end it unless RQ will retry it)."""
    if retrying:
        job.error = f"retrying: {error}"
        db.session.commit()
        live.publish(sync.topic(job.id), "sync_retrying", sync.job_state(job))
        return
    sync.close(job, SyncStatus.failed, error)
    db.session.commit()
