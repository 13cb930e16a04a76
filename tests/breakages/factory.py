"""Incidents for tests, built through the services on a product with a released BOM."""

from datetime import timedelta

from sqlalchemy import select

from app.breakages import service
from app.core.timeutil import utcnow
from app.extensions import db
from app.items.models import Item
from tests.items import factory as item_factory


def product(number: str = "PCA-9"):
    """An assembly released at A with R-9 and C-9 on it; U-9 exists but is not on it."""
    for part in ("R-9", "C-9", "U-9"):
        if db.session.scalar(select(Item.id).where(Item.number == part)) is None:
            item_factory.item(part)
    bom = item_factory.assembly(number, [("R-9", 2, 10), ("C-9", 1, 20)], release=True)
    db.session.commit()
    return bom


def part(number: str) -> Item:
    return db.session.scalar(select(Item).where(Item.number == number))


def incident(bom=None, *, component: str | None = "C-9", days_ago: float = 1, commit: bool = True, **fields):
    bom = bom or product()
    values = {
        "item_id": bom.item_id,
        "bom_id": bom.id,
        "component_id": part(component).id if component else None,
        "description": fields.pop("description", "Capacitor C1 bulged"),
        "severity": fields.pop("severity", "high"),
        "occurred_at": utcnow() - timedelta(days=days_ago),
        **fields,
    }
    made = service.create_incident(values)
    if commit:
        db.session.commit()
    return made


def resolve(made, **fields):
    service.update_incident(made.id, {"root_cause": "bad lot", "corrective_action": "new supplier", **fields})
    service.move(made.id, "investigating")
    service.move(made.id, "resolved")
    db.session.commit()
    return made
