"""Items and BOM revisions through the service, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.audit.models import AuditEntry
from app.core.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.items import service
from app.items.models import Bom, BomLine
from app.items.structure import explode
from tests.items.factory import assembly, item


def test_items_are_created_validated_and_audited(app):
    created = item("P-1", uom="KG", description="bolt")
    db.session.commit()
    assert (created.revision, created.lifecycle, created.uom) == ("A", "draft", "KG")
    with pytest.raises(Conflict):
        item("P-1")
    db.session.rollback()
    for bad in (
        {"number": "", "name": "x"},
        {"number": "has space", "name": "x"},
        {"number": "P-2", "name": "x", "item_type": "gizmo"},
        {"number": "P-2", "name": ""},
        {"number": "P-2", "name": "x", "revision": "a1"},
    ):
        with pytest.raises(InvalidInput):
            service.create_item(bad)
    updated = service.update_item(created.id, {"name": "Hex bolt", "lifecycle": "released"})
    db.session.commit()
    assert (updated.name, updated.lifecycle, updated.number) == ("Hex bolt", "released", "P-1")
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "item")).all()
    assert actions == ["create", "update"]


def test_search_filters_and_pages(app):
    for n in range(30):
        item(f"P-{n:02}", name="Washer" if n % 2 else "Screw")
    item("A-1", "assembly", name="Frame")
    db.session.commit()
    page = service.search_items(q="wash", page=2, per_page=10)
    assert page.total == 15 and len(page.items) == 5 and page.items[0].number == "P-21"
    assert [i.number for i in service.search_items(item_type="assembly").items] == ["A-1"]
    with pytest.raises(InvalidInput):
        service.search_items(lifecycle="gone")


def test_quantities_are_decimal_and_positive(app):
    item("P-1")
    bom = assembly("A-1", [("P-1", "0.125", 10)])
    db.session.commit()
    db.session.expire_all()
    line = db.session.get(Bom, bom.id).lines[0]
    assert line.quantity == Decimal("0.125") and line.unit == "EA"
    for quantity in ("0", "-1", "abc", "NaN", "Infinity", "1.0000001", ""):
        with pytest.raises(InvalidInput) as error:
            service.add_line(bom.id, {"child": "P-1", "quantity": quantity})
        assert error.value.details["field"] == "quantity"


def test_refdes_are_normalized_and_duplicates_rejected(app):
    item("R-1")
    bom = assembly("A-1", [("R-1", 3, 10, "r10, R2 r1")])
    assert bom.lines[0].refdes == "R1,R2,R10"
    with pytest.raises(InvalidInput, match="R2"):
        service.add_line(bom.id, {"child": "R-1", "quantity": 1, "refdes": "R2 R2"})


def test_a_part_has_no_bom_and_unknown_children_are_named(app):
    part = item("P-1")
    with pytest.raises(InvalidInput):
        service.create_bom(part.id)
    bom = assembly("A-1", [])
    with pytest.raises(InvalidInput, match="NOPE"):
        service.add_line(bom.id, {"child": "NOPE", "quantity": 1})
    with pytest.raises(NotFound):
        service.get_bom(999999)


def test_cycles_are_rejected_naming_the_loop(app):
    item("P-1")
    assembly("A-1", [("P-1", 1)])
    assembly("B-1", [("A-1", 2)])
    top = assembly("C-1", [("B-1", 1)])
    a1 = service.resolve_bom("A-1")
    with pytest.raises(InvalidInput) as error:
        service.add_line(a1.id, {"child": "C-1", "quantity": 1})
    assert error.value.details["loop"] == ["A-1", "C-1", "B-1", "A-1"]
    assert "A-1 → C-1 → B-1 → A-1" in error.value.message
    with pytest.raises(InvalidInput, match="A-1 → A-1"):
        service.add_line(a1.id, {"child": "A-1", "quantity": 1})
    assert service.resolve_bom("C-1") is top


def test_editing_a_released_bom_makes_a_new_revision(app):
    for n in ("P-1", "P-2", "P-3"):
        item(n)
    rev_a = assembly("A-1", [("P-1", 1, 10), ("P-2", 2, 20)], release=True)
    db.session.commit()
    line = service.update_line(rev_a.lines[1].id, {"quantity": "4"})
    rev_b = line.bom
    assert (rev_b.revision, rev_b.state, rev_a.state) == ("B", "draft", "released")
    assert rev_b.item.revision == "B"
    # later edits of the released revision go to the same draft, or are refused
    with pytest.raises(Conflict, match="already a draft"):
        service.add_line(rev_a.id, {"child": "P-3", "quantity": 1})
    service.add_line(rev_b.id, {"child": "P-3", "quantity": 1, "find_number": 30})
    service.remove_line(next(line for line in rev_b.lines if line.find_number == 10).id)
    db.session.commit()
    db.session.expire_all()
    old = service.resolve_bom("A-1@A")
    assert [(line.child.number, line.quantity) for line in old.lines] == [("P-1", 1), ("P-2", 2)]
    new = service.resolve_bom("A-1@B")
    assert [(line.child.number, line.quantity) for line in new.lines] == [("P-2", 4), ("P-3", 1)]
    assert service.resolve_bom("A-1") == old  # the released one is still effective

    service.release_bom_revision(new.id)
    db.session.commit()
    assert (old.state, new.state) == ("superseded", "released")
    assert service.resolve_bom("A-1") == new
    with pytest.raises(Conflict):
        service.release_bom_revision(new.id)
    with pytest.raises(Conflict, match="superseded"):
        service.update_line(old.lines[0].id, {"quantity": 9})
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "bom")).all()
    assert actions.count("revise") == 1 and actions.count("release") == 2 and "supersede" in actions


def test_resolve_names_revisions(app):
    assembly("A-1", [])
    assert service.resolve_bom("A-1@a").revision == "A"
    with pytest.raises(NotFound):
        service.resolve_bom("A-1@Z")
    with pytest.raises(NotFound):
        service.resolve_bom("NOPE")
    item("A-2", "assembly")
    with pytest.raises(NotFound, match="no BOM"):
        service.resolve_bom("A-2")


def test_next_revision_letters():
    assert [service.next_revision(r) for r in ("A", "H", "Z", "AZ", "ZZ")] == ["B", "I", "AA", "BA", "AAA"]


def test_explosion_rolls_up_quantities_through_levels(app):
    item("P-1")
    item("P-2")
    assembly("S-2", [("P-2", "0.5", 10)])
    assembly("S-1", [("P-1", 3, 10), ("S-2", 2, 20)])
    top = assembly("T-1", [("S-1", 2, 10), ("P-1", 1, 20)])
    flat = explode(top, max_levels=3)
    assert [(f.path, f.level, f.child_number, f.extended) for f in flat] == [
        ("", 1, "S-1", 2),
        ("S-1", 2, "P-1", 6),
        ("S-1", 2, "S-2", 4),
        ("S-1/S-2", 3, "P-2", 2),
        ("", 1, "P-1", 1),
    ]
    assert [f.child_number for f in explode(top, max_levels=1)] == ["S-1", "P-1"]


@pytest.mark.dialects
def test_failed_write_changes_nothing(app):
    item("P-1")
    bom = assembly("A-1", [("P-1", 1)], release=True)
    db.session.commit()
    with pytest.raises(InvalidInput):
        service.add_line(bom.id, {"child": "P-1", "quantity": -2})
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Bom)) == 1
    assert db.session.scalar(select(func.count()).select_from(BomLine)) == 1


@pytest.mark.dialects
def test_a_concurrent_duplicate_is_a_conflict_not_a_crash(app, monkeypatch):
    item("P-1")
    bom = assembly("A-1", [("P-1", 1)], release=True)
    db.session.commit()
    assert [b.revision for b in bom.item.boms] == ["A"]  # loaded: the row below arrives "meanwhile"
    db.session.execute(
        Bom.__table__.insert().values(item_id=bom.item_id, revision="B", state="superseded", created_at=bom.created_at)
    )
    with pytest.raises(Conflict, match="revision B was just started"):
        service.new_revision(bom)
    db.session.rollback()
    monkeypatch.setattr(service, "_number_free", lambda *args: None)  # as if both checked before either wrote
    with pytest.raises(Conflict, match="already used"):
        item("P-1")
