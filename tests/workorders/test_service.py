import threading

import pytest
from sqlalchemy import select

from app.core.audit.models import AuditEntry
from app.core.errors import Conflict, InvalidInput
from app.extensions import db
from app.workorders import service
from app.workorders.models import LockSource, WorkOrderState
from tests.workorders import factory

pytestmark = pytest.mark.dialects


def audited(entity: str, action: str) -> int:
    return len(
        db.session.scalars(select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.action == action)).all()
    )


def test_routing_operations_add_reorder_remove_and_the_default(app):
    routing = factory.routing()
    assert [(o.sequence, o.code) for o in routing.operations] == [(10, "CUT"), (20, "WELD"), (30, "PAINT")]
    assert routing.is_default  # an item's first routing
    second = service.create_routing(routing.item_id, "Rework", is_default=True)
    db.session.commit()
    db.session.refresh(routing)
    assert second.is_default and not routing.is_default
    cut, weld, paint = routing.operations
    service.reorder(
        routing.id,
        [
            {"operation_id": paint.id, "sequence": 5},
            {"operation_id": cut.id, "sequence": 20},
            {"operation_id": weld.id, "sequence": 30},
        ],
    )
    db.session.commit()
    assert [o.code for o in service.get_routing(routing.id).operations] == ["PAINT", "CUT", "WELD"]
    with pytest.raises(InvalidInput) as refused:
        service.reorder(routing.id, [{"operation_id": paint.id, "sequence": 20}])
    assert refused.value.details["field"] == "sequence" and refused.value.details["duplicate"] == 20
    db.session.rollback()
    with pytest.raises(Conflict) as duplicate:
        service.add_operation(routing.id, {"code": "cut", "name": "Again"})
    assert duplicate.value.details["field"] == "code"
    db.session.rollback()
    service.remove_operation(routing.id, weld.id)
    db.session.commit()
    assert [o.code for o in service.get_routing(routing.id).operations] == ["PAINT", "CUT"]
    assert audited("routing", "reorder") == 1 and audited("routing_operation", "delete") == 1


def test_effective_documents_inherit_override_and_keep_hidden_links(app):
    routing = factory.routing()
    cut, weld, _ = routing.operations
    general = factory.doc("DWG-GEN")
    override = factory.doc("DWG-OVR")
    own = factory.doc("INS-CUT")
    only_order = factory.doc("SPEC-ORD")
    service.link_document(routing.id, general.id)
    inherited = service.link_document(routing.id, override.id)
    service.link_document(routing.id, only_order.id, inherit_to_operations=False)
    mine = service.link_document(routing.id, override.id, cut.id, visible_in_production=False)
    service.link_document(routing.id, own.id, cut.id)
    db.session.commit()
    rows = service.effective(routing, cut.id)
    assert [(r.document.number, r.source, r.hidden) for r in rows] == [
        ("DWG-GEN", "routing", False),
        ("DWG-OVR", "operation", True),  # the own link overrides the inherited one, hidden but listed
        ("INS-CUT", "operation", False),
    ]
    assert rows[1].overrides.id == inherited.id and rows[1].link.id == mine.id
    assert [(r.document.number, r.source) for r in service.effective(routing, weld.id)] == [
        ("DWG-GEN", "routing"),
        ("DWG-OVR", "routing"),
    ]
    assert [r.document.number for r in service.effective(routing, None)] == ["SPEC-ORD"]


def test_bad_links_name_the_field_and_write_nothing(app):
    routing = factory.routing()
    other = factory.routing("ASM-2")
    drawing = factory.doc("DWG-1")
    for kwargs, field in (
        ({"document_id": 999999}, "document_id"),
        ({"document_id": drawing.id, "operation_id": 999999}, "operation_id"),
        ({"document_id": drawing.id, "operation_id": other.operations[0].id}, "operation_id"),
    ):
        with pytest.raises(InvalidInput) as refused:
            service.link_document(routing.id, **kwargs)
        assert refused.value.details["field"] == field
        db.session.rollback()
    link = service.link_document(routing.id, drawing.id)
    with pytest.raises(Conflict):
        service.link_document(routing.id, drawing.id)
    db.session.rollback()
    assert audited("workorder_link", "create") == 0 and link.id is not None


