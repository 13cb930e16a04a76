"""The overlays service: a model read on upload (a bad one writes nothing), one overlay per
version, its status flow, entries per ref (refs not in the model refused, listing them),
fields with roles (an unknown role refused) and the role matrix of what each role sees."""

import pytest
from sqlalchemy import func, select

from app.core.errors import Conflict, InvalidInput, NotFound
from app.docsync.models import DocumentVersion
from app.extensions import db
from app.overlays import lookup, service
from app.overlays.modelgen import glb
from app.overlays.models import ModelPart, Overlay, OverlayField
from tests.overlays import factory

pytestmark = pytest.mark.dialects


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_upload_keeps_the_parts_and_a_bad_file_writes_nothing(app):
    doc, model = factory.model()
    assert model.part_count == 7 and model.mesh_count == 6
    assert [p.ref for p in service.parts(model)] == factory.REFS
    again, created = service.upload(doc, glb(factory.BOARD), "board.glb")
    assert (again.id, created) == (model.id, False)
    for data, name in ((b"glTF" + b"\0" * 30, "broken.glb"), (glb(factory.BOARD), "board.step")):
        with pytest.raises(InvalidInput) as refused:
            service.upload(doc, data, name)
        assert refused.value.details["field"] == "file"
        db.session.rollback()
    assert _count(DocumentVersion) == 1 and _count(ModelPart) == 7


@pytest.mark.config(OVERLAY_MODEL_MAX_BYTES=100)
def test_the_size_limit_is_a_refusal_naming_the_file(app):
    with pytest.raises(InvalidInput) as refused:
        service.check_size(101)
    assert refused.value.code == "too_large" and refused.value.details["field"] == "file"


def test_one_overlay_per_version_and_its_status_flow(app):
    doc, model = factory.model()
    overlay = service.create(model.version)
    db.session.commit()
    with pytest.raises(Conflict):
        service.create(model.version)
    db.session.rollback()
    assert overlay.status == "draft"
    service.move(overlay, "published")
    assert overlay.published_at is not None
    service.move(overlay, "archived")
    with pytest.raises(Conflict) as refused:
        service.move(overlay, "published")
    assert refused.value.details["allowed"] == ["draft"]
    with pytest.raises(Conflict):
        service.save_entries(overlay, [service.EntryIn("U-8", "U-8")], "engineer")
    with pytest.raises(InvalidInput):
        service.move(overlay, "gone")


def test_refs_not_in_the_model_are_refused_listing_them(app):
    doc, overlay = factory.overlay()
    revision = overlay.revision
    with pytest.raises(InvalidInput) as refused:
        service.save_entries(
            overlay,
            [service.EntryIn("U-8", "U-8"), service.EntryIn("X-1", "U-8"), service.EntryIn("X-2", "U-8")],
            "admin",
        )
    assert refused.value.code == "unknown_refs" and refused.value.details["refs"] == ["X-1", "X-2"]
    assert "X-1, X-2" in refused.value.message
    db.session.rollback()
    assert db.session.get(Overlay, overlay.id).revision == revision


@pytest.mark.parametrize(
    ("entry", "field", "code"),
    [
        (service.EntryIn("U-8", "NOPE"), "entries", "unknown_items"),
        (
            service.EntryIn("U-8", "U-8", fields=[service.FieldIn("k", "v", ["boss"])]),
            "entries.0.fields.0.roles",
            "unknown_role",
        ),
        (service.EntryIn("U-8", "U-8", fields=[service.FieldIn(" ", "v")]), "entries.0.fields.0.key", "invalid_input"),
        (service.EntryIn("U-8", "U-8", bom_line_id=987654), "entries.0.bom_line_id", "invalid_input"),
    ],
)
def test_bad_entries_name_their_field(app, entry, field, code):
    doc, overlay = factory.overlay()
    with pytest.raises(InvalidInput) as refused:
        service.save_entries(overlay, [entry], "admin", replace=False)
    assert refused.value.details["field"] == field and refused.value.code == code


def test_unmapped_refs_and_an_entry_with_its_bom_line(app):
    doc, overlay = factory.overlay()
    assert service.unmapped(overlay) == ["BOSS-8"]  # no item has its name
    line = next(line for line in factory.items().lines if line.child.number == "C-8")
    service.save_entries(overlay, [service.EntryIn("C-8", "C-8", bom_line_id=line.id)], "admin", replace=False)
    service.remove_entry(overlay, "R-8~2")
    db.session.commit()
    assert service.unmapped(overlay) == ["R-8~2", "BOSS-8"]
    assert service.entry_items(overlay)["C-8"] == "C-8"
    with pytest.raises(NotFound):
        service.remove_entry(overlay, "R-8~2")


@pytest.mark.parametrize("role", ["viewer", "engineer", "operator", "admin"])
def test_the_role_matrix(app, role):
    doc, overlay = factory.overlay(publish=True)
    found = lookup.compute(overlay, ["U-8"], role)["U-8"]
    assert [f["key"] for f in found["fields"]] == factory.SEES[role]


def test_a_writer_keeps_the_fields_it_cannot_see(app):
    doc, overlay = factory.overlay()
    service.save_entries(overlay, [service.EntryIn("U-8", "U-8", fields=[service.FieldIn("New", "n")])], "engineer")
    db.session.commit()
    keys = db.session.scalars(select(OverlayField.key).order_by(OverlayField.position)).all()
    assert keys == ["New", "Viewer note", "Operator note"]


def test_who_sees_a_draft(app, make_user):
    doc, overlay = factory.overlay()
    viewer, engineer = make_user("v", "viewer"), make_user("e", "engineer")
    assert service.resolve(engineer, doc.id).id == overlay.id
    with pytest.raises(NotFound):
        service.resolve(viewer, doc.id)
    assert not service.may_see(viewer, str(overlay.id)) and service.may_see(engineer, str(overlay.id))
    service.move(overlay, "published")
    db.session.commit()
    assert service.resolve(viewer, doc.id).id == overlay.id and service.may_see(viewer, str(overlay.id))
