"""Build consumption plans in tests through the service, the way users would."""

from datetime import UTC, datetime, timedelta

from app.consumption import service
from app.extensions import db
from app.items.models import Item
from tests.items import factory as items

WEEK = {"period_unit": "day", "period_start": "2026-11-30", "period_end": "2026-12-07"}  # a Monday to the next


def item(number: str = "PCB-200"):
    return db.session.scalar(db.select(Item).where(Item.number == number)) or items.item(number)


def plan(number: str = "PCB-200", quantity: str = "700", unit: str = "ea", active: bool = True, **fields):
    made = service.create_plan(
        {"item_id": item(number).id, **WEEK, "planned_quantity": quantity, "unit": unit, **fields}
    )
    if active:
        service.activate_plan(made.id)
    db.session.flush()
    return made


def at(day: int, hour: int = 10) -> datetime:
    """A moment of the factory's week (day 0 = Monday 2026-11-30), UTC."""
    return datetime(2026, 11, 30, hour, tzinfo=UTC) + timedelta(days=day)


def record(plan_id: int, quantity: str, unit: str | None = None, day: int = 0, **fields):
    made, _ = service.create_record(
        {"plan_id": plan_id, "quantity": quantity, "unit": unit, "recorded_at": at(day), **fields}
    )
    return made
