"""JSON API of consumption plans, templates, actuals, the MES inbox and variance."""

import csv
import io

from flask import Blueprint, Response, current_app, request

from app.consumption import inbox, service, variance
from app.consumption.models import PlanState
from app.consumption.schemas import (
    BucketOut,
    DashboardOut,
    DashboardQuery,
    DashboardRow,
    DispositionOut,
    EventList,
    EventOut,
    EventQuery,
    ImpactOut,
    InboxIn,
    InboxOut,
    PlanIn,
    PlanList,
    PlanOut,
    PlanPatch,
    PlanQuery,
    PlanVarianceOut,
    RecordIn,
    RecordList,
    RecordOut,
    RecordQuery,
    ReplayAllOut,
    TemplateList,
    TemplateOut,
    TemplateQuery,
    ToleranceQuery,
)
from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ENGINEER, OPERATOR, RECORDERS
from app.core.errors import DomainError
from app.engine.heap import long_lived_objects_frozen
from app.extensions import db
from app.items.structure import quantity_text

bp = Blueprint("consumption_api", __name__, url_prefix=API_PREFIX + "/consumption")
INGEST = OPERATOR  # the role of the MES's API token (an admin's passes too)


class TooLarge(DomainError):
    status = 413
    code = "payload_too_large"


@bp.before_request
def _limit_inbox_body():
    """A batch body over CONSUMPTION_INBOX_MAX_BYTES is refused before it is read (also when chunked)."""
    if request.endpoint == "consumption_api.ingest_mes_events":
        limit = current_app.config["CONSUMPTION_INBOX_MAX_BYTES"]
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge(f"A batch is at most {limit} bytes.", {"field": "(body)", "limit": limit})


# ---- plans -----------------------------------------------------------------


def _plan_filters(query: PlanQuery) -> dict:
    template = service.get_template(query.template_key) if query.template_key else None
    return {
        "item_id": query.item_id,
        "state": query.state,
        "period_from": query.period_from,
        "period_to": query.period_to,
        "template_id": template.id if template else None,
        "sort": query.sort,
    }


@endpoint(
    bp,
    "/plans",
    summary="Plans, filtered by item, state and period, sorted and paged",
    query=PlanQuery,
    response=PlanList,
)
def list_plans(query: PlanQuery):
    page = service.search_plans(query.page, query.per_page, **_plan_filters(query))
    return page_out(PlanList, page, PlanOut.model_validate)


@endpoint(
    bp, "/plans", "POST", summary="Create a plan (a draft)", roles=ENGINEER, body=PlanIn, response=PlanOut, status=201
)
def create_plan(body: PlanIn):
    plan = service.create_plan(body.model_dump())
    db.session.commit()
    return PlanOut.model_validate(plan)


@endpoint(bp, "/plans/<int:plan_id>", summary="One plan", response=PlanOut)
def get_plan(plan_id: int):
    return PlanOut.model_validate(service.get_plan(plan_id))


