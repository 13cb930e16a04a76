"""Incidents: codes, fields and their checks, the enforced status flow and its timeline,
attached documents (through the documents service), the filtered list.

Functions here add to the caller's transaction and never commit.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from app.breakages import metrics
from app.breakages.figures import epoch
from app.breakages.models import (
    FLOW,
    CodeCounter,
    Incident,
    IncidentDocument,
    IncidentEvent,
    IncidentStatus,
    Responsibility,
    Severity,
)
from app.core import audit, live, timeline, txn
from app.core.audit.service import current_actor
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.paging import Page, containing, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.docsync import documents
from app.extensions import db
from app.items import service as items
from app.items.models import Bom, BomLine, Item

CODE_COUNTER = "incident"
LIST_TOPIC = "breakage:list"  # the list page re-reads on every incident change
TEXT_FIELDS = {
    "batch_code": 80,
    "production_order": 80,
    "customer": 120,
    "root_cause": 20000,
    "immediate_action": 20000,
    "corrective_action": 20000,
    "preventive_action": 20000,
}
EDITABLE = (
    "item_id",
    "bom_id",
    "bom_line_id",
    "component_id",
    "occurred_at",
    "description",
    "severity",
    "responsibility",
    *TEXT_FIELDS,
)
SORTS = {
    "occurred_at": Incident.occurred_at,
    "created_at": Incident.created_at,
    "code": Incident.code,
    "severity": Incident.severity,
    "status": Incident.status,
}


def topic(incident_id: int) -> str:
    return f"breakage:{incident_id}"


# ---- codes -------------------------------------------------------------------


def next_code() -> str:
    """BRK-000123 from the counter row, incremented under its row lock in one statement
    (INSERT ... ON CONFLICT DO UPDATE ... RETURNING, on SQLite and PostgreSQL alike): a
    concurrent create waits for this transaction instead of reading the same value."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CodeCounter).values(name=CODE_COUNTER, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=[CodeCounter.name], set_={"value": CodeCounter.value + 1}
    ).returning(CodeCounter.value)
    return f"BRK-{db.session.execute(statement).scalar_one():06d}"


# ---- fields --------------------------------------------------------------------


def normalise_description(text: str) -> str:
    """Lower case, words only, single spaces: 'Cracked  housing!' and 'cracked housing' are one failure."""
    return " ".join(re.findall(r"\w+", text.lower()))


def signature(component_id: int | None, description: str) -> str:
    """What makes two incidents of one product the same failure (docs/breakages.md, "Repeat")."""
    if component_id is not None:
        return f"c:{component_id}"
    return "d:" + hashlib.sha256(normalise_description(description).encode()).hexdigest()[:40]


def _choice(value: Any, field: str, allowed: type) -> str:
    try:
        return allowed(value).value
    except ValueError:
        raise InvalidInput(
            f"Unknown {field} {value!r}.", {"field": field, "allowed": [member.value for member in allowed]}
        ) from None


def _text(value: Any, field: str, limit: int) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"{field} has at most {limit} characters.", {"field": field})
    if "\x00" in text:
        raise InvalidInput(f"{field} contains NUL.", {"field": field})
    return text


def _reference(loader, ident: Any, field: str):
    """A row another capability owns, by id; an unknown one is bad input naming the field."""
    try:
        return loader(ident)
    except NotFound as exc:
        raise InvalidInput(exc.message, {"field": field, "id": ident}) from None


@dataclass
class Placement:
    """Where the failure is in the product: its BOM revision, the line and the component."""

    bom: Bom | None
    line: BomLine | None
    component_id: int | None


def _place(item_id: int, bom_id: int | None, bom_line_id: int | None, component_id: int | None) -> Placement:
    bom = _reference(items.get_bom, bom_id, "bom_id") if bom_id is not None else None
    if bom is not None and bom.item_id != item_id:
        raise InvalidInput(f"{bom.ref} is not a BOM revision of this product.", {"field": "bom_id"})
    line = _reference(items.get_line, bom_line_id, "bom_line_id") if bom_line_id is not None else None
    if line is not None:
        bom = bom or line.bom
        if line.bom_id != bom.id or bom.item_id != item_id:
            raise InvalidInput("That BOM line is not on the given BOM revision.", {"field": "bom_line_id"})
        if component_id is not None and component_id != line.child_id:
            raise InvalidInput("The component is not the one on that BOM line.", {"field": "component_id"})
        component_id = line.child_id
    if component_id is not None:
        component = _reference(items.get_item, component_id, "component_id")
        if bom is not None and all(existing.child_id != component.id for existing in bom.lines):
            raise InvalidInput(f"{component.number} is not on {bom.ref}.", {"field": "component_id", "bom": bom.ref})
    return Placement(bom, line, component_id)


