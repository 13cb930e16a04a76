"""JSON API of the parallel-ops overview."""

from typing import Any

from flask import Blueprint, Response
from pydantic import BaseModel

from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ADMIN, OPERATOR
from app.extensions import db
from app.ops import (
    alerts,
    export,
    failures,
    gauges,  # noqa: F401  (registers the ops_* scrape-time gauges)
    switches,
    thresholds,
)
from app.ops.schemas import (
    AlertOut,
    AlertsOut,
    AlertsQuery,
    BreakerSwitchOut,
    DocSyncFailureList,
    DocSyncFailureOut,
    DocSyncFailuresQuery,
    ExportFailureList,
    ExportFailureOut,
    ExportFailuresQuery,
    HelpdeskFailureList,
    HelpdeskFailureOut,
    HelpdeskFailuresQuery,
    IntakeOut,
    SummaryExportQuery,
    SummaryOut,
    SummaryQuery,
    SwitchBody,
    SwitchesOut,
    TrendsExportQuery,
    TrendsOut,
    TrendsQuery,
    WorkflowFailureList,
    WorkflowFailureOut,
    WorkflowFailuresQuery,
)
from app.ops.summary import summary
from app.ops.trends import trends

bp = Blueprint("ops_api", __name__, url_prefix=API_PREFIX)
# a wrong OPS_THRESHOLDS stops the app at start, naming the setting, instead of failing each request
bp.record_once(lambda state: thresholds.parse_config(state.app.config.get("OPS_THRESHOLDS")))


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


@endpoint(
    bp,
    "/parallel-ops/trends",
    summary="Per time bucket of a window, the totals and failures of each area (edges between buckets on whole hours)",
    roles=OPERATOR,
    query=TrendsQuery,
    response=TrendsOut,
)
def get_trends(query: TrendsQuery):
    return TrendsOut.model_validate(trends(query.window_days, query.bucket_days))


@endpoint(
    bp,
    "/parallel-ops/alerts",
    summary="What needs an operator now, critical first; every threshold can be overridden for the request",
    roles=OPERATOR,
    query=AlertsQuery,
    response=AlertsOut,
)
def get_alerts(query: AlertsQuery):
    values = thresholds.effective(query)
    return AlertsOut(
        window_days=query.window_days,
        thresholds=values,
        alerts=[AlertOut(**a, link=alerts.link(a)) for a in alerts.alerts(query.window_days, values, query.level)],
    )


@endpoint(
    bp,
    "/parallel-ops/switches",
    summary="The ops switches: every job kind's intake (paused or not) and every outbound breaker",
    roles=OPERATOR,
    response=SwitchesOut,
)
def list_switches():
    return SwitchesOut(intake=switches.intake(), breakers=switches.breakers())


@endpoint(
    bp,
    "/parallel-ops/switches/intake/<kind>/pause",
    "POST",
    summary="Pause the intake of a job kind: new submissions get 503 `paused` (jobs already queued still run)",
    roles=ADMIN,
    body=SwitchBody,
    response=IntakeOut,
)
def pause_intake(kind: str, body: SwitchBody):
    out = switches.pause(kind, body.reason)
    db.session.commit()
    return IntakeOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/intake/<kind>/resume",
    "POST",
    summary="Resume the intake of a paused job kind",
    roles=ADMIN,
    response=IntakeOut,
)
def resume_intake(kind: str):
    out = switches.resume(kind)
    db.session.commit()
    return IntakeOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/sites/<int:site_id>/breaker/open",
    "POST",
    summary="Open a remote site's breaker by hand: calls to it pause until it is closed by hand",
    roles=ADMIN,
    body=SwitchBody,
    response=BreakerSwitchOut,
)
def open_site_breaker(site_id: int, body: SwitchBody):
    out = switches.switch_site(site_id, True, body.reason)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/sites/<int:site_id>/breaker/close",
    "POST",
    summary="Close a remote site's breaker by hand (held or opened by failures)",
    roles=ADMIN,
    response=BreakerSwitchOut,
)
def close_site_breaker(site_id: int):
    out = switches.switch_site(site_id, False)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/helpdesk/breaker/open",
    "POST",
    summary="Open the helpdesk endpoint's breaker by hand: sends pause until it is closed by hand",
    roles=ADMIN,
    body=SwitchBody,
    response=BreakerSwitchOut,
)
def open_helpdesk_breaker(body: SwitchBody):
    out = switches.switch_helpdesk(True, body.reason)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


@endpoint(
    bp,
    "/parallel-ops/switches/helpdesk/breaker/close",
    "POST",
    summary="Close the helpdesk endpoint's breaker by hand",
    roles=ADMIN,
    response=BreakerSwitchOut,
)
def close_helpdesk_breaker():
    out = switches.switch_helpdesk(False)
    db.session.commit()
    return BreakerSwitchOut.model_validate(out)


# --- failures -----------------------------------------------------------------------------------


def _failures(area: str, query: Any, model: type[BaseModel], item: type[BaseModel]) -> BaseModel:
    """A page of an area's failure table, each row `item` read from the row failures.read() gives, with its links."""
    page = failures.read(area, query.window_days, query.page, query.per_page, query.filters())
    return page_out(model, page, lambda row: read(item, row, links=failures.links(area, row)))


@endpoint(
    bp,
    "/parallel-ops/doc-sync/failures",
    summary="Failed and interrupted sync jobs of the window, newest first (dead_letter: not replayed yet)",
    roles=OPERATOR,
    query=DocSyncFailuresQuery,
    response=DocSyncFailureList,
)
def doc_sync_failures(query: DocSyncFailuresQuery):
    return _failures("doc-sync", query, DocSyncFailureList, DocSyncFailureOut)


@endpoint(
    bp,
    "/parallel-ops/workflow/failures",
    summary="Failed workflow action runs of the window, newest first",
    roles=OPERATOR,
    query=WorkflowFailuresQuery,
    response=WorkflowFailureList,
)
def workflow_failures(query: WorkflowFailuresQuery):
    return _failures("workflow", query, WorkflowFailureList, WorkflowFailureOut)


@endpoint(
    bp,
    "/parallel-ops/helpdesk/failures",
    summary="Incidents of the window whose helpdesk send failed or is dead, newest first",
    roles=OPERATOR,
    query=HelpdeskFailuresQuery,
    response=HelpdeskFailureList,
)
def helpdesk_failures(query: HelpdeskFailuresQuery):
    return _failures("helpdesk", query, HelpdeskFailureList, HelpdeskFailureOut)


@endpoint(
    bp,
    "/parallel-ops/exports/failures",
    summary="Failed BOM-delta exports and work-order packs of the window, newest first",
    roles=OPERATOR,
    query=ExportFailuresQuery,
    response=ExportFailureList,
)
def export_failures(query: ExportFailuresQuery):
    return _failures("exports", query, ExportFailureList, ExportFailureOut)


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
    rows = export.trends_rows(trends(query.window_days, query.bucket_days))
    return _file(
        export.render(export.TRENDS_COLUMNS, rows, query.format),
        query.format,
        f"parallel-ops-trends-{query.window_days}d-by-{query.bucket_days}d.{query.format}",
    )