@endpoint(
    bp,
    "/plans/<int:plan_id>",
    "PATCH",
    summary="Change a plan (not a closed one)",
    roles=ENGINEER,
    body=PlanPatch,
    response=PlanOut,
)
def update_plan(plan_id: int, body: PlanPatch):
    plan = service.update_plan(plan_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return PlanOut.model_validate(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/activate",
    "POST",
    summary="Activate a draft plan; its template's active version goes back to draft",
    roles=ENGINEER,
    response=PlanOut,
)
def activate_plan(plan_id: int):
    plan = service.activate_plan(plan_id)
    db.session.commit()
    return PlanOut.model_validate(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/deactivate",
    "POST",
    summary="Take an active plan back to draft",
    roles=ENGINEER,
    response=PlanOut,
)
def deactivate_plan(plan_id: int):
    plan = service.deactivate_plan(plan_id)
    db.session.commit()
    return PlanOut.model_validate(plan)


@endpoint(
    bp,
    "/plans/<int:plan_id>/close",
    "POST",
    summary="Close a plan: read-only from then on",
    roles=ENGINEER,
    response=PlanOut,
)
def close_plan(plan_id: int):
    plan = service.close_plan(plan_id)
    db.session.commit()
    return PlanOut.model_validate(plan)


def impact_out(impact: service.Impact) -> ImpactOut:
    def text(value):
        return None if value is None else quantity_text(value)

    return ImpactOut(
        plan_id=impact.plan.id,
        unit=impact.plan.unit,
        planned_quantity=text(impact.plan.planned_quantity),
        active_plan_id=impact.active.id if impact.active else None,
        active_planned_quantity=text(impact.active_planned),
        delta=text(impact.delta),
        delta_ratio=impact.delta_ratio,
    )


@endpoint(
    bp,
    "/plans/<int:plan_id>/impact",
    summary="What activating this version changes against the active one",
    response=ImpactOut,
)
def plan_impact(plan_id: int):
    return impact_out(service.activation_impact(plan_id))


def _variance(v: variance.Variance, tolerance: float) -> dict:
    return {
        "planned": v.planned,
        "actual": v.actual,
        "delta": v.delta,
        "delta_ratio": v.delta_ratio,
        "status": v.status(tolerance),
    }


@endpoint(
    bp,
    "/plans/<int:plan_id>/variance",
    summary="Planned, actual and their delta, in all and per period bucket",
    query=ToleranceQuery,
    response=PlanVarianceOut,
)
def plan_variance(plan_id: int, query: ToleranceQuery):
    plan = service.get_plan(plan_id)
    tolerance = variance.tolerance(query.tolerance)
    spans = variance.buckets(plan)
    buckets = [BucketOut(start=b.start, end=b.end, **_variance(b.variance, tolerance)) for b in spans]
    total = variance.of_buckets(plan, spans)
    return PlanVarianceOut(
        plan_id=plan.id, unit=plan.unit, tolerance=tolerance, buckets=buckets, **_variance(total, tolerance)
    )


@endpoint(
    bp,
    "/dashboard",
    summary="Plans with their variance, of one item or of all",
    query=DashboardQuery,
    response=DashboardOut,
)
def dashboard(query: DashboardQuery):
    tolerance = variance.tolerance(query.tolerance)
    page, variances = variance.table(query.item_id, query.state, query.page, query.per_page)
    rows = [DashboardRow(plan=PlanOut.model_validate(p), **_variance(variances[p.id], tolerance)) for p in page.items]
    return DashboardOut(tolerance=tolerance, rows=rows, paging=page.meta())


EXPORT_COLUMNS = (
    "plan_id",
    "item",
    "template",
    "version",
    "state",
    "period_start",
    "period_end",
    "unit",
    "planned",
    "actual",
    "delta",
    "delta_ratio",
    "status",
)
EXPORT_MAX = 10_000


def variance_csv(item_id: int | None, state: str | None, tolerance: float) -> Response:
    """The variance table as CSV (at most EXPORT_MAX plans, aggregated page by page in SQL)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    page_number = 1
    while True:
        page, variances = variance.table(item_id, state, page_number, 200)
        for plan in page.items:
            v = variances[plan.id]
            writer.writerow(
                [
                    plan.id,
                    plan.item.number,
                    plan.template_key or "",
                    plan.version or "",
                    plan.state,
                    plan.period_start.date().isoformat(),
                    plan.period_end.date().isoformat(),
                    plan.unit,
                    f"{v.planned:.6g}",
                    f"{v.actual:.6g}",
                    f"{v.delta:.6g}",
                    "" if v.delta_ratio is None else f"{v.delta_ratio:.4f}",
                    v.status(tolerance),
                ]
            )
        if not page.has_next or page_number * 200 >= EXPORT_MAX:
            break
        page_number += 1
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="consumption-variance.csv"'},
    )


@endpoint(bp, "/dashboard/export", summary="The variance table as CSV", query=DashboardQuery)
def dashboard_export(query: DashboardQuery):
    return variance_csv(query.item_id, query.state, variance.tolerance(query.tolerance))


# ---- templates -------------------------------------------------------------


def template_out(template) -> TemplateOut:
    active = next((v.version for v in template.versions if v.state == PlanState.active), None)
    return read(
        TemplateOut, template, active_version=active, versions=[PlanOut.model_validate(v) for v in template.versions]
    )


@endpoint(bp, "/templates", summary="Templates with their versions", query=TemplateQuery, response=TemplateList)
def list_templates(query: TemplateQuery):
    return page_out(TemplateList, service.search_templates(query.page, query.per_page), template_out)


@endpoint(bp, "/templates/<key>", summary="One template with its versions", response=TemplateOut)
def get_template(key: str):
    return template_out(service.get_template(key))


# ---- actuals ---------------------------------------------------------------


@endpoint(bp, "/records", summary="Actuals, newest first", query=RecordQuery, response=RecordList)
def list_records(query: RecordQuery):
    page = service.search_records(query.plan_id, query.source_type, query.page, query.per_page)
    return page_out(RecordList, page, RecordOut.model_validate)


@endpoint(
    bp,
    "/records",
    "POST",
    summary="Record an actual (idempotent with idempotency_key: the same payload gives the first record, 200)",
    roles=RECORDERS,
    body=RecordIn,
    response=RecordOut,
    status=201,
)
def create_record(body: RecordIn):
    record, created = service.create_record(body.model_dump())
    db.session.commit()
    return RecordOut.model_validate(record), 201 if created else 200


# ---- MES inbox -------------------------------------------------------------


@endpoint(
    bp,
    "/mes-inbox",
    "POST",
    summary="Take a batch of up to 10,000 MES events; 202 with each one's disposition",
    roles=INGEST,
    body=InboxIn,
    response=InboxOut,
    status=202,
)
def ingest_mes_events(body: InboxIn):
    with long_lived_objects_frozen():  # 10,000 events: many full GC passes over the app's heap otherwise
        return _ingest(body)


def _ingest(body: InboxIn) -> InboxOut:
    batch, outcomes = inbox.ingest(body.events)
    db.session.commit()
    return InboxOut(
        batch_id=batch.id,
        job_id=batch.job_id,
        accepted=batch.accepted,
        duplicate=batch.duplicate,
        rejected=batch.rejected,
        dispositions=[
            DispositionOut(index=o.index, event_id=o.event_id, disposition=o.disposition, reason=o.reason)
            for o in outcomes
        ],
    )


@endpoint(
    bp,
    "/mes-inbox",
    summary="Inbox events, newest first, with counts per state",
    roles=OPERATOR,
    query=EventQuery,
    response=EventList,
)
def list_inbox_events(query: EventQuery):
    page = inbox.search_events(query.state, query.batch_id, query.page, query.per_page)
    return EventList(events=[EventOut.model_validate(e) for e in page.items], counts=inbox.counts(), paging=page.meta())


@endpoint(
    bp, "/mes-inbox/<int:event_id>/replay", "POST", summary="Replay a dead event", roles=OPERATOR, response=EventOut
)
def replay_event(event_id: int):
    event = inbox.replay(event_id)
    db.session.commit()
    return EventOut.model_validate(event)


@endpoint(bp, "/mes-inbox/replay", "POST", summary="Replay every dead event", roles=OPERATOR, response=ReplayAllOut)
def replay_dead_events():
    replayed = inbox.replay_dead()
    db.session.commit()
    return ReplayAllOut(replayed=replayed)
