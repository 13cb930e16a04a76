"""Consumption plans, template versions and actuals.

Functions here add to the caller's transaction and never commit. Every write is audited;
writes of actuals announce themselves on the live channel once they commit.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from app.consumption import metrics, units
from app.consumption.models import (
    ConsumptionPlan,
    ConsumptionRecord,
    ConsumptionTemplate,
    PeriodUnit,
    PlanState,
    SourceType,
)
from app.core import audit, live, txn
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.paging import Page, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.extensions import db
from app.items.models import Item

MAX_QUANTITY = Decimal("999999999999")
TEMPLATE_KEY_LIMIT = 80
PLAN_FIELDS = ("item_id", "period_unit", "period_start", "period_end", "planned_quantity", "unit", "note")
PLAN_SORTS = {
    "period_start": ConsumptionPlan.period_start,
    "planned_quantity": ConsumptionPlan.planned_quantity,
    "state": ConsumptionPlan.state,
    "item": Item.number,
    "id": ConsumptionPlan.id,
}


def topic(scope: str) -> str:
    """The live topic of actuals: `consumption:all`, `consumption:item-<id>` (an item's dashboard, its plans)."""
    return f"consumption:{scope}"


# ---- input -----------------------------------------------------------------


def quantity(value: Any, field: str, *, positive: bool) -> Decimal:
    """A finite decimal quantity (> 0 when `positive`, else ≥ 0) within MAX_QUANTITY."""
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be a number.", {"field": field}) from None
    if not number.is_finite():
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be finite.", {"field": field})
    if number < 0 or (positive and number == 0):
        limit = "greater than 0" if positive else "0 or more"
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be {limit}.", {"field": field})
    if number > MAX_QUANTITY:
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} is too large.", {"field": field})
    return number


def day_start(value: Any, field: str) -> datetime:
    """A date (or the ISO text of one) as midnight UTC; a datetime is taken at its UTC day."""
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InvalidInput(
                f"{field.replace('_', ' ').capitalize()} is not a date (YYYY-MM-DD).", {"field": field}
            ) from None
    if not isinstance(value, date):
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} is required.", {"field": field})
    return datetime.combine(value, time(), UTC)


