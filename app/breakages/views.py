"""Pages of breakage incidents: the list (live), create/edit forms, the detail page (status
flow, timeline, documents, helpdesk and ECO, live), the metrics page with its SVG charts, the
helpdesk failures and the helpdesk endpoint. Forms are validated by the API's schemas."""

from typing import Any

from flask import Blueprint, render_template, request, url_for
from pydantic import BaseModel

from app.breakages import charts, figures, helpdesk, loopback, service
from app.breakages.api import filters_of
from app.breakages.models import REPLAYABLE, IncidentStatus, Responsibility, Severity
from app.breakages.schemas import IncidentIn, IncidentPatch, IncidentQuery, MetricsQuery
from app.core import forms
from app.core.api import parse
from app.core.auth.roles import ENGINEER, OPERATOR, SIGNED_IN
from app.core.errors import InvalidInput
from app.core.pages import form_action, form_page, page_roles
from app.core.records import id_from_text
from app.docsync import documents
from app.extensions import db
from app.items.models import BomLine, Item

bp = Blueprint("breakages", __name__, url_prefix="/breakages")


@bp.app_template_global("incidents_of_eco")
def incidents_of_eco(eco_id: int):
    """The incidents an ECO was opened from, for the ECO page (templates/eco/detail.html)."""
    return loopback.sources(eco_id)


def _form(model: type[BaseModel], **extra: Any) -> BaseModel:
    """The posted form as `model` validates it: empty fields are left out (an edit clears a text with a blank)."""
    data: dict[str, Any] = {}
    for key, value in request.form.items():
        if key in ("csrf_token", forms.FIELD, "document_ids"):
            continue
        if value == "" and key not in service.TEXT_FIELDS:  # a blank text clears it; a blank choice is left out
            continue
        data[key] = value
    if data.get("occurred_at") and len(data["occurred_at"]) == 16:  # <input type=datetime-local>, UTC
        data["occurred_at"] += ":00Z"
    return parse(model, {**data, **extra})


def _query_filters() -> tuple[IncidentQuery, dict[str, Any]]:
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = parse(IncidentQuery, raw)
    except InvalidInput:
        query, raw = IncidentQuery(), {}
    shown = {k: v for k, v in raw.items() if k != "page"}
    return query, shown


def _choices() -> dict[str, Any]:
    products = db.session.scalars(db.select(Item).where(Item.item_type == "assembly").order_by(Item.number)).all()
    lines = db.session.scalars(db.select(BomLine).order_by(BomLine.bom_id, BomLine.find_number).limit(500)).all()
    return {
        "products": products,
        "parts": db.session.scalars(db.select(Item).order_by(Item.number).limit(1000)).all(),
        "lines": lines,
        "severities": list(Severity),
        "responsibilities": list(Responsibility),
        "statuses": list(IncidentStatus),
    }


# ---- list ----------------------------------------------------------------------


def _list_context() -> dict[str, Any]:
    query, shown = _query_filters()
    page = service.search(filters_of(query), query.page, query.per_page)
    return {"page": page, "filters": shown, "query": query, **_choices()}


@bp.get("/")
@page_roles(SIGNED_IN)
def index():
    return render_template("breakages/index.html", **_list_context())


@bp.get("/panel")
@page_roles(SIGNED_IN)
def list_panel():
    return render_template("breakages/_list.html", **_list_context())


@bp.route("/new", methods=["GET", "POST"])
@page_roles(ENGINEER)
def create():
    def save(_values: dict) -> str:
        fields = _form(IncidentIn)
        document_ids = [i for i in map(id_from_text, request.form.getlist("document_ids")) if i is not None]
        incident = service.create_incident(fields.model_dump(exclude={"document_ids"}), document_ids=document_ids)
        return url_for("breakages.detail", incident_id=incident.id)

    return form_page(
        "breakages/form.html",
        save,
        {"severity": "medium", "responsibility": "unknown"},
        context=lambda _: {"incident": None, "all_documents": documents.search(per_page=200).items, **_choices()},
    )


@bp.route("/<int:incident_id>/edit", methods=["GET", "POST"])
@page_roles(ENGINEER)
def edit(incident_id: int):
    incident = service.get_incident(incident_id)

    def save(_values: dict) -> str:
        changes = _form(IncidentPatch).model_dump(exclude_unset=True)
        for key in ("bom_id", "bom_line_id", "component_id"):  # a blank select clears it
            if request.form.get(key, None) == "":
                changes[key] = None
        service.update_incident(incident_id, changes)
        return url_for("breakages.detail", incident_id=incident_id)

    values = {c: getattr(incident, c) for c in service.EDITABLE}
    values["occurred_at"] = incident.occurred_at.strftime("%Y-%m-%dT%H:%M")
    return form_page(
        "breakages/form.html", save, values, context=lambda _: {"incident": incident, "all_documents": [], **_choices()}
    )


# ---- detail ----------------------------------------------------------------------


def _detail_context(incident_id: int) -> dict[str, Any]:
    incident = service.get_incident(incident_id)
    return {
        "incident": incident,
        "events": service.events(incident.id, per_page=50).items,
        "allowed": incident.allowed_moves,
        "endpoint": helpdesk.configured(),
        "replayable": incident.helpdesk_status in REPLAYABLE,
        "all_documents": documents.search(per_page=200).items,
    }


