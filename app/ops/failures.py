"""The overview's failure tables: per area the failed rows of a window, newest first, filtered
and paged in SQL. Each row is read as the capability keeps it; replay is the capability's own
(its page's form), never re-made here.

Every table is one `UNION ALL` of (kind, id, time) with one side per failed status (and per
model for exports), each side on its (status, time) index: for one status the index is in
(time, id) order, so the database merges the sides in order and a page deep in the list reads
index entries only (`status IN (a, b) ORDER BY time` would sort, or walk the time index and the
table instead). The page's rows are then read by id."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import url_for
from sqlalchemy import ColumnElement, String, literal, select, union_all
from sqlalchemy.orm import selectinload

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


@dataclass(frozen=True)
class Side:
    """One side of a table's UNION ALL: the rows of `model` whose `status` column is `value` and
    whose `time` falls in the window, with the area's filters."""

    kind: str
    model: Any
    status: Any
    value: str
    time: Any
    filters: tuple[ColumnElement[bool], ...] = ()
    related: tuple[Any, ...] = ()  # the relationships the table shows, read with the page's rows


def _newest_first(sides: list[Side], window_days: int, page: int, per_page: int) -> Page:
    """The page of the sides' rows, newest first: items are (side kind, row)."""
    end = utcnow()
    start = end - timedelta(days=window_days)  # the window as the summary has it: [now - days, now)
    selects = [
        select(literal(s.kind, String).label("kind"), s.model.id.label("id"), s.time.label("at")).where(
            s.status == s.value, s.time >= start, s.time < end, *s.filters
        )
        for s in sides
    ]
    rows = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery()
    found = paginate(select(rows).order_by(rows.c.at.desc(), rows.c.id.desc(), rows.c.kind), page, per_page, rows=True)
    models = {s.kind: s.model for s in sides}
    related = {s.model: s.related for s in sides}
    loaded: dict[tuple[Any, int], Any] = {}
    for model in set(models.values()):
        if ids := [r.id for r in found.items if models[r.kind] is model]:
            query = select(model).where(model.id.in_(ids)).options(*(selectinload(r) for r in related[model]))
            loaded |= {(model, row.id): row for row in db.session.scalars(query)}
    found.items = [(r.kind, loaded[models[r.kind], r.id]) for r in found.items]
    return found


def _attempts(job_ids: list[str | None]) -> dict[str, int]:
    """The attempts of RQ jobs as the job history recorded them (a job with no record is left
    out), for the page's rows only."""
    wanted = [i for i in job_ids if i]
    if not wanted:
        return {}
    return dict(db.session.execute(select(JobRecord.id, JobRecord.attempts).where(JobRecord.id.in_(wanted))).all())


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
    """Failed and interrupted sync jobs of the window (by `created_at`); `dead_letter`: only the
    failed ones no replay has been made of (the summary's definition, app/docsync/figures.py)."""
    filters = []
    if site is not None:
        filters.append(SyncJob.site_id == _site_id(site))
    if direction is not None:
        filters.append(SyncJob.direction == direction)
    if dead_letter:
        filters.append(docsync_figures.dead_letter())
    statuses = (SyncStatus.failed,) if dead_letter else DOC_SYNC_FAILED
    sides = [
        Side(status, SyncJob, SyncJob.status, status, SyncJob.created_at, tuple(filters), (SyncJob.site,))
        for status in statuses
    ]
    found = _newest_first(sides, window_days, page, per_page)
    jobs = [job for _, job in found.items]
    ids = [job.id for job in jobs]
    replays = (
        dict(db.session.execute(select(SyncJob.replay_of_id, SyncJob.id).where(SyncJob.replay_of_id.in_(ids))).all())
        if ids
        else {}
    )
    attempts = _attempts([job.rq_job_id for job in jobs])
    found.items = [DocSyncFailure(job, replays.get(job.id), attempts.get(job.rq_job_id)) for job in jobs]
    return found


def site_names() -> list[str]:
    return list(db.session.scalars(select(RemoteSite.name).order_by(RemoteSite.name)))


# --- workflow ----------------------------------------------------------------------------------


def workflow(
    window_days: int, page: int = 1, per_page: int = 20, *, rule: int | None = None, phase: str | None = None
) -> Page:
    """Failed workflow action runs of the window (by `started_at`); the ECO capability has no
    replay of a run (a run is re-made by moving the ECO again), so the rows only link."""
    filters = []
    if rule is not None:
        if db.session.get(WorkflowRule, rule) is None:
            raise InvalidInput(f"No workflow rule has id {rule}.", {"field": "rule"})
        filters.append(WorkflowRun.rule_id == rule)
    if phase is not None:
        filters.append(WorkflowRun.phase == phase)
    side = Side(
        "run",
        WorkflowRun,
        WorkflowRun.status,
        ActionRunStatus.failed,
        WorkflowRun.started_at,
        tuple(filters),
        (WorkflowRun.rule, WorkflowRun.eco),
    )
    found = _newest_first([side], window_days, page, per_page)
    found.items = [run for _, run in found.items]
    return found


def rules() -> list[tuple[int, str]]:
    return list(db.session.execute(select(WorkflowRule.id, WorkflowRule.name).order_by(WorkflowRule.name)))


# --- helpdesk ------------------------------------------------------------------------------------


def helpdesk(window_days: int, page: int = 1, per_page: int = 20, *, status: str | None = None) -> Page:
    """Incidents of the window (by `occurred_at`, as the summary counts them) whose helpdesk send
    is failed (refused) or dead (retries spent): the ones the breakage capability replays."""
    statuses = (status,) if status else REPLAYABLE
    sides = [Side(s, Incident, Incident.helpdesk_status, s, Incident.occurred_at) for s in statuses]
    found = _newest_first(sides, window_days, page, per_page)
    found.items = [incident for _, incident in found.items]
    return found


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


EXPORT_SIDES = {
    "bom_delta": (BomExport, ExportStatus.failed, ()),
    "workorder_pack": (Pack, PackStatus.failed, (Pack.workorder,)),
}


def exports(window_days: int, page: int = 1, per_page: int = 20, *, kind: str | None = None) -> Page:
    """Failed BOM-delta exports and work-order packs of the window (by `created_at`)."""
    sides = [
        Side(name, model, model.status, failed, model.created_at, related=related)
        for name, (model, failed, related) in EXPORT_SIDES.items()
        if kind in (None, name)
    ]
    found = _newest_first(sides, window_days, page, per_page)
    attempts = _attempts([row.job_id for _, row in found.items])
    found.items = [ExportFailure(name, row, attempts.get(row.job_id)) for name, row in found.items]
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
