"""Demo ECOs on the items demo: one mid-way with a blocking review, an overdue
and a due-soon activity and a BOM change to apply; one fast-track without a BOM
change; and three rules (a live notice, an escalation, a background report)."""

from datetime import timedelta

from sqlalchemy import select

from app.core.timeutil import utcnow
from app.eco import rules, service, transitions
from app.eco.models import ActivityStatus, Eco
from app.eco.rules import RuleSpec
from app.extensions import db
from app.items import service as items

RULES = [
    {
        "name": "Announce stage changes",
        "phase": "after",
        "action": "emit_event",
        "fail_strategy": "warn",
        "params": {"event": "eco_notice", "message": "stage changed"},
        "priority": 50,
    },
    {
        "name": "Escalate on approval",
        "phase": "before",
        "to_stage": "approved",
        "action": "set_eco_priority",
        "params": {"priority": "high", "never_lower": True},
        "fail_strategy": "warn",
        "priority": 10,
    },
    {
        "name": "BOM delta report for implementation",
        "phase": "after",
        "to_stage": "implementation",
        "action": "create_job",
        "params": {"job": "bom_delta_report"},
        "fail_strategy": "retry",
        "max_retries": 2,
        "priority": 100,
        "timeout_seconds": 60,
    },
]


def seed() -> str | None:
    if db.session.scalar(select(Eco.id).limit(1)) is not None:
        return None
    try:
        pca = items.item_by_number("PCA-200")
        panel = items.item_by_number("PANEL-350")
    except Exception:  # noqa: BLE001 - no items demo, no ECO demo
        return None
    draft = next((b for b in pca.boms if b.state == "draft"), None)
    now = utcnow()
    main = service.create_eco(
        title="Low-ESR capacitors and a fifth pull-up on the controller",
        item_id=pca.id,
        target_bom_id=draft.id if draft else None,
        priority="normal",
        description="Field returns show brown-outs; C1/C2 become 10 µF low-ESR.",
    )
    schematic = service.create_activity(eco_id=main.id, name="Update schematic", stage="draft", assignee="alice")
    service.transition_activity(schematic.id, ActivityStatus.completed, "schematic rev B checked in")
    transitions.move(main.id, "review", "schematic done")
    review = service.create_activity(
        eco_id=main.id,
        name="Design review",
        stage="review",
        assignee="bob",
        due_at=now + timedelta(hours=5),
        depends_on=[schematic.id],
    )
    service.create_activity(
        eco_id=main.id,
        name="Order samples",
        stage="approved",
        assignee="carol",
        due_at=now - timedelta(hours=2),
        depends_on=[review.id],
    )
    service.create_activity(
        eco_id=main.id, name="Tell purchasing", stage="implementation", blocking=False, due_at=now + timedelta(days=3)
    )
    service.create_eco(
        title="Engrave the rating label instead of printing it", item_id=panel.id, eco_type="fast_track", priority="low"
    )
    for spec in RULES:
        rules.create_rule(RuleSpec(**spec))
    return (
        f"eco: {main.number} in review behind a blocking 'Design review', a fast-track ECO, and three "
        "workflow rules; see /ecos/"
    )
