"""JSON API of breakage incidents, their figures, the helpdesk and the ECO loopback."""

from flask import Blueprint, Response, request

from app.breakages import exports, figures, helpdesk, loopback, service
from app.breakages.schemas import (
    AttachIn,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventList,
    FailureQuery,
    IncidentExportQuery,
    IncidentIn,
    IncidentList,
    IncidentOut,
    IncidentPatch,
    IncidentQuery,
    LoopbackOut,
    MetricsExportQuery,
    MetricsOut,
    MetricsQuery,
    MoveIn,
    PageQuery,
    SendOut,
    WebhookOut,
)
from app.core.api import API_PREFIX, TimelineEventOut, endpoint, page_out
from app.core.auth.roles import ENGINEER, OPERATOR
from app.core.errors import NotFound
from app.extensions import db

bp = Blueprint("breakages_api", __name__, url_prefix=API_PREFIX)


def filters_of(query: IncidentQuery) -> service.Filters:
    values = query.model_dump(include=set(service.Filters.__dataclass_fields__) - {"descending"})
    return service.Filters(**values, descending=query.order == "desc")


def _out(incident) -> IncidentOut:
    return IncidentOut.model_validate(incident)


@endpoint(bp, "/breakages", summary="Incidents, filtered, sorted and paged", query=IncidentQuery, response=IncidentList)
def list_incidents(query: IncidentQuery):
    page = service.search(filters_of(query), query.page, query.per_page)
    return page_out(IncidentList, page, _out)


@endpoint(
    bp,
    "/breakages",
    "POST",
    summary="Record an incident (code BRK-nnnnnn)",
    roles=ENGINEER,
    body=IncidentIn,
    response=IncidentOut,
    status=201,
)
def create_incident(body: IncidentIn):
    values = body.model_dump(exclude={"document_ids"})
    incident = service.create_incident(values, document_ids=body.document_ids)
    db.session.commit()
    return _out(incident)


@endpoint(bp, "/breakages/<int:incident_id>", summary="One incident", response=IncidentOut)
def get_incident(incident_id: int):
    return _out(service.get_incident(incident_id))


@endpoint(
    bp,
    "/breakages/<int:incident_id>",
    "PATCH",
    summary="Edit an incident's fields",
    roles=ENGINEER,
    body=IncidentPatch,
    response=IncidentOut,
)
def update_incident(incident_id: int, body: IncidentPatch):
    incident = service.update_incident(incident_id, body.model_dump(exclude_unset=True))
    db.session.commit()
    return _out(incident)


@endpoint(
    bp,
    "/breakages/<int:incident_id>/status",
    "POST",
    summary="Move along the flow (409 naming the allowed targets, or the missing requirements)",
    roles=ENGINEER,
    body=MoveIn,
    response=IncidentOut,
)
def move_incident(incident_id: int, body: MoveIn):
    incident = service.move(incident_id, body.to_status, body.reason, body.verification_note)
    db.session.commit()
    return _out(incident)


@endpoint(
    bp,
    "/breakages/<int:incident_id>/events",
    summary="The incident's timeline, newest first",
    query=PageQuery,
    response=EventList,
)
def incident_events(incident_id: int, query: PageQuery):
    return page_out(EventList, service.events(incident_id, query.page, query.per_page), TimelineEventOut.model_validate)


@endpoint(
    bp,
    "/breakages/<int:incident_id>/documents",
    "POST",
    summary="Attach a document",
    roles=ENGINEER,
    body=AttachIn,
    response=IncidentOut,
)
def attach_document(incident_id: int, body: AttachIn):
    incident = service.attach_document(incident_id, body.document_id)
    db.session.commit()
    return _out(incident)


@endpoint(
    bp,
    "/breakages/<int:incident_id>/documents/<int:document_id>",
    "DELETE",
    summary="Detach a document",
    roles=ENGINEER,
    response=IncidentOut,
)
def detach_document(incident_id: int, document_id: int):
    incident = service.detach_document(incident_id, document_id)
    db.session.commit()
    return _out(incident)


@endpoint(bp, "/breakages/export", summary="The filtered list as CSV or Markdown", query=IncidentExportQuery)
def export_incidents(query: IncidentExportQuery):
    body, mimetype, filename = exports.render(
        "incidents", query.export_format, exports.incident_rows(filters_of(query))
    )
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---- figures -------------------------------------------------------------------


@endpoint(
    bp,
    "/breakages/metrics",
    summary="Repeat rate, hotspots, Pareto, counts, MTTR, weekly trend of a window",
    query=MetricsQuery,
    response=MetricsOut,
)
def metrics(query: MetricsQuery):
    return MetricsOut.model_validate(figures.summary(query.days, query.top))


