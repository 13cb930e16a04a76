"""BOM compare in every mode, single and multi-level, and the delta preview built from it."""

import csv
import io
import json

import pytest

from app.core.errors import InvalidInput
from app.extensions import db
from app.items import service
from app.items.compare import MODES, compare_boms
from app.items.delta import build_delta_preview, export_bytes
from tests.items.factory import assembly, item


def by_status(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in result.lines:
        out.setdefault(line.status, []).append(line.key)
    return out


@pytest.fixture
def two_revisions(app):
    """A-1 rev A (released) and rev B with one change of every kind."""
    for n in ("P-1", "P-2", "P-3", "P-4", "P-5"):
        item(n)
    rev_a = assembly(
        "A-1", [("P-1", 2, 10, "R1,R2"), ("P-2", 1, 20), ("P-3", 5, 30, "", "glue"), ("P-4", 1, 40)], release=True
    )
    rev_b, _ = service.new_revision(rev_a)
    lines = {line.child.number: line for line in rev_b.lines}
    service.update_line(lines["P-1"].id, {"refdes": "R1,R2,R3"})  # minor
    service.update_line(lines["P-2"].id, {"quantity": "1.5"})  # major
    service.update_line(lines["P-3"].id, {"note": "", "find_number": 35})  # minor, moves position
    service.remove_line(lines["P-4"].id)
    service.add_line(rev_b.id, {"child": "P-5", "quantity": 3, "find_number": 50})
    db.session.commit()
    return rev_a, rev_b


def test_by_item_finds_every_kind_of_change(two_revisions):
    rev_a, rev_b = two_revisions
    result = compare_boms(rev_a, rev_b, "by_item")
    assert by_status(result) == {
        "changed": ["P-1 unit=EA", "P-2 unit=EA", "P-3 unit=EA"],
        "removed": ["P-4 unit=EA"],
        "added": ["P-5 unit=EA"],
    }
    changes = {line.child: [(c.field, c.before, c.after, c.severity) for c in line.changes] for line in result.lines}
    assert changes["P-1"] == [("refdes", "R1,R2", "R1,R2,R3", "minor")]
    assert changes["P-2"] == [("quantity", "1", "1.5", "major")]
    assert changes["P-3"] == [("find_number", "30", "35", "minor"), ("note", "glue", "", "minor")]
    assert result.summary == {
        "added": 1,
        "removed": 1,
        "changed": 3,
        "unchanged": 0,
        "changed_major": 1,
        "changed_minor": 2,
        "left_lines": 4,
        "right_lines": 4,
    }


def test_by_position_treats_a_moved_line_as_removed_and_added(two_revisions):
    result = compare_boms(*two_revisions, "by_position")
    statuses = by_status(result)
    assert "P-3 find_number=30" in statuses["removed"] and "P-3 find_number=35" in statuses["added"]
    assert statuses["changed"] == ["P-1 find_number=10", "P-2 find_number=20"]


def test_num_qty_treats_a_quantity_change_as_removed_and_added(two_revisions):
    statuses = by_status(compare_boms(*two_revisions, "num_qty"))
    assert "P-2 find_number=20 quantity=1" in statuses["removed"]
    assert "P-2 find_number=20 quantity=1.5" in statuses["added"]


def test_by_reference_and_by_find_refdes_key_on_designators(two_revisions):
    statuses = by_status(compare_boms(*two_revisions, "by_reference"))
    assert "P-1 refdes=R1,R2" in statuses["removed"] and "P-1 refdes=R1,R2,R3" in statuses["added"]
    assert "P-3 refdes=-" in statuses["changed"]
    statuses = by_status(compare_boms(*two_revisions, "by_find_refdes"))
    assert "P-1 find_number=10 refdes=R1,R2,R3" in statuses["added"]
    assert "P-3 find_number=35 refdes=-" in statuses["added"]


def test_by_item_sums_quantities_per_child_within_a_unit(app):
    item("P-1")
    left = assembly("L-1", [("P-1", 1, 10), ("P-1", 2, 20)])
    right = assembly("R-1", [("P-1", 3, 30), ("P-1", "0.5", 40, "", "", "KG")])
    result = compare_boms(left, right, "by_item")
    lines = {line.key: line for line in result.lines}
    assert lines["P-1 unit=EA"].status == "changed"  # same 3 EA, only the find numbers moved
    assert [c.field for c in lines["P-1 unit=EA"].changes] == ["find_number"]
    assert lines["P-1 unit=EA"].left["find_number"] == "10,20"
    assert lines["P-1 unit=KG"].status == "added"


def test_by_position_reports_a_unit_change_as_major(app):
    item("P-1")
    left = assembly("L-1", [("P-1", 1, 10)])
    right = assembly("R-1", [("P-1", 1, 10, "", "", "M")])
    [line] = compare_boms(left, right, "by_position").lines
    assert [(c.field, c.severity) for c in line.changes] == [("unit", "major")]
    assert line.severity == "major"


def test_duplicate_keys_pair_in_order(app):
    item("P-1")
    left = assembly("L-1", [("P-1", 1, 10), ("P-1", 2, 10), ("P-1", 3, 10)])
    right = assembly("R-1", [("P-1", 1, 10), ("P-1", 5, 10)])
    result = compare_boms(left, right, "by_position")
    assert [(line.key, line.status) for line in result.lines] == [
        ("P-1 find_number=10", "unchanged"),
        ("P-1 find_number=10 #2", "changed"),
        ("P-1 find_number=10 #3", "removed"),
    ]
    assert result.lines[1].changes[0].after == "5"


def test_empty_boms(app):
    item("P-1")
    empty = assembly("E-1", [])
    full = assembly("F-1", [("P-1", 1, 10)])
    assert compare_boms(empty, empty).lines == []
    assert by_status(compare_boms(empty, full)) == {"added": ["P-1 unit=EA"]}
    assert by_status(compare_boms(full, empty)) == {"removed": ["P-1 unit=EA"]}
    preview = build_delta_preview(compare_boms(empty, empty))
    assert preview.operations == [] and preview.summary == {"add": 0, "remove": 0, "update": 0, "total": 0}


@pytest.fixture
def structures(app):
    """Two top assemblies sharing S-1; T-2's S-2 differs at level 3."""
    for n in ("P-1", "P-2", "P-3"):
        item(n)
    assembly("S-2", [("P-2", 1, 10)], release=True)
    assembly("S-1", [("P-1", 2, 10), ("S-2", 2, 20)], release=True)
    left = assembly("T-1", [("S-1", 1, 10), ("P-3", 1, 20)])
    s2 = service.resolve_bom("S-2")
    service.add_line(s2.id, {"child": "P-3", "quantity": 4, "find_number": 20})  # S-2 rev B, a draft
    right = assembly("T-2", [("S-1", 3, 10), ("P-3", 1, 20)])
    db.session.commit()
    return left, right


def test_multi_level_compares_below_the_first_level(structures):
    left, right = structures
    single = compare_boms(left, right, "by_item", max_levels=1)
    assert [(line.path, line.child, line.status) for line in single.lines] == [
        ("", "S-1", "changed"),
        ("", "P-3", "unchanged"),
    ]
    # S-2 is released at A, so both sides explode the same S-1 / S-2: only the top differs
    multi = compare_boms(left, right, "by_item", max_levels=3)
    assert [(line.path, line.child, line.status) for line in multi.lines] == [
        ("", "S-1", "changed"),
        ("", "P-3", "unchanged"),
        ("S-1", "P-1", "unchanged"),
        ("S-1", "S-2", "unchanged"),
        ("S-1/S-2", "P-2", "unchanged"),
    ]
    # releasing S-2 rev B changes level 3 on both sides alike; two revisions of S-2 differ there
    delta = compare_boms(service.resolve_bom("S-2@A"), service.resolve_bom("S-2@B"), "by_item", max_levels=2)
    assert by_status(delta) == {"unchanged": ["P-2 unit=EA"], "added": ["P-3 unit=EA"]}


def test_summarized_rolls_quantities_up_through_the_structure(structures):
    left, right = structures
    result = compare_boms(left, right, "summarized", max_levels=3)
    lines = {line.child: line for line in result.lines}
    assert set(lines) == {"S-1", "S-2", "P-1", "P-2", "P-3"}
    assert {line.path for line in result.lines} == {""}
    p2 = lines["P-2"]  # 1 per S-2, 2 S-2 per S-1, 1 → 3 S-1
    assert (p2.left["quantity"], p2.right["quantity"], p2.changes[0].severity) == ("2", "6", "major")
    assert lines["P-3"].status == "unchanged"


def test_unknown_mode_and_levels_are_refused(two_revisions):
    with pytest.raises(InvalidInput):
        compare_boms(*two_revisions, "by_colour")
    with pytest.raises(InvalidInput):
        compare_boms(*two_revisions, "by_item", max_levels=0)


def test_every_mode_compares_a_bom_with_itself_as_unchanged(two_revisions):
    rev_a, _ = two_revisions
    for mode in MODES:
        result = compare_boms(rev_a, rev_a, mode, max_levels=2)
        assert {line.status for line in result.lines} == {"unchanged"}, mode


def test_delta_preview_is_an_ordered_patch(two_revisions):
    preview = build_delta_preview(compare_boms(*two_revisions, "by_position"))
    assert [(op.op, op.key) for op in preview.operations] == [
        ("update", "P-1 find_number=10"),
        ("update", "P-2 find_number=20"),
        ("remove", "P-3 find_number=30"),
        ("add", "P-3 find_number=35"),
        ("remove", "P-4 find_number=40"),
        ("add", "P-5 find_number=50"),
    ]
    assert preview.summary == {"add": 2, "remove": 2, "update": 2, "total": 6}
    add = preview.operations[-1]
    assert add.before is None and add.after["quantity"] == "3"
    remove = preview.operations[4]
    assert remove.after is None and remove.before["quantity"] == "1"
    assert (preview.left, preview.right) == ("A-1@A", "A-1@B")


def test_delta_preview_paths_in_multi_level(app):
    for n in ("P-1", "P-2"):
        item(n)
    assembly("S-1", [("P-1", 1, 10)], release=True)
    assembly("S-2", [("P-2", 2, 10)], release=True)
    left = assembly("T-1", [("S-1", 1, 10)])
    right = assembly("T-2", [("S-1", 1, 10), ("S-2", 1, 20)])
    preview = build_delta_preview(compare_boms(left, right, "by_item", max_levels=2))
    assert [(op.op, op.path, op.level, op.key) for op in preview.operations] == [
        ("add", "", 1, "S-2 unit=EA"),
        ("add", "S-2", 2, "P-2 unit=EA"),
    ]
    single = build_delta_preview(compare_boms(left, right, "by_item", max_levels=1))
    assert [op.key for op in single.operations] == ["S-2 unit=EA"]


def test_exports_are_deterministic(two_revisions):
    first = build_delta_preview(compare_boms(*two_revisions, "by_item"))
    again = build_delta_preview(compare_boms(*two_revisions, "by_item"))
    for fmt in ("json", "csv"):
        assert export_bytes(first, fmt) == export_bytes(again, fmt)
    document = json.loads(export_bytes(first, "json"))
    assert document["summary"]["total"] == 5 and document["operations"][0]["changes"][0]["field"] == "refdes"
    rows = list(csv.DictReader(io.StringIO(export_bytes(first, "csv").decode())))
    assert [r["op"] for r in rows] == ["update", "update", "update", "remove", "add"]
    assert rows[1]["before_quantity"] == "1" and rows[1]["after_quantity"] == "1.5"
    assert rows[1]["changed_fields"] == "quantity" and rows[1]["severity"] == "major"
    with pytest.raises(InvalidInput):
        export_bytes(first, "xml")


def test_a_loop_written_behind_the_service_does_not_hang_the_explosion(app):
    item("P-1")
    inner = assembly("S-1", [("P-1", 1, 10)])
    top = assembly("T-1", [("S-1", 1, 10)])
    # the service refuses this line; written directly, explode must still stop at the loop
    db.session.add(service.BomLine(bom_id=inner.id, child_id=top.item_id, quantity=1, unit="EA"))
    db.session.commit()
    flat = compare_boms(top, top, "by_item", max_levels=10)
    assert [(line.path, line.child) for line in flat.lines] == [("", "S-1"), ("S-1", "P-1"), ("S-1", "T-1")]