def test_locks_manual_release_stale_and_move_forward(app):
    routing = factory.routing()
    cut = routing.operations[0]
    drawing = factory.doc("DWG-1", versions=2)
    other = factory.doc("DWG-2")
    general = service.link_document(routing.id, drawing.id)
    own = service.link_document(routing.id, other.id, cut.id)
    with pytest.raises(InvalidInput) as wrong:
        service.lock(general.id, other.versions[0].id)  # a version of another document
    assert wrong.value.details["field"] == "version_id"
    service.lock(general.id, drawing.versions[0].id)
    db.session.commit()
    assert general.version_lock_source == LockSource.manual and service.is_stale(general)
    wo = factory.workorder(routing)
    service.move(wo.id, "released")
    db.session.commit()
    assert [o.code for o in wo.operations] == ["CUT", "WELD", "PAINT"]  # copied at release
    assert general.locked_version.version == 1 and general.version_lock_source == LockSource.manual  # kept
    assert own.locked_version.version == 1 and own.version_lock_source == LockSource.release
    factory.revise(other)
    db.session.commit()
    _, ops = service.workorder_documents(wo)
    rows = {r.document.number: r for r in ops[0].documents}
    assert rows["DWG-2"].version.version == 1 and rows["DWG-2"].stale  # the floor still sees v1
    service.move_lock_forward(own.id)
    db.session.commit()
    assert own.locked_version.version == 2 and not service.is_stale(own)
    assert audited("workorder_link", "move_lock_forward") == 1


def test_work_order_states_and_bad_moves(app):
    empty = factory.routing("ASM-3", ops=())
    wo = factory.workorder(empty)
    with pytest.raises(InvalidInput) as no_ops:
        service.move(wo.id, "released")
    assert no_ops.value.details["field"] == "routing_id"
    db.session.rollback()
    with pytest.raises(Conflict) as jump:
        service.move(wo.id, "done")
    assert jump.value.details["allowed"] == ["released", "canceled"]
    db.session.rollback()
    routing = factory.routing()
    wo = factory.workorder(routing)
    assert wo.number == f"WO-{wo.id:06d}"
    for state in ("released", "in_progress", "done"):
        service.move(wo.id, state)
    db.session.commit()
    assert wo.state == WorkOrderState.done and wo.allowed_moves == []
    with pytest.raises(InvalidInput) as foreign:
        service.create_workorder(routing.item_id, 1, wo.due_date, empty.id)
    assert foreign.value.details["field"] == "routing_id"


def test_an_applied_eco_moves_the_locks_of_its_items_routing_links(app):
    from app.eco import transitions
    from tests.eco import factory as eco_factory

    eco = eco_factory.eco(number="ASM-1")
    routing = factory.routing("ASM-1")
    drawing = factory.doc("DWG-1")
    link = service.link_document(routing.id, drawing.id)
    service.lock(link.id)
    unlocked = service.link_document(routing.id, factory.doc("DWG-2").id)
    elsewhere = service.link_document(factory.routing("ASM-9").id, drawing.id)
    service.lock(elsewhere.id)
    db.session.commit()
    factory.revise(drawing)
    transitions.apply(eco.id)
    db.session.commit()
    assert link.locked_version.version == 2 and link.version_lock_source == LockSource.eco_apply
    assert unlocked.locked_version_id is None
    assert elsewhere.locked_version.version == 1  # another item's routing keeps its lock
    assert audited("workorder_link", "eco_apply") == 1


def test_concurrent_releases_of_one_order_exactly_one_wins(app, monkeypatch):
    from app.core.errors import DomainError, settle

    routing = factory.routing()
    factory.doc("DWG-1")
    wo_id = factory.workorder(routing).id
    contenders = 4
    start, read_all, outcomes = threading.Barrier(contenders), threading.Barrier(contenders), []
    get_workorder = service.get_workorder

    def get_then_wait(workorder_id: int):
        found = get_workorder(workorder_id)  # every contender holds the draft before any claims it
        read_all.wait(10)
        return found

    monkeypatch.setattr(service, "get_workorder", get_then_wait)

    def contend() -> None:
        with app.app_context():
            start.wait()
            try:
                service.move(wo_id, "released")
                db.session.commit()
                outcomes.append("moved")
            except DomainError as exc:
                settle(exc)
                outcomes.append(exc.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("moved") == 1 and set(outcomes) - {"moved"} == {"concurrent_change"}, outcomes
    monkeypatch.undo()
    db.session.expire_all()
    assert [op.code for op in service.get_workorder(wo_id).operations] == ["CUT", "WELD", "PAINT"]  # copied once
    assert audited("workorder", "move") == 1


def test_unlocked_links_are_those_a_pack_would_show(app):
    routing = factory.routing()
    cut, weld, _ = routing.operations
    spec = service.link_document(routing.id, factory.doc("SPEC-ORD").id, inherit_to_operations=False)
    service.link_document(routing.id, factory.doc("INS-CUT").id, cut.id)
    service.link_document(routing.id, factory.doc("DWG-HID").id, weld.id, visible_in_production=False)
    wo = factory.workorder(routing)
    service.move(wo.id, "released")
    db.session.commit()
    assert service.unlocked_links(wo) == []
    service.unlock(spec.id)
    for link in service.load_routing(routing.id).links:
        if link.document.number == "DWG-HID":
            service.unlock(link.id)  # hidden: not packed, so not asked to be locked
    db.session.commit()
    assert [row["document"] for row in service.unlocked_links(wo)] == ["SPEC-ORD"]
    assert service.unlocked_links(wo, wo.operations[0].id) == []  # an operation's pack has no order documents
