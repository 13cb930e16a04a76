"""The overview's failure tables: per area the failed rows of a window, newest first, filtered
and paged in SQL on the (status, time) index of the owning table. Each row is read as the
capability keeps it; replay is the capability's own (its page's form), never re-made here."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import url_for
from sqlalchemy import Select, literal, select, union_all

from app.breakages.models import REPLAYABLE, Incident
from app.core.errors import InvalidInput
from app.core.jobs.models import JobRecord
from app.core.paging import Page, paginate
from app.core.timeutil import utcnow
from app.docsync import figures as docsync_figures
from app.docsync.models import RemoteSite, SyncJob, SyncStatus
from app.eco.models import ActionRunStatus, WorkflowRule, WorkflowRun
from app.extensions import db
from app.items.models import BomExport, ExportStatus
from app.workorders.models import Pack, PackStatus

AREAS = ("doc-sync", "workflow", "helpdesk", "exports")
DOC_SYNC_FAILED = (SyncStatus.failed, SyncStatus.interrupted)
EXPORT_KINDS = ("bom_delta", "workorder_pack")


def _since(window_days: int) -> tuple[datetime, datetime]:
    """The window as the summary has it: [now - window_days, now)."""
    end = utcnow()
    return end - timedelta(days=window_days), end


def _by_ids(model: Any, query: Select, page: int, per_page: int) -> Page:
    """`query` (rows of `model`, ordered) paged on its ids alone, which the (status, time) index
    answers without reading the table, even far down the list; then the page's rows by id."""
    found = paginate(query.with_only_columns(model.id), page, per_page)
    rows = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(found.items)))}
    found.items = [rows[ident] for ident in found.items]
    return found


def _attempts(job_ids: list[str | None]) -> dict[str, int]:
    """The attempts of RQ jobs as the job history recorded them (a job with no record is left out),
    read for the page's rows only, after paging: the count of all rows never computes them."""
    wanted = [i for i in job_ids if i]
    return (
        dict(db.session.execute(select(JobRecord.id, JobRecord.attempts).where(JobRecord.id.in_(wanted))).all())
        if wanted
        else {}
    )


# --- doc sync ------------------------------------------------------------------------------------


def _site_id(name: str) -> int:
    site_id = db.session.scalar(select(RemoteSite.id).where(RemoteSite.name == name))
    if site_id is None:
        raise InvalidInput(f"No remote site is named {name!r}.", {"field": "site"})
    return site_id


@dataclass
class DocSyncFailure:
    job: SyncJob
    replay_id: int | None  # the job that replayed it
    attempts: int | None

    @property
    def replayed(self) -> bool:
        return self.replay_id is not None


def doc_sync(
    window_days: int,
    page: int = 1,
    per_page: int = 20,
    *,
    site: str | None = None,
    direction: str | None = None,
    dead_letter: bool = False,
) -> Page:
    """Failed and interrupted sync jobs of the window; `dead_letter`: only the failed ones no
    replay has been made of (the summary's definition, app/docsync/figures.py)."""
    start, end = _since(window_days)
    query = (
        select(SyncJob)
        .where(SyncJob.status.in_(DOC_SYNC_FAILED), SyncJob.created_at >= start, SyncJob.created_at < end)
        .order_by(SyncJob.created_at.desc(), SyncJob.id.desc())
    )
    if site is not None:
        query = query.where(SyncJob.site_id == _site_id(site))
    if direction is not None:
        query = query.where(SyncJob.direction == direction)
    if dead_letter:
        query = query.where(docsync_figures.dead_letter())
    found = _by_ids(SyncJob, query, page, per_page)
    ids = [job.id for job in found.items]
    replays = (
        dict(db.session.execute(select(SyncJob.replay_of_id, SyncJob.id).where(SyncJob.replay_of_id.in_(ids))).all())
        if ids
        else {}
    )
    attempts = _attempts([job.rq_job_id for job in found.items])
    found.items = [DocSyncFailure(job, replays.get(job.id), attempts.get(job.rq_job_id)) for job in found.items]
    return found


def site_names() -> list[str]:
    return list(db.session.scalars(select(RemoteSite.name).order_by(RemoteSite.name)))


# --- workflow ----------------------------------------------------------------------------------


def _rule_exists(rule_id: int) -> None:
    if db.session.get(WorkflowRule, rule_id) is None:
        raise InvalidInput(f"No workflow rule has id {rule_id}.", {"field": "rule"})


