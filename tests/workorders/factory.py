"""Routings, documents and work orders for tests, built through the services."""

import io
from datetime import date, timedelta

from app.docsync import documents
from app.docsync.documents import Metadata
from app.extensions import db
from app.workorders import service
from tests.items import factory as item_factory  # noqa: F401 - also for the tests

PDF = b"%PDF-1.7\n"


def doc(number: str, versions: int = 1, title: str | None = None, size: int = 256):
    """A document with `versions` versions of distinct bytes."""
    made = documents.find(number) or documents.create(number, Metadata(title or f"{number} title", "drawing"))
    for v in range(len(made.versions) + 1, len(made.versions) + versions + 1):
        body = PDF + f"{number} v{v} ".encode() * (size // 8)
        documents.add_version(made, io.BytesIO(body), f"{number}.pdf")
    db.session.commit()
    return made


def revise(document, times: int = 1):
    return doc(document.number, times)


def routing(item_number: str = "ASM-1", ops=(("CUT", "Cut"), ("WELD", "Weld"), ("PAINT", "Paint"))):
    item = service.db.session.scalar(service.select(service.Item).where(service.Item.number == item_number))
    item = item or item_factory.item(item_number, "assembly")
    made = service.create_routing(item.id, "Standard")
    for code, name in ops:
        service.add_operation(made.id, {"code": code, "name": name, "work_centre": "WC-1", "run_minutes": 5})
    db.session.commit()
    return made


def workorder(routing, quantity: float = 10, due: date | None = None):
    made = service.create_workorder(routing.item_id, quantity, due or date.today() + timedelta(days=7), routing.id)
    db.session.commit()
    return made