@bp.get("/<int:incident_id>")
@page_roles(SIGNED_IN)
def detail(incident_id: int):
    return render_template("breakages/detail.html", **_detail_context(incident_id))


@bp.get("/<int:incident_id>/panel")
@page_roles(SIGNED_IN)
def panel(incident_id: int):
    return render_template("breakages/_panel.html", **_detail_context(incident_id))


def _back(incident_id: int) -> str:
    return url_for("breakages.detail", incident_id=incident_id)


@bp.post("/<int:incident_id>/status")
@page_roles(ENGINEER)
def move(incident_id: int):
    def act() -> str:
        form = request.form
        incident = service.move(
            incident_id, form.get("to_status", ""), form.get("reason", ""), form.get("verification_note", "")
        )
        return f"{incident.code} is {incident.status}."

    return form_action(act, _back(incident_id))


@bp.post("/<int:incident_id>/documents")
@page_roles(ENGINEER)
def attach(incident_id: int):
    def act() -> str:
        document_id = id_from_text(request.form.get("document_id", ""))
        if document_id is None:
            raise InvalidInput("Choose a document.", {"field": "document_id"})
        incident = service.attach_document(incident_id, document_id)
        return f"Attached to {incident.code}."

    return form_action(act, _back(incident_id))


@bp.post("/<int:incident_id>/documents/<int:document_id>/detach")
@page_roles(ENGINEER)
def detach(incident_id: int, document_id: int):
    def act() -> str:
        incident = service.detach_document(incident_id, document_id)
        return f"Detached from {incident.code}."

    return form_action(act, _back(incident_id))


@bp.post("/<int:incident_id>/helpdesk")
@page_roles(ENGINEER)
def send(incident_id: int):
    def act() -> str:
        incident = helpdesk.replay(incident_id) if request.form.get("replay") else helpdesk.send(incident_id)
        return f"{incident.code}: helpdesk send {incident.helpdesk_status}."

    return form_action(act, request.form.get("back") or _back(incident_id))


@bp.post("/<int:incident_id>/eco")
@page_roles(ENGINEER)
def open_eco(incident_id: int):
    def act():
        try:
            result = loopback.open_eco(incident_id)
        except loopback.AlreadyLinked:
            db.session.rollback()
            result = loopback.linked(incident_id)
        verb = "opened" if result.created else "is already linked"
        return f"{result.eco.number} {verb}.", url_for("eco.detail", eco_id=result.eco.id)

    return form_action(act, _back(incident_id))


# ---- metrics -----------------------------------------------------------------------


@bp.get("/metrics")
@page_roles(SIGNED_IN)
def metrics_page():
    try:
        query = parse(MetricsQuery, {k: v for k, v in request.args.items() if v != ""})
    except InvalidInput:
        query = MetricsQuery()
    summary = figures.summary(query.days, query.top)
    return render_template(
        "breakages/metrics.html",
        figures=summary,
        query=query,
        pareto=charts.pareto(summary["pareto"]),
        trend=charts.trend(summary["trend"]),
    )


# ---- helpdesk ----------------------------------------------------------------------


@bp.get("/helpdesk/failures")
@page_roles(SIGNED_IN)
def failures():
    status = request.args.get("status")
    status = status if status in REPLAYABLE else None
    page = helpdesk.failures(status, request.args.get("page", 1, type=int))
    return render_template("breakages/failures.html", page=page, status=status)


@bp.route("/helpdesk", methods=["GET", "POST"])
@page_roles(OPERATOR)
def helpdesk_page():
    endpoint = helpdesk.configured()

    def save(values: dict) -> tuple[str, str]:
        if endpoint is None:
            helpdesk.create_endpoint(
                values.get("name", ""),
                values.get("base_url", ""),
                values.get("token") or None,
                values.get("webhook_secret") or None,
            )
            return "Helpdesk endpoint saved.", url_for("breakages.helpdesk_page")
        helpdesk.update_endpoint(
            endpoint.id,
            values.get("base_url") or None,
            values.get("token") or None,
            values.get("webhook_secret") or None,
        )
        return "Helpdesk endpoint changed.", url_for("breakages.helpdesk_page")

    shown = {"name": endpoint.name, "base_url": endpoint.base_url} if endpoint else {}
    return form_page(
        "breakages/helpdesk.html",
        save,
        shown,
        posted=lambda: {k: v for k, v in request.form.items() if k in ("name", "base_url", "token", "webhook_secret")},
        context=lambda _: {"endpoint": endpoint},
    )


@bp.post("/helpdesk/health")
@page_roles(OPERATOR)
def helpdesk_health():
    def act() -> str:
        endpoint = helpdesk.configured()
        if endpoint is None:
            raise InvalidInput("Configure the helpdesk endpoint first.", {"field": "base_url"})
        checked = helpdesk.probe(endpoint.id)
        return f"Helpdesk is {checked.status}" + (f": {checked.status_detail}" if checked.status_detail else ".")

    return form_action(act, url_for("breakages.helpdesk_page"))