def moment(value: Any, field: str = "recorded_at") -> datetime:
    """An aware datetime in UTC; ISO text without an offset is refused (no guessing a zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("Recorded at is not an ISO 8601 time.", {"field": field}) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("Recorded at needs a time zone (e.g. 2026-12-03T10:00:00Z).", {"field": field})
    return value.astimezone(UTC)


def _choice(value: Any, field: str, allowed: type) -> str:
    if value not in tuple(allowed):
        raise InvalidInput(f"Unknown {field.replace('_', ' ')} {value!r}.", {"field": field, "allowed": list(allowed)})
    return str(value)


def _item(item_id: Any) -> Item:
    item = db.session.get(Item, item_id) if isinstance(item_id, int) or str(item_id).isdecimal() else None
    if item is None:
        raise InvalidInput(f"No item with id {item_id}.", {"field": "item_id"})
    return item


def _plan_values(data: dict[str, Any], current: ConsumptionPlan | None = None) -> dict[str, Any]:
    merged = {**(plan_snapshot(current) if current else {}), **{k: v for k, v in data.items() if k in PLAN_FIELDS}}
    item = _item(int(merged["item_id"]) if str(merged.get("item_id") or "").isdecimal() else merged.get("item_id"))
    start = day_start(merged.get("period_start"), "period_start")
    end = day_start(merged.get("period_end"), "period_end")
    if end <= start:
        raise InvalidInput("The period ends after it starts.", {"field": "period_end"})
    note = str(merged.get("note") or "").strip()
    if len(note) > 500:
        raise InvalidInput("Note is longer than 500 characters.", {"field": "note"})
    return {
        "item_id": item.id,
        "period_unit": _choice(merged.get("period_unit") or PeriodUnit.week, "period_unit", PeriodUnit),
        "period_start": start,
        "period_end": end,
        "planned_quantity": quantity(merged.get("planned_quantity"), "planned_quantity", positive=True),
        "unit": units.normalize(merged.get("unit") or "", "unit"),
        "note": note,
    }


# ---- plans -----------------------------------------------------------------


def plan_snapshot(plan: ConsumptionPlan) -> dict[str, Any]:
    return {
        "item_id": plan.item_id,
        "period_unit": plan.period_unit,
        "period_start": plan.period_start.date().isoformat(),
        "period_end": plan.period_end.date().isoformat(),
        "planned_quantity": str(plan.planned_quantity),
        "unit": plan.unit,
        "note": plan.note,
        "state": plan.state,
        "template": plan.template_key,
        "version": plan.version,
    }


def get_plan(plan_id: int) -> ConsumptionPlan:
    return get_or_404(ConsumptionPlan, plan_id, "consumption plan")


def _template(key: str) -> ConsumptionTemplate:
    """The template of `key`, created on first use."""
    key = key.strip()
    if not key or len(key) > TEMPLATE_KEY_LIMIT or not all(c.isalnum() or c in "._-" for c in key):
        raise InvalidInput(
            f"A template key is letters, digits, '.', '_' or '-' (up to {TEMPLATE_KEY_LIMIT}).",
            {"field": "template_key"},
        )
    template = db.session.scalar(select(ConsumptionTemplate).where(ConsumptionTemplate.key == key))
    if template is None:
        template = ConsumptionTemplate(key=key)
        db.session.add(template)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:  # created by a concurrent request meanwhile
            template = db.session.scalar(select(ConsumptionTemplate).where(ConsumptionTemplate.key == key))
        else:
            audit.record("consumption_template", template.id, "create", after={"key": key})
    return template


def create_plan(data: dict[str, Any], actor: str | None = None) -> ConsumptionPlan:
    """A draft plan; with `template_key`, the next version of that template."""
    values = _plan_values(data)
    if key := str(data.get("template_key") or "").strip():
        template = _lock(_template(key))
        latest = db.session.scalar(
            select(func.max(ConsumptionPlan.version)).where(ConsumptionPlan.template_id == template.id)
        )
        values.update(template_id=template.id, version=(latest or 0) + 1)
    plan = ConsumptionPlan(**values, state=PlanState.draft, created_by=actor or audit.current_actor())
    db.session.add(plan)
    db.session.flush()
    audit.record("consumption_plan", plan.id, "create", after=plan_snapshot(plan))
    return plan


def update_plan(plan_id: int, data: dict[str, Any]) -> ConsumptionPlan:
    plan = get_plan(plan_id)
    if plan.state == PlanState.closed:
        raise Conflict(f"Plan #{plan.id} is closed: it is read-only.", {"field": "state", "state": plan.state})
    before = plan_snapshot(plan)
    values = _plan_values(data, plan)
    if _has_records(plan) and (values["unit"] != plan.unit or values["item_id"] != plan.item_id):
        field = "unit" if values["unit"] != plan.unit else "item_id"
        raise Conflict("A plan with actuals keeps its item and unit (they were converted to it).", {"field": field})
    for key, value in values.items():
        setattr(plan, key, value)
    db.session.flush()
    audit.record("consumption_plan", plan.id, "update", before=before, after=plan_snapshot(plan))
    return plan


def _has_records(plan: ConsumptionPlan) -> bool:
    return (
        db.session.scalar(select(ConsumptionRecord.id).where(ConsumptionRecord.plan_id == plan.id).limit(1)) is not None
    )


def _lock(template: ConsumptionTemplate) -> ConsumptionTemplate:
    """Hold the template's row until commit, so two activations of its versions run one after the other."""
    db.session.execute(
        select(ConsumptionTemplate.id).where(ConsumptionTemplate.id == template.id).with_for_update()
    ).one()
    db.session.refresh(template)
    return template


def activate_plan(plan_id: int) -> ConsumptionPlan:
    """Make the plan take actuals; a template version's active siblings go back to draft, in this
    transaction (the template row is locked, so of two concurrent activations the later wins)."""
    plan = get_plan(plan_id)
    if plan.template is not None:
        _lock(plan.template)
        db.session.refresh(plan)
    if plan.state != PlanState.draft:
        raise Conflict(f"Plan #{plan.id} is {plan.state}; only a draft is activated.", {"field": "state"})
    if plan.template is not None:
        siblings = db.session.scalars(
            select(ConsumptionPlan).where(
                ConsumptionPlan.template_id == plan.template_id,
                ConsumptionPlan.state == PlanState.active,
                ConsumptionPlan.id != plan.id,
            )
        ).all()
        for sibling in siblings:
            sibling.state = PlanState.draft
            audit.record(
                "consumption_plan", sibling.id, "deactivate", before={"state": "active"}, after={"state": "draft"}
            )
        db.session.flush()  # the siblings leave the one-active index before this plan enters it
    plan.state = PlanState.active
    db.session.flush()
    audit.record("consumption_plan", plan.id, "activate", before={"state": "draft"}, after={"state": "active"})
    return plan