def _occurred(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("occurred_at needs a date and time with its time zone.", {"field": "occurred_at"})
    if value > utcnow():
        raise InvalidInput("occurred_at is in the future.", {"field": "occurred_at"})
    return value


def snapshot(incident: Incident) -> dict[str, Any]:
    return {
        "code": incident.code,
        "status": incident.status,
        "severity": incident.severity,
        "responsibility": incident.responsibility,
        "product": incident.item.number,
        "bom": incident.bom.ref if incident.bom else None,
        "bom_line_id": incident.bom_line_id,
        "component": incident.component.number if incident.component else None,
        "occurred_at": incident.occurred_at.isoformat(),
        "description": incident.description,
        **{name: getattr(incident, name) for name in TEXT_FIELDS},
        "documents": [doc.number for doc in incident.documents],
        "eco_id": incident.eco_id,
    }


def _apply(incident: Incident, values: dict[str, Any]) -> None:
    """Check and set the editable fields in `values` (the others stay as they are)."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field} cannot be set here.", {"field": field})
    if "description" in values:
        description = _text(values["description"], "description", 20000)
        if not description:
            raise InvalidInput("A description is required.", {"field": "description"})
        incident.description = description
    if "severity" in values:
        incident.severity = _choice(values["severity"], "severity", Severity)
    if "responsibility" in values:
        incident.responsibility = _choice(values["responsibility"] or "unknown", "responsibility", Responsibility)
    if "occurred_at" in values:
        incident.occurred_at = _occurred(values["occurred_at"])
    for name, limit in TEXT_FIELDS.items():
        if name in values:
            setattr(incident, name, _text(values[name], name, limit))
    if set(PLACEMENT) & set(values):
        _apply_placement(incident, values)
    incident.signature = signature(incident.component_id, incident.description)


PLACEMENT = ("item_id", "bom_id", "bom_line_id", "component_id")


def _apply_placement(incident: Incident, values: dict[str, Any]) -> None:
    merged = {key: values.get(key, getattr(incident, key)) for key in PLACEMENT}
    if "bom_line_id" in values and "component_id" not in values:
        merged["component_id"] = None  # the line names its component
    if merged["item_id"] is None:
        raise InvalidInput("A product is required.", {"field": "item_id"})
    incident.item = _reference(items.get_item, merged["item_id"], "item_id")
    place = _place(incident.item.id, merged["bom_id"], merged["bom_line_id"], merged["component_id"])
    incident.bom, incident.bom_line, incident.component_id = place.bom, place.line, place.component_id


def relink(item_id: int, signature: str) -> None:
    """Recompute `repeat_gap_seconds` of every incident of one product and signature (a few rows:
    the key is that narrow), after a write that adds one, moves one in time, changes its key or
    cancels one. On PostgreSQL the product's row is locked first, so two writers of the same
    product take turns and the second one's statement sees the first's incident."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Item.id).where(Item.id == item_id).with_for_update())
    earlier = aliased(Incident)
    previous = (
        select(func.max(epoch(earlier.occurred_at)))
        .where(
            earlier.item_id == Incident.item_id,
            earlier.signature == Incident.signature,
            earlier.status != IncidentStatus.canceled,
            or_(
                earlier.occurred_at < Incident.occurred_at,
                and_(earlier.occurred_at == Incident.occurred_at, earlier.id < Incident.id),
            ),
        )
        .correlate(Incident)
        .scalar_subquery()
    )
    gap = case((Incident.status == IncidentStatus.canceled, None), else_=epoch(Incident.occurred_at) - previous)
    db.session.execute(
        update(Incident)
        .where(Incident.item_id == item_id, Incident.signature == signature)
        .values(repeat_gap_seconds=gap)
        .execution_options(synchronize_session=False)
    )


def _relink_keys(*keys: tuple[int, str]) -> None:
    for key in sorted(set(keys)):  # in one order, so two edits never wait on each other's products
        relink(*key)


def create_incident(values: dict[str, Any], *, document_ids: list[int] | None = None) -> Incident:
    """A new incident, `open`. Required: item_id, description, severity, occurred_at (default now)."""
    if not values.get("item_id"):
        raise InvalidInput("A product is required.", {"field": "item_id"})
    if "description" not in values:
        raise InvalidInput("A description is required.", {"field": "description"})
    if "severity" not in values:
        raise InvalidInput("A severity is required.", {"field": "severity"})
    incident = Incident(
        status=IncidentStatus.open,
        responsibility=Responsibility.unknown,
        reported_by=current_actor(),
        helpdesk_key=f"forgeline-incident-{uuid.uuid4().hex}",
        occurred_at=utcnow(),
    )
    _apply(
        incident, {"occurred_at": utcnow(), **{k: v for k, v in values.items() if v is not None or k in TEXT_FIELDS}}
    )
    documents_to_attach = [
        _reference(documents.get, doc_id, "document_ids") for doc_id in dict.fromkeys(document_ids or [])
    ]
    incident.code = next_code()
    db.session.add(incident)
    db.session.flush()
    relink(incident.item_id, incident.signature)
    for doc in documents_to_attach:
        db.session.add(IncidentDocument(incident_id=incident.id, document_id=doc.id, attached_by=current_actor()))
    db.session.flush()
    db.session.refresh(incident, ["documents"])
    record_event(incident, "created", None, IncidentStatus.open)
    audit.record("breakage_incident", incident.id, "create", after=snapshot(incident))
    severity = incident.severity
    txn.on_commit(lambda: metrics.INCIDENTS.labels(severity).inc())
    return incident


def update_incident(incident_id: int, values: dict[str, Any]) -> Incident:
    """Edit the fields (not the status, which only moves through move()); a canceled incident is read-only."""
    incident = get_incident(incident_id)
    if incident.status == IncidentStatus.canceled:
        raise Conflict(f"{incident.code} is canceled; it can no longer be edited.", {"status": incident.status})
    before, old_key = snapshot(incident), (incident.item_id, incident.signature)
    _apply(incident, values)
    db.session.flush()
    _relink_keys(old_key, (incident.item_id, incident.signature))
    after = snapshot(incident)
    changed = sorted(key for key in after if after[key] != before[key])
    if changed:
        record_event(incident, "edit", None, None, "changed: " + ", ".join(changed))
        audit.record("breakage_incident", incident.id, "update", before=before, after=after)
    return incident


def get_incident(incident_id: int) -> Incident:
    return get_or_404(Incident, incident_id, "incident")


def get_by_code(code: str) -> Incident:
    incident = db.session.scalar(select(Incident).where(Incident.code == code))
    if incident is None:
        raise NotFound(f"No incident {code}.")
    return incident


# ---- the status flow ---------------------------------------------------------


def allowed_moves(incident: Incident) -> tuple[IncidentStatus, ...]:
    return FLOW[IncidentStatus(incident.status)]


def missing_for(incident: Incident, to_status: str, verification_note: str = "") -> list[str]:
    """The fields a move still lacks: resolved needs root cause and corrective action, closed a
    verification note (the 8D effectiveness check)."""
    if to_status == IncidentStatus.resolved:
        return [f for f in ("root_cause", "corrective_action") if not getattr(incident, f).strip()]
    if to_status == IncidentStatus.closed and not (verification_note or incident.verification_note).strip():
        return ["verification_note"]
    return []


def move(incident_id: int, to_status: str, reason: str = "", verification_note: str = "") -> Incident:
    """One step of the flow. A move outside it is a 409 naming the allowed targets; a missing
    requirement a 409 naming the fields. Every move is an event on the timeline."""
    incident = get_incident(incident_id)
    target = _choice(to_status, "to_status", IncidentStatus)
    allowed = allowed_moves(incident)
    if target not in allowed:
        raise Conflict(
            f"{incident.code} is {incident.status}; it can move to "
            + (", ".join(allowed) if allowed else "nothing (it is final)")
            + f", not {target}.",
            {"field": "to_status", "from": incident.status, "to": target, "allowed": list(allowed)},
            code="transition_not_allowed",
        )
    missing = missing_for(incident, target, verification_note)
    if missing:
        raise Conflict(
            f"{incident.code} cannot be {target} yet: " + ", ".join(f.replace("_", " ") for f in missing) + " missing.",
            {"field": missing[0], "missing": missing, "to": target},
            code="requirements_missing",
        )
    before = incident.status
    reason = _text(reason, "reason", 2000)
    now = utcnow()
    if target == IncidentStatus.closed:
        incident.verification_note = _text(verification_note, "verification_note", 20000) or incident.verification_note
        incident.closed_at = now
    if target == IncidentStatus.resolved:
        incident.resolved_at = now
    if target == IncidentStatus.investigating and before in (IncidentStatus.resolved, IncidentStatus.closed):
        incident.resolved_at = incident.closed_at = None  # reopened: time to resolve counts again
    incident.status = target
    db.session.flush()
    if IncidentStatus.canceled in (before, target):
        relink(incident.item_id, incident.signature)
    record_event(incident, "status", before, target, reason)
    audit.record(
        "breakage_incident", incident.id, "move", before={"status": before}, after={"status": target, "reason": reason}
    )
    return incident


# ---- events ------------------------------------------------------------------


def record_event(
    incident: Incident,
    kind: str,
    from_value: str | None,
    to_value: str | None,
    reason: str = "",
    actor: str | None = None,
) -> IncidentEvent:
    event = timeline.record(IncidentEvent, kind, from_value, to_value, reason, actor, incident_id=incident.id)
    data = {"code": incident.code, "kind": kind, "from": from_value, "to": to_value, "status": incident.status}
    live.publish_on_commit(topic(incident.id), "breakage_event", data)
    live.publish_on_commit(LIST_TOPIC, "breakage_event", data)
    return event


def events(incident_id: int, page: int = 1, per_page: int = 50) -> Page:
    query = select(IncidentEvent).where(IncidentEvent.incident_id == get_incident(incident_id).id)
    return paginate(query.order_by(IncidentEvent.id.desc()), page, per_page)


# ---- documents ---------------------------------------------------------------


def attach_document(incident_id: int, document_id: int) -> Incident:
    incident = get_incident(incident_id)
    doc = _reference(documents.get, document_id, "document_id")
    if db.session.get(IncidentDocument, (incident.id, doc.id)) is None:
        db.session.add(IncidentDocument(incident_id=incident.id, document_id=doc.id, attached_by=current_actor()))
        db.session.flush()
        db.session.refresh(incident, ["documents"])
        record_event(incident, "document", None, doc.number, "attached")
        audit.record("breakage_incident", incident.id, "attach_document", after={"document": doc.number})
    return incident


def detach_document(incident_id: int, document_id: int) -> Incident:
    incident = get_incident(incident_id)
    link = db.session.get(IncidentDocument, (incident.id, document_id))
    if link is None:
        raise NotFound(f"Document {document_id} is not attached to {incident.code}.", {"field": "document_id"})
    number = documents.get(document_id).number
    db.session.execute(
        delete(IncidentDocument).where(
            IncidentDocument.incident_id == incident.id, IncidentDocument.document_id == document_id
        )
    )
    db.session.flush()
    db.session.refresh(incident, ["documents"])
    record_event(incident, "document", number, None, "detached")
    audit.record("breakage_incident", incident.id, "detach_document", before={"document": number})
    return incident


# ---- the list ------------------------------------------------------------------


@dataclass
class Filters:
    status: str | None = None
    severity: str | None = None
    responsibility: str | None = None
    item_id: int | None = None
    component_id: int | None = None
    batch_code: str | None = None
    q: str | None = None
    sort: str = "occurred_at"
    descending: bool = True

    def checked(self) -> "Filters":
        for field, allowed in (("status", IncidentStatus), ("severity", Severity), ("responsibility", Responsibility)):
            if getattr(self, field):
                _choice(getattr(self, field), field, allowed)
        if self.sort not in SORTS:
            raise InvalidInput(f"Unknown sort {self.sort!r}.", {"field": "sort", "allowed": list(SORTS)})
        return self


def filtered(filters: Filters) -> Select:
    filters = filters.checked()
    query = select(Incident)
    for column, value in (
        (Incident.status, filters.status),
        (Incident.severity, filters.severity),
        (Incident.responsibility, filters.responsibility),
        (Incident.item_id, filters.item_id),
        (Incident.component_id, filters.component_id),
        (Incident.batch_code, filters.batch_code),
    ):
        if value:
            query = query.where(column == value)
    if filters.q and filters.q.strip():
        query = query.where(
            containing(
                filters.q.strip(),
                Incident.code,
                Incident.description,
                Incident.customer,
                Incident.root_cause,
                Incident.production_order,
                Incident.batch_code,
            )
        )
    column = SORTS[filters.sort]
    return query.order_by(column.desc() if filters.descending else column.asc(), Incident.id.desc())


def search(filters: Filters, page: int = 1, per_page: int = 25) -> Page:
    return paginate(filtered(filters), page, per_page)
