"""Demo data: a small product with 2-3 levels and revisions that differ, so the
compare page shows every kind of change (add, remove, quantity, unit, find
number, designators, note) at one level and below."""

from sqlalchemy import select

from app.items import service
from app.items.models import Bom, Item, Lifecycle

PARTS = [
    ("R-10K", "Resistor 10 kΩ 0603"),
    ("R-4K7", "Resistor 4.7 kΩ 0603"),
    ("C-100N", "Capacitor 100 nF 0402"),
    ("C-10U", "Capacitor 10 µF 0805"),
    ("U-MCU", "Microcontroller, 48 pin"),
    ("PCB-200", "Bare board, 4 layers"),
    ("BRKT-10", "Steel bracket"),
    ("SCREW-M3", "Screw M3×8, zinc"),
    ("PANEL-20", "Front panel, aluminium"),
    ("CABLE-50", "Ribbon cable, 20 cm"),
    ("LABEL-60", "Rating label"),
    ("FAN-70", "Fan 40 mm, 12 V"),
]
BULK = [("GREASE-80", "Thermal grease", "G")]

# (number, name, revisions: [(lines, released)]); line = (child, qty, find, refdes, note, unit)
ASSEMBLIES = [
    (
        "PCA-200",
        "Controller board assembly",
        [
            (
                [
                    ("PCB-200", 1, 10),
                    ("U-MCU", 1, 20, "U1"),
                    ("R-10K", 4, 30, "R1,R2,R3,R4"),
                    ("C-100N", 2, 40, "C1,C2"),
                ],
                True,
            ),
            (
                [
                    ("PCB-200", 1, 10),
                    ("U-MCU", 1, 20, "U1"),
                    ("R-10K", 5, 30, "R1,R2,R3,R4,R5"),
                    ("C-10U", 2, 40, "C1,C2", "low ESR"),
                ],
                False,
            ),
        ],
    ),
    (
        "PANEL-350",
        "Front panel assembly",
        [
            ([("PANEL-20", 1, 10), ("LABEL-60", 1, 20, "", "engraved"), ("SCREW-M3", 2, 30)], True),
        ],
    ),
    (
        "FRAME-300",
        "Frame",
        [
            ([("BRKT-10", 2, 10), ("SCREW-M3", 8, 20), ("PANEL-350", 1, 30)], True),
        ],
    ),
    (
        "ASM-1000",
        "Controller unit",
        [
            (
                [
                    ("FRAME-300", 1, 10),
                    ("PCA-200", 1, 20),
                    ("CABLE-50", 2, 30),
                    ("LABEL-60", 1, 40, "", "front"),
                    ("GREASE-80", 5, 50, "", "", "G"),
                    ("SCREW-M3", 4, 60),
                ],
                True,
            ),
            (
                [
                    ("FRAME-300", 2, 10),
                    ("PCA-200", 1, 20),
                    ("LABEL-60", 1, 40, "", "rear"),
                    ("GREASE-80", "0.5", 50, "", "", "ML"),
                    ("SCREW-M3", 4, 65),
                    ("FAN-70", 1, 70),
                ],
                False,
            ),
        ],
    ),
    (
        "ASM-2000",
        "Controller unit, fan-cooled",
        [
            ([("FRAME-300", 1, 10), ("PCA-200", 2, 20), ("FAN-70", 2, 30), ("SCREW-M3", 8, 60)], True),
        ],
    ),
]


def _line(row: tuple) -> dict:
    return dict(
        zip(("child", "quantity", "find_number", "refdes", "note", "unit"), row, strict=False)
    )  # trailing fields are optional


def seed() -> str | None:
    from app.extensions import db

    if db.session.scalar(select(Item.id).where(Item.number == "ASM-1000")):
        return None
    _seed_parts()
    for number, name, revisions in ASSEMBLIES:
        _seed_assembly(number, name, revisions)
    return (
        "items: demo assemblies ASM-1000 (released A, draft B), ASM-2000, FRAME-300, PANEL-350, PCA-200 (A, B); "
        "compare ASM-1000@A with ASM-1000@B on /items/compare"
    )


def _seed_parts() -> None:
    for number, name in PARTS:
        service.create_item({"number": number, "name": name, "lifecycle": Lifecycle.released})
    for number, name, uom in BULK:
        service.create_item({"number": number, "name": name, "uom": uom, "lifecycle": Lifecycle.released})


def _seed_assembly(number: str, name: str, revisions: list[tuple[list[tuple], bool]]) -> None:
    """The assembly item and its BOM, one revision after the other; released when one of them is."""
    item = service.create_item({"number": number, "name": name, "item_type": "assembly"})
    bom = service.create_bom(item.id)
    for index, (lines, released) in enumerate(revisions):
        if index:  # the next revision: replace the lines of a draft copy
            bom = _draft_copy(bom)
        for row in lines:
            service.add_line(bom.id, _line(row))
        if released:
            service.release_bom_revision(bom.id)
    if any(released for _, released in revisions):
        service.update_item(item.id, {"lifecycle": Lifecycle.released})


def _draft_copy(bom: Bom) -> Bom:
    """The next revision of `bom`, emptied."""
    bom, _ = service.new_revision(bom)
    for line in list(bom.lines):
        service.remove_line(line.id)
    return bom