@endpoint(bp, "/breakages/metrics/export", summary="The figures as CSV or Markdown", query=MetricsExportQuery)
def export_metrics(query: MetricsExportQuery):
    rows = exports.metrics_rows(figures.summary(query.days, query.top))
    body, mimetype, filename = exports.render("metrics", query.export_format, rows)
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---- helpdesk --------------------------------------------------------------------


@endpoint(
    bp,
    "/breakages/<int:incident_id>/helpdesk-sync",
    "POST",
    summary="Send to the helpdesk (a job on `sync`; sent or queued already: nothing new)",
    roles=ENGINEER,
    response=SendOut,
    status=202,
)
def send_to_helpdesk(incident_id: int):
    incident = helpdesk.send(incident_id)
    db.session.commit()
    return SendOut.model_validate(incident)


@endpoint(
    bp,
    "/breakages/<int:incident_id>/helpdesk-sync/replay",
    "POST",
    summary="Send a failed or dead hand-over again (same Idempotency-Key)",
    roles=ENGINEER,
    response=SendOut,
    status=202,
)
def replay_helpdesk(incident_id: int):
    incident = helpdesk.replay(incident_id)
    db.session.commit()
    return SendOut.model_validate(incident)


@endpoint(
    bp,
    "/breakages/helpdesk/failures",
    summary="Failed and dead helpdesk sends, newest first",
    query=FailureQuery,
    response=IncidentList,
)
def helpdesk_failures(query: FailureQuery):
    return page_out(IncidentList, helpdesk.failures(query.status, query.page, query.per_page), _out)


@endpoint(
    bp,
    "/breakages/helpdesk/endpoint",
    summary="The helpdesk endpoint (404 when none)",
    roles=OPERATOR,
    response=EndpointOut,
)
def get_endpoint():
    configured = helpdesk.configured()
    if configured is None:
        raise NotFound("No helpdesk endpoint is configured.")
    return EndpointOut.model_validate(configured)


@endpoint(
    bp,
    "/breakages/helpdesk/endpoint",
    "POST",
    summary="Configure the helpdesk endpoint",
    roles=OPERATOR,
    body=EndpointIn,
    response=EndpointOut,
    status=201,
)
def create_endpoint(body: EndpointIn):
    configured = helpdesk.create_endpoint(**body.model_dump())
    db.session.commit()
    return EndpointOut.model_validate(configured)


@endpoint(
    bp,
    "/breakages/helpdesk/endpoint/<int:endpoint_id>",
    "PATCH",
    summary="Change URL, token or webhook secret",
    roles=OPERATOR,
    body=EndpointPatch,
    response=EndpointOut,
)
def update_endpoint(endpoint_id: int, body: EndpointPatch):
    configured = helpdesk.update_endpoint(endpoint_id, **body.model_dump(exclude_unset=True))
    db.session.commit()
    return EndpointOut.model_validate(configured)


@endpoint(
    bp,
    "/breakages/helpdesk/endpoint/<int:endpoint_id>/health",
    "POST",
    summary="Probe the helpdesk's /health",
    roles=OPERATOR,
    response=EndpointOut,
)
def check_endpoint(endpoint_id: int):
    configured = helpdesk.probe(endpoint_id)
    db.session.commit()
    return EndpointOut.model_validate(configured)


@endpoint(
    bp,
    "/breakages/helpdesk/webhook",
    "POST",
    summary="Ticket updates from the helpdesk: HMAC-SHA256 of the body in X-Helpdesk-Signature, "
    "timestamp within HELPDESK_WEBHOOK_TOLERANCE, each event id once",
    response=WebhookOut,
    signed=True,
)
def helpdesk_webhook():
    incident = helpdesk.apply_webhook(request.get_data(), request.headers.get(helpdesk.SIGNATURE_HEADER))
    db.session.commit()
    return WebhookOut(code=incident.code, ticket_id=incident.ticket_id, ticket_status=incident.ticket_status)


# ---- loopback ----------------------------------------------------------------------


@endpoint(
    bp,
    "/breakages/<int:incident_id>/eco",
    "POST",
    summary="Open (or get) the incident's ECO: one ECO however often, or from however many clients",
    roles=ENGINEER,
    response=LoopbackOut,
)
def open_eco(incident_id: int):
    try:
        result = loopback.open_eco(incident_id)
        db.session.commit()
    except loopback.AlreadyLinked:
        db.session.rollback()
        result = loopback.linked(incident_id)
    out = LoopbackOut(
        incident_id=result.incident.id, eco_id=result.eco.id, eco_number=result.eco.number, created=result.created
    )
    return out, 201 if result.created else 200
