"""Incidents through the service: codes, field checks, the enforced flow and its timeline,
documents, and the list's filters, sort and paging."""

import threading

import pytest
from sqlalchemy import func, select

from app.breakages import service
from app.breakages.models import Incident, IncidentEvent
from app.core.audit.models import AuditEntry
from app.core.errors import Conflict, InvalidInput
from app.extensions import db
from tests.breakages import factory
from tests.docsync.factory import make_doc


def test_codes_count_up_and_fields_are_kept(app):
    bom = factory.product()
    first = factory.incident(bom, batch_code="LOT-1", customer="Acme")
    second = factory.incident(bom, component=None, description="Display  flickers!")
    assert (first.code, second.code) == ("BRK-000001", "BRK-000002")
    assert first.status == "open" and first.component.number == "C-9" and first.signature == f"c:{first.component_id}"
    assert second.signature == service.signature(None, "display flickers")
    assert [e.kind for e in db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == first.id))] == [
        "created"
    ]
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "breakage_incident"))
        == 2
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_id": 99999}, "item_id"),
        ({"component_id": 99999}, "component_id"),
        ({"description": "   "}, "description"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"responsibility": "gremlins"}, "responsibility"),
        ({"bom_id": 99999}, "bom_id"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(app, change, field):
    bom = factory.product()
    with pytest.raises(InvalidInput) as refused:
        factory.incident(bom, commit=False, **change) if "component_id" not in change else service.create_incident(
            {"item_id": bom.item_id, "description": "x", "severity": "low", **change}
        )
    assert refused.value.details["field"] == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_a_component_must_be_on_the_given_bom_revision(app):
    bom = factory.product()
    with pytest.raises(InvalidInput) as refused:
        factory.incident(bom, component="U-9", commit=False)
    assert refused.value.details == {"field": "component_id", "bom": bom.ref}
    line = bom.lines[0]
    made = factory.incident(bom, component=None, bom_line_id=line.id)
    assert made.component_id == line.child_id


def test_the_flow_is_enforced_with_its_requirements(app):
    made = factory.incident()
    with pytest.raises(Conflict) as outside:
        service.move(made.id, "closed")
    assert outside.value.status == 409 and outside.value.details["allowed"] == ["investigating", "canceled"]
    service.move(made.id, "investigating", "looking")
    with pytest.raises(Conflict) as missing:
        service.move(made.id, "resolved")
    assert missing.value.details["missing"] == ["root_cause", "corrective_action"]
    service.update_incident(made.id, {"root_cause": "lot", "corrective_action": "supplier"})
    service.move(made.id, "resolved")
    with pytest.raises(Conflict) as unverified:
        service.move(made.id, "closed")
    assert unverified.value.details["missing"] == ["verification_note"]
    service.move(made.id, "closed", verification_note="no recurrence")
    service.move(made.id, "investigating", "it came back")
    db.session.commit()
    assert made.status == "investigating" and made.resolved_at is None
    moves = [(e.from_value, e.to_value, e.reason) for e in service.events(made.id).items if e.kind == "status"]
    assert moves == [
        ("closed", "investigating", "it came back"),
        ("resolved", "closed", ""),
        ("investigating", "resolved", ""),
        ("open", "investigating", "looking"),
    ]
    service.move(made.id, "canceled")
    with pytest.raises(Conflict) as final:
        service.move(made.id, "open")
    assert final.value.details["allowed"] == []


def test_documents_are_attached_through_the_documents_service(app):
    doc = make_doc("DWG-9")
    made = factory.incident()
    service.attach_document(made.id, doc.id)
    service.attach_document(made.id, doc.id)  # twice: still once
    db.session.commit()
    assert [d.number for d in made.documents] == ["DWG-9"]
    with pytest.raises(InvalidInput) as unknown:
        service.attach_document(made.id, 4242)
    assert unknown.value.details["field"] == "document_id"
    service.detach_document(made.id, doc.id)
    db.session.commit()
    assert made.documents == []


@pytest.mark.dialects  # ILIKE search, sorts and paging in SQL
def test_list_filters_sorts_and_pages_in_sql(app):
    bom = factory.product()
    for days, severity, component in ((1, "low", "C-9"), (2, "high", "R-9"), (3, "high", "C-9"), (4, "critical", None)):
        factory.incident(bom, days_ago=days, severity=severity, component=component, batch_code=f"LOT-{days}")
    high = service.search(service.Filters(severity="high"))
    assert [i.batch_code for i in high.items] == ["LOT-2", "LOT-3"]
    oldest_first = service.search(service.Filters(descending=False), page=2, per_page=3)
    assert oldest_first.total == 4 and [i.batch_code for i in oldest_first.items] == ["LOT-1"]
    c9 = factory.part("C-9").id
    assert service.search(service.Filters(component_id=c9, q="lot-3")).total == 1
    with pytest.raises(InvalidInput):
        service.search(service.Filters(status="lost"))


@pytest.mark.dialects
def test_concurrent_creates_get_distinct_codes(app, database_url):
    bom = factory.product()
    item_id, bom_id = bom.item_id, bom.id
    codes, errors = [], []
    barrier = threading.Barrier(6)

    def create():
        with app.app_context():
            try:
                barrier.wait()
                made = service.create_incident(
                    {"item_id": item_id, "bom_id": bom_id, "description": "x", "severity": "low"}
                )
                db.session.commit()
                codes.append(made.code)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and sorted(codes) == [f"BRK-{n:06d}" for n in range(1, 7)]
