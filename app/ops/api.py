"""JSON API of the parallel-ops overview."""

from typing import Any

from flask import Blueprint, Response
from pydantic import BaseModel

from app.core.api import API_PREFIX, endpoint, page_out
from app.core.auth.roles import OPERATOR
from app.ops import export, failures
from app.ops.schemas import (
    DocSyncFailureList,
    DocSyncFailureOut,
    DocSyncFailuresQuery,
    ExportFailureList,
    ExportFailureOut,
    ExportFailuresQuery,
    HelpdeskFailureList,
    HelpdeskFailureOut,
    HelpdeskFailuresQuery,
    Links,
    SummaryExportQuery,
    SummaryOut,
    SummaryQuery,
    TrendsExportQuery,
    WorkflowFailureList,
    WorkflowFailureOut,
    WorkflowFailuresQuery,
)
from app.ops.summary import summary

bp = Blueprint("ops_api", __name__, url_prefix=API_PREFIX)


@endpoint(
    bp,
    "/parallel-ops/summary",
    summary="Background work across the product over a window: one section per area",
    roles=OPERATOR,
    query=SummaryQuery,
    response=SummaryOut,
)
def get_summary(query: SummaryQuery):
    return SummaryOut.model_validate(summary(query.window_days))


# --- failures -----------------------------------------------------------------------------------


def _failures(area: str, query: Any, model: type[BaseModel], out) -> BaseModel:
    page = failures.read(area, query.window_days, query.page, query.per_page, query.filters())
    return page_out(model, page, lambda item: out(item, Links(**failures.links(area, item))))


def _doc_sync_out(f: failures.DocSyncFailure, links: Links) -> DocSyncFailureOut:
    job = f.job
    return DocSyncFailureOut(
        id=job.id,
        site=job.site.name,
        direction=job.direction,
        status=job.status,
        created_at=job.created_at,
        ended_at=job.ended_at,
        error=job.error,
        attempts=f.attempts,
        replayed=f.replayed,
        replay_id=f.replay_id,
        links=links,
    )


def _workflow_out(run: Any, links: Links) -> WorkflowFailureOut:
    return WorkflowFailureOut(
        id=run.id,
        eco_id=run.eco_id,
        eco=run.eco.number,
        rule_id=run.rule_id,
        rule=run.rule.name,
        phase=run.phase,
        action=run.action,
        from_stage=run.from_stage,
        to_stage=run.to_stage,
        result_code=run.result_code,
        started_at=run.started_at,
        error=run.error,
        attempts=run.attempts,
        links=links,
    )


def _helpdesk_out(incident: Any, links: Links) -> HelpdeskFailureOut:
    return HelpdeskFailureOut(
        id=incident.id,
        code=incident.code,
        helpdesk_status=incident.helpdesk_status,
        occurred_at=incident.occurred_at,
        error=incident.helpdesk_error,
        error_category=incident.helpdesk_error_category,
        attempts=incident.helpdesk_attempts,
        links=links,
    )


def _export_out(f: failures.ExportFailure, links: Links) -> ExportFailureOut:
    return ExportFailureOut(
        kind=f.kind,
        id=f.row.id,
        created_at=f.row.created_at,
        error=f.row.error,
        attempts=f.attempts,
        links=links,
    )


@endpoint(
    bp,
    "/parallel-ops/doc-sync/failures",
    summary="Failed and interrupted sync jobs of the window, newest first (dead_letter: not replayed yet)",
    roles=OPERATOR,
    query=DocSyncFailuresQuery,
    response=DocSyncFailureList,
)
def doc_sync_failures(query: DocSyncFailuresQuery):
    return _failures("doc-sync", query, DocSyncFailureList, _doc_sync_out)


@endpoint(
    bp,
    "/parallel-ops/workflow/failures",
    summary="Failed workflow action runs of the window, newest first",
    roles=OPERATOR,
    query=WorkflowFailuresQuery,
    response=WorkflowFailureList,
)
def workflow_failures(query: WorkflowFailuresQuery):
    return _failures("workflow", query, WorkflowFailureList, _workflow_out)


@endpoint(
    bp,
    "/parallel-ops/helpdesk/failures",
    summary="Incidents of the window whose helpdesk send failed or is dead, newest first",
    roles=OPERATOR,
    query=HelpdeskFailuresQuery,
    response=HelpdeskFailureList,
)
def helpdesk_failures(query: HelpdeskFailuresQuery):
    return _failures("helpdesk", query, HelpdeskFailureList, _helpdesk_out)


@endpoint(
    bp,
    "/parallel-ops/exports/failures",
    summary="Failed BOM-delta exports and work-order packs of the window, newest first",
    roles=OPERATOR,
    query=ExportFailuresQuery,
    response=ExportFailureList,
)
def export_failures(query: ExportFailuresQuery):
    return _failures("exports", query, ExportFailureList, _export_out)


# --- exports ------------------------------------------------------------------------------------


def _file(body: str, export_format: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=export.MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@endpoint(
    bp,
    "/parallel-ops/summary/export",
    summary="The summary as rows (area, figure, key, value) in JSON, CSV or Markdown: the same figures in each",
    roles=OPERATOR,
    query=SummaryExportQuery,
)
def export_summary(query: SummaryExportQuery):
    rows = export.summary_rows(summary(query.window_days))
    return _file(
        export.render(export.SUMMARY_COLUMNS, rows, query.format),
        query.format,
        f"parallel-ops-summary-{query.window_days}d.{query.format}",
    )


@endpoint(
    bp,
    "/parallel-ops/trends/export",
    summary="The trends as rows (bucket start, area, figure, key, value) in CSV or Markdown",
    roles=OPERATOR,
    query=TrendsExportQuery,
)
def export_trends(query: TrendsExportQuery):
    from app.ops.trends import trends  # trends.py comes from its own branch (issue 19, point 2)

    rows = export.trends_rows(trends(query.window_days, query.bucket_days))
    return _file(
        export.render(export.TRENDS_COLUMNS, rows, query.format),
        query.format,
        f"parallel-ops-trends-{query.window_days}d-by-{query.bucket_days}d.{query.format}",
    )
