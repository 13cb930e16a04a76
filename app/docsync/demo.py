"""Demo documents for `flask seed-demo` (a drawing, a step model, a procedure); idempotent. Their item
refs are items of the items demo, which seeds first (see CAPABILITIES)."""

import io

from app.docsync import documents
from app.docsync.documents import Metadata

DEMO = (
    (
        "DWG-1001",
        Metadata("Steel bracket", "drawing", ("BRKT-10",)),
        "bracket.pdf",
        b"%PDF-1.7\n% Forgeline demo drawing: steel bracket\n",
    ),
    (
        "MDL-2001",
        Metadata("Controller unit housing model", "model", ("ASM-1000", "FRAME-300")),
        "housing.step",
        b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('Forgeline demo controller unit housing'),'2;1');\nENDSEC;\n",
    ),
    (
        "PRC-3001",
        Metadata("Bracket torque procedure", "procedure", ("BRKT-10", "SCREW-M3")),
        "torque.txt",
        b"Torque the four M8 bolts to 25 Nm in a cross pattern.\n",
    ),
)


def seed() -> str | None:
    created = 0
    for number, meta, filename, data in DEMO:
        if documents.find(number) is not None:
            continue
        documents.add_version(documents.create(number, meta), io.BytesIO(data), filename)
        created += 1
    return f"{created} demo document(s) created" if created else None
