"""Design loopback: "Open ECO" on a resolved or closed incident creates a draft ECO through the
ECO service, linked to the incident by compare-and-set, so doing it twice (or from two browsers
at once) yields one ECO."""

from dataclasses import dataclass

from flask import has_request_context, url_for
from sqlalchemy import select, update

from app.breakages import service
from app.breakages.models import ECO_PRIORITY, LOOPBACK_FROM, Incident, Severity
from app.core import audit
from app.core.errors import Conflict
from app.eco import service as ecos
from app.eco.models import Eco
from app.extensions import db


class AlreadyLinked(Conflict):
    """Another request linked an ECO first; this one's ECO is rolled back with it."""

    code = "eco_already_linked"


@dataclass
class Loopback:
    incident: Incident
    eco: Eco
    created: bool


def _description(incident: Incident) -> str:
    link = url_for("breakages.detail", incident_id=incident.id, _external=True) if has_request_context() else ""
    lines = [
        f"Opened from breakage incident {incident.code} ({incident.severity}, {incident.responsibility}).",
        *([f"Incident: {link}"] if link else []),
        "",
        f"Description: {incident.description}",
        f"Root cause: {incident.root_cause}",
        f"Corrective action: {incident.corrective_action}",
    ]
    if incident.preventive_action:
        lines.append(f"Preventive action: {incident.preventive_action}")
    return "\n".join(lines)


def open_eco(incident_id: int) -> Loopback:
    """The incident's ECO: the one linked already, else a new draft one (product, priority from
    severity, description linking back). The link is set by `UPDATE ... WHERE eco_id IS NULL`:
    of two concurrent calls the second waits for the first's row lock, then updates no row and
    raises AlreadyLinked, which rolls its own ECO back; the caller then answers with the linked one."""
    incident = service.get_incident(incident_id)
    if incident.eco_id is not None:
        return Loopback(incident, incident.eco, False)
    if incident.status not in LOOPBACK_FROM:
        raise Conflict(
            f"{incident.code} is {incident.status}; an ECO is opened from a resolved or closed incident.",
            {"status": incident.status, "allowed": [s.value for s in LOOPBACK_FROM]},
        )
    component = f" ({incident.component.number})" if incident.component else ""
    eco = ecos.create_eco(
        title=f"{incident.code}: {incident.description[:150]}{component}"[:200],
        item_id=incident.item_id,
        priority=ECO_PRIORITY[Severity(incident.severity)],
        description=_description(incident),
    )
    linked = db.session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.eco_id.is_(None))
        .values(eco_id=eco.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not linked:
        raise AlreadyLinked(
            f"{incident.code} got its ECO from another request meanwhile.", {"incident_id": incident.id}
        )
    db.session.refresh(incident)
    service.record_event(incident, "eco", None, eco.number, "ECO opened from this incident")
    audit.record("breakage_incident", incident.id, "open_eco", after={"eco": eco.number})
    return Loopback(incident, eco, True)


def linked(incident_id: int) -> Loopback:
    """After AlreadyLinked was rolled back: the ECO the other request linked."""
    incident = service.get_incident(incident_id)
    return Loopback(incident, incident.eco, False)


def sources(eco_id: int) -> list[Incident]:
    """The incidents an ECO was opened from (shown on the ECO page)."""
    return list(db.session.scalars(select(Incident).where(Incident.eco_id == eco_id).order_by(Incident.code)))
