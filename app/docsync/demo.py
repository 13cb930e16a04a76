"""Demo documents for `flask seed-demo` (a drawing, a step model, a procedure); idempotent."""

import io

from app.docsync import documents
from app.docsync.documents import Metadata

DEMO = (
    (
        "DWG-1001",
        Metadata("Pump bracket", "drawing", ("P-100",)),
        "bracket.pdf",
        b"%PDF-1.7\n% Forgeline demo drawing: pump bracket\n",
    ),
    (
        "MDL-2001",
        Metadata("Pump housing model", "model", ("P-100", "P-101")),
        "housing.step",
        b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('Forgeline demo housing'),'2;1');\nENDSEC;\n",
    ),
    (
        "PRC-3001",
        Metadata("Bracket torque procedure", "procedure", ("P-100",)),
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