def workflow(
    window_days: int,
    page: int = 1,
    per_page: int = 20,
    *,
    rule: int | None = None,
    phase: str | None = None,
) -> Page:
    """Failed workflow action runs of the window (by `started_at`); the ECO capability has no
    replay of a run (a run is re-made by moving the ECO again), so the rows only link."""
    start, end = _since(window_days)
    query = (
        select(WorkflowRun)
        .where(
            WorkflowRun.status == ActionRunStatus.failed,
            WorkflowRun.started_at >= start,
            WorkflowRun.started_at < end,
        )
        .order_by(WorkflowRun.started_at.desc(), WorkflowRun.id.desc())
    )
    if rule is not None:
        _rule_exists(rule)
        query = query.where(WorkflowRun.rule_id == rule)
    if phase is not None:
        query = query.where(WorkflowRun.phase == phase)
    return _by_ids(WorkflowRun, query, page, per_page)


def rules() -> list[tuple[int, str]]:
    return list(db.session.execute(select(WorkflowRule.id, WorkflowRule.name).order_by(WorkflowRule.name)))


# --- helpdesk ------------------------------------------------------------------------------------


def helpdesk(window_days: int, page: int = 1, per_page: int = 20, *, status: str | None = None) -> Page:
    """Incidents of the window (by `occurred_at`, as the summary counts them) whose helpdesk send
    is failed (refused) or dead (retries spent): the ones the breakage capability replays."""
    start, end = _since(window_days)
    query = (
        select(Incident)
        .where(
            Incident.helpdesk_status.in_((status,) if status else REPLAYABLE),
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        )
        .order_by(Incident.occurred_at.desc(), Incident.id.desc())
    )
    return _by_ids(Incident, query, page, per_page)


# --- exports -------------------------------------------------------------------------------------


@dataclass
class ExportFailure:
    """A failed BOM-delta export or work-order pack, in one shape for the table."""

    kind: str  # EXPORT_KINDS
    row: BomExport | Pack
    attempts: int | None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.row.id}"


def _export_rows(model: Any, kind: str, done: Any, start: datetime, end: datetime) -> Select:
    return select(literal(kind).label("kind"), model.id.label("id"), model.created_at.label("created_at")).where(
        model.status == done, model.created_at >= start, model.created_at < end
    )


def exports(window_days: int, page: int = 1, per_page: int = 20, *, kind: str | None = None) -> Page:
    """Failed BOM-delta exports and work-order packs of the window (by `created_at`), newest
    first: one UNION ALL of (kind, id, created_at), each side on its (status,
    created_at) index, paged; then the page's rows are read by id."""
    start, end = _since(window_days)
    models = {"bom_delta": BomExport, "workorder_pack": Pack}
    sides = {
        "bom_delta": _export_rows(BomExport, "bom_delta", ExportStatus.failed, start, end),
        "workorder_pack": _export_rows(Pack, "workorder_pack", PackStatus.failed, start, end),
    }
    rows = union_all(*([sides[kind]] if kind else sides.values())).subquery()
    found = paginate(
        select(rows).order_by(rows.c.created_at.desc(), rows.c.kind, rows.c.id.desc()), page, per_page, rows=True
    )
    loaded: dict[tuple[str, int], Any] = {}
    for name, model in models.items():
        if ids := [r.id for r in found.items if r.kind == name]:
            loaded |= {(name, row.id): row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}
    attempts = _attempts([row.job_id for row in loaded.values()])
    found.items = [ExportFailure(r.kind, row := loaded[r.kind, r.id], attempts.get(row.job_id)) for r in found.items]
    return found


# --- what every area's row has -------------------------------------------------------------------

READERS = {"doc-sync": doc_sync, "workflow": workflow, "helpdesk": helpdesk, "exports": exports}


def read(area: str, window_days: int, page: int, per_page: int, filters: dict[str, Any]) -> Page:
    """The page of an area's table; `filters` are the area's own (None: not filtered)."""
    return READERS[area](window_days, page, per_page, **{k: v for k, v in filters.items() if v is not None})


def _job_url(job_id: str | None) -> str | None:
    return url_for("queues.job", job_id=job_id) if job_id else None


def key(area: str, item: Any) -> str:
    """What names the row on the page: `id="failure-<area>-<key>"`, the fragment an alert links to."""
    if area == "doc-sync":
        return str(item.job.id)
    return item.key if area == "exports" else str(item.id)


def links(area: str, item: Any) -> dict[str, str | None]:
    """The row's own page (the sync job, the ECO, the incident, the export) and its RQ job on the queues pages."""
    if area == "doc-sync":
        return {"page": url_for("docsync.job", job_id=item.job.id), "job": _job_url(item.job.rq_job_id)}
    if area == "workflow":
        return {"page": url_for("eco.detail", eco_id=item.eco_id), "job": _job_url(item.job_id)}
    if area == "helpdesk":
        return {"page": url_for("breakages.detail", incident_id=item.id), "job": _job_url(item.helpdesk_job_id)}
    page = (
        url_for("items.export_page", export_id=item.row.id)
        if item.kind == "bom_delta"
        else url_for("workorders.pack_page", pack_id=item.row.id)
    )
    return {"page": page, "job": _job_url(item.row.job_id)}
