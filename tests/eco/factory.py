"""ECOs for tests, built through the services: an assembly with a released BOM
and a draft revision the ECO proposes."""

from datetime import datetime

from sqlalchemy import select

from app.eco import rules, service, transitions
from app.extensions import db
from app.items import service as items
from app.items.models import Item
from tests.items import factory as item_factory


def product(number: str = "PCA-1"):
    """An assembly released at A with a draft B that adds a part and changes a quantity."""
    for part in ("R-1", "C-1", "U-1"):
        if db.session.scalar(select(Item.id).where(Item.number == part)) is None:
            item_factory.item(part)
    released = item_factory.assembly(number, [("R-1", 2, 10), ("C-1", 1, 20)], release=True)
    draft, _ = items.new_revision(released)
    items.update_line(draft.lines[0].id, {"quantity": 3})
    items.add_line(draft.id, {"child": "U-1", "quantity": 1, "find_number": 30})
    db.session.flush()
    return released, draft


def eco(title: str = "Swap the resistors", with_bom: bool = True, **fields):
    released, draft = product(fields.pop("number", "PCA-1"))
    made = service.create_eco(
        title=title, item_id=released.item_id, target_bom_id=draft.id if with_bom else None, **fields
    )
    db.session.commit()
    return made


def activity(
    eco, name: str, stage: str = "draft", *, blocking: bool = True, depends_on=(), due_at: datetime | None = None
):
    made = service.create_activity(
        eco_id=eco.id, name=name, stage=stage, blocking=blocking, depends_on=[a.id for a in depends_on], due_at=due_at
    )
    db.session.commit()
    return made


def rule(name: str, action: str = "emit_event", phase: str = "before", **fields):
    made = rules.create_rule(rules.RuleSpec(name=name, action=action, phase=phase, **fields))
    db.session.commit()
    return made


def closed_eco(stage: str, number: str = "PCA-9"):
    """A fast-track ECO without a BOM change, with two non-blocking activities, moved to `stage`
    (done or canceled): read-only from then on."""
    made = eco("Closed change", with_bom=False, eco_type="fast_track", number=number)
    activity(made, "Check", blocking=False)
    activity(made, "Sign", blocking=False)
    for to in ("approved", "done") if stage == "done" else (stage,):
        transitions.move(made.id, to)
    db.session.commit()
    return made