def deactivate_plan(plan_id: int) -> ConsumptionPlan:
    plan = get_plan(plan_id)
    if plan.state != PlanState.active:
        raise Conflict(f"Plan #{plan.id} is {plan.state}, not active.", {"field": "state"})
    plan.state = PlanState.draft
    db.session.flush()
    audit.record("consumption_plan", plan.id, "deactivate", before={"state": "active"}, after={"state": "draft"})
    return plan


def close_plan(plan_id: int) -> ConsumptionPlan:
    plan = get_plan(plan_id)
    if plan.state == PlanState.closed:
        raise Conflict(f"Plan #{plan.id} is closed already.", {"field": "state"})
    before = plan.state
    plan.state = PlanState.closed
    db.session.flush()
    audit.record("consumption_plan", plan.id, "close", before={"state": before}, after={"state": "closed"})
    return plan


@dataclass
class Impact:
    """What activating `plan` changes against its template's active version."""

    plan: ConsumptionPlan
    active: ConsumptionPlan | None
    active_planned: Decimal | None  # the active version's planned quantity, in `plan`'s unit
    delta: Decimal | None
    delta_ratio: float | None


def activation_impact(plan_id: int) -> Impact:
    plan = get_plan(plan_id)
    active = None
    if plan.template_id is not None:
        active = db.session.scalar(
            select(ConsumptionPlan).where(
                ConsumptionPlan.template_id == plan.template_id,
                ConsumptionPlan.state == PlanState.active,
                ConsumptionPlan.id != plan.id,
            )
        )
    if active is None:
        return Impact(plan, None, None, None, None)
    try:
        converted = active.planned_quantity * units.factor(active.unit, plan.unit)
    except InvalidInput:
        return Impact(plan, active, None, None, None)  # versions measured differently: nothing to compare
    delta = plan.planned_quantity - converted
    return Impact(plan, active, converted, delta, float(delta / converted) if converted else None)


def plans_query(
    item_id: int | None = None,
    state: str | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
    template_id: int | None = None,
    sort: str = "-period_start",
) -> Select:
    """Plans filtered by item, state and overlap with [period_from, period_to), sorted by `sort`
    (a PLAN_SORTS name, `-` first for descending)."""
    query = select(ConsumptionPlan).join(Item, Item.id == ConsumptionPlan.item_id)
    if item_id:
        query = query.where(ConsumptionPlan.item_id == item_id)
    if state:
        query = query.where(ConsumptionPlan.state == _choice(state, "state", PlanState))
    if period_from:
        query = query.where(ConsumptionPlan.period_end > day_start(period_from, "period_from"))
    if period_to:
        query = query.where(ConsumptionPlan.period_start < day_start(period_to, "period_to"))
    if template_id:
        query = query.where(ConsumptionPlan.template_id == template_id)
    name = sort.removeprefix("-")
    if name not in PLAN_SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}.", {"field": "sort", "allowed": sorted(PLAN_SORTS)})
    column = PLAN_SORTS[name]
    return query.order_by(column.desc() if sort.startswith("-") else column.asc(), ConsumptionPlan.id.desc())


def search_plans(page: int = 1, per_page: int = 25, **filters: Any) -> Page:
    return paginate(plans_query(**filters), page, per_page)


def get_template(key: str) -> ConsumptionTemplate:
    template = db.session.scalar(select(ConsumptionTemplate).where(ConsumptionTemplate.key == key))
    if template is None:
        raise NotFound(f"No template {key!r}.", {"template_key": key})
    return template


def search_templates(page: int = 1, per_page: int = 25) -> Page:
    return paginate(select(ConsumptionTemplate).order_by(ConsumptionTemplate.key), page, per_page)


# ---- actuals ---------------------------------------------------------------


RECORD_FIELDS = ("plan_id", "source_type", "source_id", "quantity", "unit", "recorded_at", "idempotency_key")


@dataclass
class Actual:
    """A checked actual, ready to write: the values of a ConsumptionRecord."""

    plan: ConsumptionPlan
    values: dict[str, Any]
    recorded_at_given: bool


