"""Build items and BOMs in tests through the service, the way users would."""

from app.extensions import db
from app.items import service


def item(number: str, item_type: str = "part", **fields):
    return service.create_item(
        {"number": number, "name": fields.pop("name", f"{number} name"), "item_type": item_type, **fields}
    )


def assembly(number: str, lines: list[tuple], release: bool = False):
    """lines: (child number, quantity[, find number[, refdes[, note[, unit]]]]); children must exist."""
    parent = db.session.scalar(db.select(service.Item).where(service.Item.number == number)) or item(number, "assembly")
    bom = service.create_bom(parent.id)
    for line in lines:
        data = dict(
            zip(("child", "quantity", "find_number", "refdes", "note", "unit"), line, strict=False)
        )  # trailing fields are optional
        service.add_line(bom.id, data)
    if release:
        service.release_bom_revision(bom.id)
    db.session.flush()
    return bom
