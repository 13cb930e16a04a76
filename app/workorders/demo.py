"""A demo routing for the items demo's controller unit (ASM-1000): four operations with the
documents demo linked at routing and operation level (one hidden, one inherited by every
operation), and two work orders: a draft and a released one (its links locked on release)."""

from datetime import timedelta

from sqlalchemy import select

from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.docsync import documents
from app.extensions import db
from app.items import service as items
from app.workorders import service
from app.workorders.models import Routing

OPERATIONS = (
    ("CUT", "Cut brackets", "SAW-1", 15, 2),
    ("BEND", "Bend brackets", "PRESS-2", 20, 3),
    ("ASSY", "Assemble the unit", "BENCH-A", 10, 12),
    ("TEST", "Final test", "TEST-1", 5, 8),
)
# (document, operation code or None for the routing, inherited, visible in production)
LINKS = (
    ("MDL-2001", None, True, True),
    ("DWG-1001", "CUT", False, True),
    ("DWG-1001", "BEND", False, True),
    ("PRC-3001", "ASSY", False, True),
    ("PRC-3001", "TEST", False, False),  # an engineer's note for the test bench: hidden from the floor
)


def seed() -> str | None:
    if db.session.scalar(select(Routing.id).limit(1)) is not None:
        return None
    try:
        product = items.item_by_number("ASM-1000")
    except DomainError:  # no items demo, no work-orders demo
        return None
    if any(documents.find(number) is None for number, *_ in LINKS):
        return None
    routing = service.create_routing(product.id, "Standard", is_default=True)
    ops = {}
    for code, name, centre, setup, run in OPERATIONS:
        ops[code] = service.add_operation(
            routing.id, {"code": code, "name": name, "work_centre": centre, "setup_minutes": setup, "run_minutes": run}
        )
    for number, code, inherited, visible in LINKS:
        service.link_document(
            routing.id,
            documents.find(number).id,
            ops[code].id if code else None,
            inherit_to_operations=inherited,
            visible_in_production=visible,
        )
    today = utcnow().date()
    service.create_workorder(product.id, 25, today + timedelta(days=14), routing.id, "Demo draft")
    released = service.create_workorder(product.id, 10, today + timedelta(days=5), routing.id, "Demo, released")
    service.move(released.id, "released")
    return (
        f"workorders: routing 'Standard' of ASM-1000 with {len(OPERATIONS)} operations, 2 work orders; see /workorders/"
    )
