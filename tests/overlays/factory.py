"""A model of the items demo's kind for tests: the board PCA-8 (R-8 twice, C-8, U-8 and a boss
with no item), uploaded through the service, with its overlay when asked."""

from sqlalchemy import select

from app.docsync import documents
from app.docsync.documents import Metadata
from app.extensions import db
from app.items.models import Item
from app.overlays import service
from app.overlays.modelgen import Box, glb
from tests.items import factory as item_factory

BOARD = [
    Box("PCA-8", colour=None),
    Box("PCB-8", parent=0, size=(8, 0.2, 5), colour=0),
    Box("U-8", parent=0, at=(0, 0.35, 0), size=(1.6, 0.5, 1.6), colour=1),
    Box("R-8", parent=0, at=(-2.8, 0.25, -1.6), size=(0.8, 0.3, 0.4), colour=2),
    Box("R-8", parent=0, at=(-2.8, 0.25, 1.6), size=(0.8, 0.3, 0.4), colour=2),
    Box("C-8", parent=0, at=(2.6, 0.45, 0), size=(0.7, 0.7, 0.7), colour=3),
    Box("BOSS-8", parent=0, at=(-3.6, -0.4, 0), size=(0.5, 0.6, 0.5), colour=4),
]
REFS = ["PCA-8", "PCB-8", "U-8", "R-8", "R-8~2", "C-8", "BOSS-8"]


def items():
    """PCA-8 released with PCB-8, U-8, R-8 (2) and C-8 on it (made once)."""
    made = db.session.scalar(select(Item).where(Item.number == "PCA-8"))
    if made is not None:
        return made.boms[0]
    for number in ("PCB-8", "U-8", "R-8", "C-8"):
        if db.session.scalar(select(Item.id).where(Item.number == number)) is None:
            item_factory.item(number)
    bom = item_factory.assembly(
        "PCA-8", [("PCB-8", 1, 10), ("U-8", 1, 20), ("R-8", 2, 30), ("C-8", 1, 40)], release=True
    )
    db.session.commit()
    return bom


def document(number: str = "MDL-8"):
    doc = documents.create(number, Metadata("Board 8 model", "model", ()))
    db.session.commit()
    return doc


def model(number: str = "MDL-8", boxes=None):
    items()
    doc = document(number)
    made, _ = service.upload(doc, glb(boxes or BOARD), "board.glb")
    db.session.commit()
    return doc, made


def overlay(number: str = "MDL-8", *, publish: bool = False):
    """The model with an overlay mapping every part by name, with fields for each role on U-8."""
    doc, made = model(number)
    made_overlay = service.create(made.version)
    service.map_by_name(made_overlay, "admin")
    entries = [
        service.EntryIn(e.ref, e.item.number, e.bom_line_id, FIELDS if e.ref == "U-8" else [])
        for e in made_overlay.entries
    ]
    service.save_entries(made_overlay, entries, "admin")
    if publish:
        service.move(made_overlay, "published")
    db.session.commit()
    return doc, made_overlay


FIELDS = [
    service.FieldIn("Everyone", "all", []),
    service.FieldIn("Viewer note", "v", ["viewer"]),
    service.FieldIn("Engineer note", "e", ["engineer"]),
    service.FieldIn("Operator note", "o", ["operator"]),
    service.FieldIn("Shop floor", "eo", ["engineer", "operator"]),
]
# what each role sees of FIELDS (admins every field)
SEES = {
    "viewer": ["Everyone", "Viewer note"],
    "engineer": ["Everyone", "Engineer note", "Shop floor"],
    "operator": ["Everyone", "Operator note", "Shop floor"],
    "admin": ["Everyone", "Viewer note", "Engineer note", "Operator note", "Shop floor"],
}
