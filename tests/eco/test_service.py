"""ECOs, activities, dependencies, blockers and events, through the service, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.errors import Conflict, InvalidInput
from app.core.timeutil import utcnow
from app.eco import service
from app.eco.models import EcoEvent
from app.extensions import db
from tests.eco import factory


def test_an_eco_starts_at_the_first_stage_of_its_type_with_a_number_and_an_event(app):
    eco = factory.eco(priority="high")
    assert eco.number == f"ECO-{eco.id:05d}"
    assert (eco.stage, eco.eco_type, eco.priority, eco.owner) == ("draft", "standard", "high", "system")
    assert eco.target_bom.ref == "PCA-1@B"
    fast = service.create_eco(title="Fast", item_id=eco.item_id, eco_type="fast_track")
    assert fast.stage == "draft"
    events = service.events(eco.id).items
    assert [(e.kind, e.to_value) for e in events] == [("created", "draft")]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"eco_type": "nope"}, "eco_type"),
        ({"priority": "meh"}, "priority"),
        ({"title": "  "}, "title"),
    ],
)
def test_bad_eco_input_is_refused_and_writes_nothing(app, fields, field):
    released, _ = factory.product()
    db.session.commit()
    with pytest.raises(InvalidInput) as error:
        service.create_eco(**{"title": "x", "item_id": released.item_id, **fields})
    assert error.value.details["field"] == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(EcoEvent)) == 0


def test_the_target_bom_must_be_a_draft_of_the_ecos_item(app):
    released, draft = factory.product()
    with pytest.raises(InvalidInput, match="draft revision"):
        service.create_eco(title="x", item_id=released.item_id, target_bom_id=released.id)
    eco = service.create_eco(title="x", item_id=released.item_id)
    eco = service.update_eco(eco.id, {"target_bom_id": draft.id, "priority": "urgent"})
    assert eco.target_bom_id == draft.id
    latest = service.events(eco.id).items[0]
    assert (latest.kind, latest.from_value, latest.to_value) == ("priority", "normal", "urgent")


def test_the_bom_delta_is_the_items_delta_preview_from_released_to_target(app):
    eco = factory.eco()
    delta = service.bom_delta(eco)
    assert (delta.left, delta.right) == ("PCA-1@A", "PCA-1@B")
    assert {op.op: op.child for op in delta.operations} == {"update": "R-1", "add": "U-1"}
    assert service.bom_delta(factory.eco("No BOM", with_bom=False, number="PCA-9")) is None


def test_activity_status_transitions_follow_the_table_and_record_events(app):
    eco = factory.eco()
    review = factory.activity(eco, "Design review")
    for to in ("active", "exception", "pending", "active", "completed", "pending", "canceled", "pending"):
        service.transition_activity(review.id, to, reason=f"to {to}")
    db.session.commit()
    with pytest.raises(Conflict) as error:
        service.transition_activity(review.id, "pending")
    assert error.value.code == "invalid_transition"
    assert error.value.details["allowed"] == ["active", "completed", "canceled", "exception"]
    service.transition_activity(review.id, "completed")
    with pytest.raises(Conflict):
        service.transition_activity(review.id, "active")  # completed only reopens
    events = list(reversed(service.events(activity_id=review.id).items))
    assert [(e.from_value, e.to_value) for e in events][:3] == [
        (None, "pending"),
        ("pending", "active"),
        ("active", "exception"),
    ]
    assert events[1].reason == "to active" and events[1].actor == "system" and events[1].at is not None


def test_an_activity_cannot_complete_while_a_dependency_is_unfinished(app):
    eco = factory.eco()
    drawing = factory.activity(eco, "Update drawing")
    check = factory.activity(eco, "Check drawing", depends_on=[drawing])
    with pytest.raises(Conflict) as error:
        service.transition_activity(check.id, "completed")
    assert error.value.details["blockers"] == [
        {
            "activity_id": drawing.id,
            "name": "Update drawing",
            "status": "pending",
            "reason": "depends on 'Update drawing', which is pending",
        }
    ]
    service.transition_activity(check.id, "active")  # starting is fine
    service.transition_activity(drawing.id, "canceled")  # a canceled dependency is finished
    service.transition_activity(check.id, "completed")
    assert check.status == "completed"


def test_dependency_cycles_are_rejected_naming_the_cycle(app):
    eco = factory.eco()
    a = factory.activity(eco, "A")
    b = factory.activity(eco, "B", depends_on=[a])
    c = factory.activity(eco, "C", depends_on=[b])
    with pytest.raises(Conflict) as error:
        service.set_dependencies(a.id, [c.id])
    assert error.value.code == "dependency_cycle"
    assert error.value.details["cycle"] == [a.id, c.id, b.id, a.id]
    assert "A → C → B → A" in error.value.message
    with pytest.raises(Conflict):
        service.set_dependencies(a.id, [a.id])  # on itself
    db.session.rollback()
    assert service.get_activity(a.id).depends_on == []
    other = factory.eco("Other", number="PCA-2")
    foreign = factory.activity(other, "Elsewhere")
    with pytest.raises(InvalidInput, match="not an activity of"):
        service.set_dependencies(a.id, [foreign.id])


def test_activities_gate_stages_of_the_ecos_chain(app):
    eco = factory.eco()
    with pytest.raises(InvalidInput) as error:
        factory.activity(eco, "Too late", stage="done")
    assert error.value.details["allowed"] == ["draft", "review", "approved", "implementation"]


def test_gate_blockers_are_open_blocking_activities_of_the_stages_left_or_skipped(app):
    eco = factory.eco()
    draft_gate = factory.activity(eco, "Draft gate", "draft")
    factory.activity(eco, "FYI", "draft", blocking=False)
    review_gate = factory.activity(eco, "Review gate", "review")
    assert [b["name"] for b in service.gate_blockers(eco, "review")] == ["Draft gate"]
    assert [b["name"] for b in service.gate_blockers(eco, "approved")] == ["Draft gate", "Review gate"]
    assert service.gate_blockers(eco, "canceled") == []
    service.transition_activity(draft_gate.id, "completed")
    service.transition_activity(review_gate.id, "exception")
    assert service.gate_blockers(eco, "review") == []
    assert service.gate_blockers(eco, "approved")[0]["reason"] == "blocking activity of stage 'review' is exception"


def test_overdue_and_due_soon_activities(app):
    eco = factory.eco()
    now = utcnow()
    late = factory.activity(eco, "Late", due_at=now - timedelta(hours=2))
    soon = factory.activity(eco, "Soon", due_at=now + timedelta(hours=5))
    factory.activity(eco, "Later", due_at=now + timedelta(hours=30))
    done = factory.activity(eco, "Done late", due_at=now - timedelta(hours=1))
    service.transition_activity(done.id, "completed")
    overdue, due_soon = service.due_activities()
    assert ([a.id for a in overdue], [a.id for a in due_soon]) == ([late.id], [soon.id])
    assert len(service.due_activities(within_hours=48)[1]) == 2


@pytest.mark.parametrize("stage", ["done", "canceled"])
def test_a_closed_eco_takes_no_activity_and_its_activities_stay_as_they_are(app, stage):
    eco = factory.closed_eco(stage)
    check, sign = eco.activities
    refused = [
        lambda: service.create_activity(eco_id=eco.id, name="Late", stage="draft"),
        lambda: service.transition_activity(check.id, "completed"),
        lambda: service.set_dependencies(check.id, [sign.id]),
        lambda: service.update_eco(eco.id, {"title": "Renamed"}),
    ]
    for attempt in refused:
        with pytest.raises(Conflict) as error:
            attempt()
        assert error.value.code == "closed" and error.value.details == {"stage": stage}
        assert f"{eco.number} is {stage}" in error.value.message
    db.session.rollback()
    assert [(a.name, a.status, a.depends_on) for a in eco.activities] == [
        ("Check", "pending", []),
        ("Sign", "pending", []),
    ]