def check_record(data: dict[str, Any]) -> Actual:
    """Validate one actual against its plan (which must be active) without writing anything."""
    raw_plan = data.get("plan_id")
    plan = db.session.get(ConsumptionPlan, int(raw_plan)) if str(raw_plan or "").strip().isdecimal() else None
    if plan is None:
        raise InvalidInput(f"No consumption plan with id {raw_plan}.", {"field": "plan_id"})
    if plan.state != PlanState.active:
        raise Conflict(
            f"Plan #{plan.id} is {plan.state}: only an active plan takes actuals.",
            {"field": "plan_id", "state": plan.state},
        )
    amount = quantity(data.get("quantity"), "quantity", positive=False)
    unit = units.normalize(data.get("unit") or plan.unit, "unit")
    factor = units.factor(unit, plan.unit, "unit")
    given = data.get("recorded_at") not in (None, "")
    source_id = str(data.get("source_id") or "").strip()
    key = str(data.get("idempotency_key") or "").strip() or None
    if len(source_id) > 80:
        raise InvalidInput("Source id is longer than 80 characters.", {"field": "source_id"})
    if key is not None and len(key) > 120:
        raise InvalidInput("Idempotency key is longer than 120 characters.", {"field": "idempotency_key"})
    values = {
        "plan_id": plan.id,
        "source_type": _choice(data.get("source_type") or SourceType.manual, "source_type", SourceType),
        "source_id": source_id,
        "quantity": amount,
        "unit": unit,
        "factor": float(factor),
        "plan_quantity": float(amount * factor),
        "recorded_at": moment(data["recorded_at"]) if given else utcnow(),
        "idempotency_key": key,
    }
    return Actual(plan, values, given)


def record_snapshot(record: ConsumptionRecord) -> dict[str, Any]:
    return {
        "plan_id": record.plan_id,
        "source_type": record.source_type,
        "source_id": record.source_id,
        "quantity": str(record.quantity),
        "unit": record.unit,
        "factor": record.factor,
        "plan_quantity": record.plan_quantity,
        "recorded_at": record.recorded_at.isoformat(),
        "idempotency_key": record.idempotency_key,
    }


def _same_payload(record: ConsumptionRecord, actual: Actual) -> bool:
    values = actual.values
    same = (
        all(getattr(record, name) == values[name] for name in ("plan_id", "source_type", "source_id", "unit"))
        and Decimal(record.quantity) == values["quantity"]
    )
    return same and (not actual.recorded_at_given or record.recorded_at == values["recorded_at"])


def _by_key(key: str) -> ConsumptionRecord | None:
    return db.session.scalar(select(ConsumptionRecord).where(ConsumptionRecord.idempotency_key == key))


def _replayed(existing: ConsumptionRecord, actual: Actual) -> ConsumptionRecord:
    if not _same_payload(existing, actual):
        raise Conflict(
            "This idempotency key was used for another actual.",
            {"field": "idempotency_key", "record_id": existing.id},
            code="idempotency_conflict",
        )
    return existing


def create_record(data: dict[str, Any], actor: str | None = None) -> tuple[ConsumptionRecord, bool]:
    """Write one actual; returns (record, created). The same idempotency key with the same payload
    gives back the first record (created False); with another payload it is a Conflict."""
    actual = check_record(data)
    key = actual.values["idempotency_key"]
    if key is not None and (existing := _by_key(key)) is not None:
        return _replayed(existing, actual), False
    record = ConsumptionRecord(**actual.values, created_by=actor or audit.current_actor())
    db.session.add(record)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # the same key written by a concurrent request meanwhile
        db.session.expunge(record)
        existing = _by_key(key) if key else None
        if existing is None:
            raise
        return _replayed(existing, actual), False
    audit.record("consumption_record", record.id, "create", after=record_snapshot(record))
    recorded([(actual.plan.id, actual.plan.item_id, record.source_type)])
    return record, True


def recorded(written: list[tuple[int, int, str]]) -> None:
    """After commit: count the actuals written (plan id, item id, source type each) and tell the
    pages of their plans and items."""
    by_source: dict[str, int] = {}
    for _, _, source in written:
        by_source[source] = by_source.get(source, 0) + 1

    def count() -> None:
        for source, n in by_source.items():
            metrics.CONSUMPTION_RECORDS.labels(source).inc(n)

    txn.on_commit(count)
    scopes = ["all", *sorted({f"item-{item}" for _, item, _ in written})]  # a plan's page listens to its item
    for scope in scopes:
        live.publish_on_commit(topic(scope), "actuals_recorded", {"count": len(written)})


def search_records(
    plan_id: int | None = None, source_type: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    query = select(ConsumptionRecord).order_by(ConsumptionRecord.recorded_at.desc(), ConsumptionRecord.id.desc())
    if plan_id:
        query = query.where(ConsumptionRecord.plan_id == plan_id)
    if source_type:
        query = query.where(ConsumptionRecord.source_type == _choice(source_type, "source_type", SourceType))
    return paginate(query, page, per_page)
