"""The demo 3D model: the controller board PCA-200 as a small multi-part assembly made by
modelgen (node names are the items demo's numbers; the mounting boss has no item, so it shows
as unmapped), uploaded as document MDL-3001, with a published overlay whose fields show the
role filter (one for every role, one for engineers, one for operators)."""

from app.core.errors import DomainError
from app.docsync import documents
from app.docsync.documents import Metadata
from app.items import service as items
from app.overlays import service
from app.overlays.modelgen import Box, glb

NUMBER = "MDL-3001"
BOARD = [
    Box("PCA-200", colour=None),
    Box("PCB-200", parent=0, at=(0, 0, 0), size=(8, 0.2, 5), colour=0),
    Box("U-MCU", parent=0, at=(0, 0.35, 0), size=(1.6, 0.5, 1.6), colour=1),
    Box("R-10K", parent=0, at=(-2.8, 0.25, -1.6), size=(0.8, 0.3, 0.4), colour=2),
    Box("R-10K", parent=0, at=(-2.8, 0.25, 1.6), size=(0.8, 0.3, 0.4), colour=2),
    Box("C-10U", parent=0, at=(2.6, 0.45, -1.4), size=(0.7, 0.7, 0.7), colour=3),
    Box("C-10U", parent=0, at=(2.6, 0.45, 1.4), size=(0.7, 0.7, 0.7), colour=3),
    Box("BOSS-M3", parent=0, at=(-3.6, -0.4, 0), size=(0.5, 0.6, 0.5), colour=4),
]
FIELDS = {
    "U-MCU": [
        ("Handling", "ESD sensitive: wrist strap on", []),
        ("Firmware", "fw 2.4.1, flashed at end of line", ["engineer"]),
        ("Rework", "Reflow profile B only", ["operator"]),
    ],
    "C-10U": [
        ("Polarity", "Stripe towards the board edge", []),
        ("Supplier lot", "Low-ESR lot 24-118 only (BRK repeats)", ["engineer"]),
    ],
}


def model_bytes() -> bytes:
    return glb(BOARD)


def seed() -> str | None:
    if documents.find(NUMBER) is not None:
        return None
    try:
        items.item_by_number("PCA-200")
    except DomainError:  # no items demo, no overlay demo
        return None
    doc = documents.create(NUMBER, Metadata("Controller board 3D model", "model", ("PCA-200",)))
    model, _ = service.upload(doc, model_bytes(), "pca-200.glb")
    overlay = service.create(model.version)
    service.map_by_name(overlay, "admin")
    entries = [
        service.EntryIn(
            e.ref, e.item.number, e.bom_line_id, [service.FieldIn(*f) for f in FIELDS.get(e.item.number, [])]
        )
        for e in service.loaded_entries(overlay)
    ]
    service.save_entries(overlay, entries, "admin")
    service.move(overlay, "published")
    return f"overlays: {NUMBER} (PCA-200 in 3D, {model.part_count} parts, published overlay); see /cad-3d/"
