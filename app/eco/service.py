"""ECOs, their activities (gates), dependencies and events.

Functions here add to the caller's transaction and never commit; stage moves
and apply, all-or-nothing under rules that may block them, are in app/eco/transitions.py.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select

from app.core import audit, live, timeline
from app.core.audit.service import current_actor
from app.core.errors import Conflict, InvalidInput
from app.core.paging import Page, containing, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.core.validation import not_one_of
from app.eco import stages
from app.eco.models import (
    ACTIVITY_TRANSITIONS,
    FINISHED_STATUSES,
    OPEN_STATUSES,
    PRIORITIES,
    ActivityStatus,
    Eco,
    EcoActivity,
    EcoEvent,
)
from app.extensions import db
from app.items import service as items
from app.items.compare import compare_boms
from app.items.delta import DeltaPreview, build_delta_preview

ECO_FIELDS = ("title", "description", "priority", "owner", "target_bom_id")
DUE_SOON_HOURS = 24


def current_role() -> str:
    return current_user.role if has_request_context() and current_user.is_authenticated else "system"


# ---- ECOs ------------------------------------------------------------------


def eco_snapshot(eco: Eco) -> dict[str, Any]:
    return {
        "number": eco.number,
        "title": eco.title,
        "eco_type": eco.eco_type,
        "stage": eco.stage,
        "priority": eco.priority,
        "owner": eco.owner,
        "item": eco.item.number,
        "target_bom": eco.target_bom.ref if eco.target_bom else None,
    }


def _check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise not_one_of("priority", "Priority", priority, PRIORITIES)
    return priority


def _target_bom(item_id: int, bom_id: int | None):
    """The proposed BOM change: a draft revision of the ECO's own item."""
    if bom_id is None:
        return None
    bom = items.get_bom(bom_id)
    if bom.item_id != item_id:
        raise InvalidInput(f"{bom.ref} is not a BOM of this ECO's item.", {"field": "target_bom_id"})
    if bom.state != "draft":
        raise InvalidInput(f"{bom.ref} is {bom.state}; an ECO proposes a draft revision.", {"field": "target_bom_id"})
    return bom


def create_eco(
    *,
    title: str,
    item_id: int,
    eco_type: str = stages.DEFAULT_TYPE,
    priority: str = "normal",
    description: str = "",
    owner: str | None = None,
    target_bom_id: int | None = None,
) -> Eco:
    item = items.get_item(item_id)
    chain = stages.chain(eco_type)
    eco = Eco(
        number=f"new-{uuid.uuid4().hex[:12]}",
        title=title.strip(),
        description=description,
        eco_type=eco_type,
        stage=chain[0],
        priority=_check_priority(priority),
        owner=owner or current_actor(),
        item=item,
        target_bom=_target_bom(item.id, target_bom_id),
    )
    if not eco.title:
        raise InvalidInput("A title is required.", {"field": "title"})
    db.session.add(eco)
    db.session.flush()
    eco.number = f"ECO-{eco.id:05d}"
    record_event(eco, "created", None, eco.stage)
    audit.record("eco", eco.id, "create", after=eco_snapshot(eco))
    return eco


def is_closed(eco: Eco) -> bool:
    """Done or canceled: read-only but for a move (a canceled ECO can be reopened)."""
    return eco.stage in (stages.CANCELED, stages.final_stage(eco.eco_type))


def check_open(eco: Eco, refused: str) -> None:
    if is_closed(eco):
        raise Conflict(f"{eco.number} is {eco.stage}; {refused}.", {"stage": eco.stage}, code="closed")


def update_eco(eco_id: int, changes: dict[str, Any]) -> Eco:
    """Title, description, priority, owner, target BOM; the stage only moves through transitions."""
    eco = get_eco(eco_id)
    check_open(eco, "it can no longer be edited")
    before = eco_snapshot(eco)
    for key, value in changes.items():
        if key not in ECO_FIELDS:
            raise InvalidInput(f"{key} cannot be changed here.", {"field": key})
        if key == "priority" and value != eco.priority:
            record_event(eco, "priority", eco.priority, _check_priority(value))
        if key == "target_bom_id":
            eco.target_bom = _target_bom(eco.item_id, value)
        elif key == "title" and not (value or "").strip():
            raise InvalidInput("A title is required.", {"field": "title"})
        else:
            setattr(eco, key, value)
    db.session.flush()
    audit.record("eco", eco.id, "update", before=before, after=eco_snapshot(eco))
    return eco


def get_eco(eco_id: int) -> Eco:
    return get_or_404(Eco, eco_id, "ECO")


def search_ecos(
    *,
    q: str | None = None,
    stage: str | None = None,
    eco_type: str | None = None,
    priority: str | None = None,
    owner: str | None = None,
    item_id: int | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page:
    query = select(Eco).order_by(Eco.id.desc())
    if q:
        query = query.where(containing(q.strip(), Eco.number, Eco.title))
    for column, value in (
        (Eco.stage, stage),
        (Eco.eco_type, eco_type),
        (Eco.priority, priority),
        (Eco.owner, owner),
        (Eco.item_id, item_id),
    ):
        if value:
            query = query.where(column == value)
    return paginate(query, page, per_page)


def bom_delta(eco: Eco) -> DeltaPreview | None:
    """What applying the ECO changes: the item's released BOM → the target revision
    (once applied: the revision it superseded → the target)."""
    target = eco.target_bom
    if target is None:
        return None
    others = [b for b in eco.item.boms if b.id != target.id and b.state in ("released", "superseded")]
    base = next((b for b in others if b.state == "released"), None) or max(
        others, key=lambda b: (len(b.revision), b.revision), default=target
    )
    return build_delta_preview(compare_boms(base, target))


# ---- events ----------------------------------------------------------------


def record_event(
    eco: Eco,
    kind: str,
    from_value: str | None,
    to_value: str | None,
    reason: str = "",
    activity: EcoActivity | None = None,
    actor: str | None = None,
) -> EcoEvent:
    event = timeline.record(EcoEvent, kind, from_value, to_value, reason, actor, eco=eco, activity=activity)
    data = {
        "eco": eco.number,
        "kind": kind,
        "from": from_value,
        "to": to_value,
        "activity": activity.id if activity else None,
    }
    live.publish_on_commit(f"eco:{eco.id}", "eco_event", data)  # the ECO page re-reads itself
    return event


def events(eco_id: int | None = None, activity_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    query = select(EcoEvent).order_by(EcoEvent.id.desc())
    if eco_id is not None:
        query = query.where(EcoEvent.eco_id == get_eco(eco_id).id)
    if activity_id is not None:
        query = query.where(EcoEvent.activity_id == get_activity(activity_id).id)
    return paginate(query, page, per_page)


# ---- activities --------------------------------------------------------------


def activity_snapshot(activity: EcoActivity) -> dict[str, Any]:
    return {
        "eco": activity.eco.number,
        "name": activity.name,
        "assignee": activity.assignee,
        "stage": activity.stage,
        "blocking": activity.blocking,
        "status": activity.status,
        "due_at": activity.due_at.isoformat() if activity.due_at else None,
        "depends_on": [a.id for a in activity.depends_on],
    }


def get_activity(activity_id: int) -> EcoActivity:
    return get_or_404(EcoActivity, activity_id, "activity")


def _check_stage(eco: Eco, stage: str) -> str:
    chain = stages.chain(eco.eco_type)
    if stage not in chain[:-1]:
        raise InvalidInput(
            f"{stage!r} is not a stage an activity can gate for a {eco.eco_type} ECO.",
            {"field": "stage", "allowed": list(chain[:-1])},
        )
    return stage


def create_activity(
    *,
    eco_id: int,
    name: str,
    stage: str,
    assignee: str = "",
    blocking: bool = True,
    due_at: datetime | None = None,
    depends_on: list[int] | None = None,
) -> EcoActivity:
    eco = get_eco(eco_id)
    check_open(eco, "it takes no new activities")
    if not name.strip():
        raise InvalidInput("A name is required.", {"field": "name"})
    activity = EcoActivity(
        eco=eco,
        name=name.strip(),
        stage=_check_stage(eco, stage),
        assignee=assignee.strip(),
        blocking=blocking,
        due_at=due_at,
        status=ActivityStatus.pending,
    )
    db.session.add(activity)
    db.session.flush()
    set_dependencies(activity.id, depends_on or [], record=False)
    record_event(eco, "activity", None, ActivityStatus.pending, f"created: {activity.name}", activity)
    audit.record("eco_activity", activity.id, "create", after=activity_snapshot(activity))
    return activity


def set_dependencies(activity_id: int, depends_on: list[int], record: bool = True) -> EcoActivity:
    """Replace what this activity waits for: activities of the same ECO, and no cycle."""
    activity = get_activity(activity_id)
    check_open(activity.eco, "its activities no longer change")
    before = [a.id for a in activity.depends_on]
    targets = []
    for target_id in dict.fromkeys(depends_on):
        target = db.session.get(EcoActivity, target_id)
        if target is None or target.eco_id != activity.eco_id:
            raise InvalidInput(
                f"Activity {target_id} is not an activity of {activity.eco.number}.", {"field": "depends_on"}
            )
        targets.append(target)
    cycle = _cycle_through(activity, targets)
    if cycle:
        raise Conflict(
            "These dependencies would make a cycle: " + " → ".join(a.name for a in cycle) + ".",
            {"field": "depends_on", "cycle": [a.id for a in cycle]},
            code="dependency_cycle",
        )
    activity.depends_on = targets
    db.session.flush()
    if record:
        audit.record(
            "eco_activity",
            activity.id,
            "dependencies",
            before={"depends_on": before},
            after={"depends_on": [a.id for a in targets]},
        )
    return activity


def _cycle_through(activity: EcoActivity, targets: list[EcoActivity]) -> list[EcoActivity]:
    """The path activity → ... → activity the new edges would close, or []."""
    stack = [(target, [activity, target]) for target in targets]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node.id == activity.id:
            return path
        if node.id in seen:
            continue
        seen.add(node.id)
        stack += [(nxt, [*path, nxt]) for nxt in node.depends_on]
    return []


def activity_blockers(activity: EcoActivity) -> list[dict[str, Any]]:
    """Why this activity cannot complete: its unfinished dependencies."""
    return [
        {
            "activity_id": dep.id,
            "name": dep.name,
            "status": dep.status,
            "reason": f"depends on {dep.name!r}, which is {dep.status}",
        }
        for dep in activity.depends_on
        if dep.status not in FINISHED_STATUSES
    ]


def transition_activity(activity_id: int, to_status: str, reason: str = "") -> EcoActivity:
    activity = get_activity(activity_id)
    check_open(activity.eco, "its activities no longer change")
    allowed = ACTIVITY_TRANSITIONS.get(activity.status, ())
    if to_status not in allowed:
        raise Conflict(
            f"An activity that is {activity.status} cannot become {to_status}.",
            {"from": activity.status, "to": to_status, "allowed": list(allowed)},
            code="invalid_transition",
        )
    if to_status == ActivityStatus.completed:
        blockers = activity_blockers(activity)
        if blockers:
            raise Conflict(f"{activity.name!r} cannot complete yet.", {"blockers": blockers}, code="blocked")
    before = activity.status
    activity.status = to_status
    record_event(activity.eco, "activity", before, to_status, reason, activity)
    audit.record("eco_activity", activity.id, "transition", before={"status": before}, after={"status": to_status})
    db.session.flush()
    return activity


def list_activities(
    *,
    eco_id: int | None = None,
    status: str | None = None,
    assignee: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    query = select(EcoActivity).order_by(EcoActivity.id)
    if eco_id is not None:
        query = query.where(EcoActivity.eco_id == eco_id)
    if status:
        query = query.where(EcoActivity.status == status)
    if assignee:
        query = query.where(EcoActivity.assignee == assignee)
    return paginate(query, page, per_page)


def due_activities(
    within_hours: float = DUE_SOON_HOURS, now: datetime | None = None
) -> tuple[list[EcoActivity], list[EcoActivity]]:
    """Open activities past their due time, and those due within the next hours."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(EcoActivity)
        .where(
            EcoActivity.status.in_(OPEN_STATUSES),
            EcoActivity.due_at.is_not(None),
            EcoActivity.due_at <= now + timedelta(hours=within_hours),
        )
        .order_by(EcoActivity.due_at, EcoActivity.id)
    )
    overdue, soon = [], []
    for activity in rows:
        (overdue if activity.due_at < now else soon).append(activity)
    return overdue, soon


# ---- gates -------------------------------------------------------------------


def gate_blockers(eco: Eco, to_stage: str) -> list[dict[str, Any]]:
    """Open blocking activities of the stages a forward move leaves or skips; a
    backward move (or cancel) has none."""
    chain = stages.chain(eco.eco_type)
    if to_stage not in chain or eco.stage not in chain or chain.index(to_stage) <= chain.index(eco.stage):
        return []
    passed = chain[chain.index(eco.stage) : chain.index(to_stage)]
    return [
        {
            "activity_id": a.id,
            "name": a.name,
            "stage": a.stage,
            "status": a.status,
            "assignee": a.assignee,
            "reason": f"blocking activity of stage {a.stage!r} is {a.status}",
        }
        for a in eco.activities
        if a.blocking and a.is_open and a.stage in passed
    ]
