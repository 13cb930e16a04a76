"""Plans, template versions, actuals with idempotency and unit conversion, variance in SQL, CSV import."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.consumption import csvio, service, units, variance
from app.consumption.models import ConsumptionPlan, ConsumptionRecord, PlanState
from app.core.audit.models import AuditEntry
from app.core.errors import Conflict, InvalidInput
from app.extensions import db
from tests.consumption import factory


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- plans -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_id": 999}, "item_id"),
        ({"planned_quantity": "-1"}, "planned_quantity"),
        ({"planned_quantity": "0"}, "planned_quantity"),
        ({"planned_quantity": "NaN"}, "planned_quantity"),
        ({"planned_quantity": "inf"}, "planned_quantity"),
        ({"period_end": "2026-11-29"}, "period_end"),
        ({"period_end": "2026-11-30"}, "period_end"),
        ({"unit": "furlong"}, "unit"),
        ({"period_unit": "year"}, "period_unit"),
    ],
)
def test_a_bad_plan_names_its_field_and_writes_nothing(app, change, field):
    item = factory.item()
    data = {"item_id": item.id, **factory.WEEK, "planned_quantity": "10", "unit": "kg", **change}
    with pytest.raises(InvalidInput) as refused:
        service.create_plan(data)
    assert refused.value.details["field"] == field
    db.session.rollback()
    assert _count(ConsumptionPlan) == 0


def test_a_closed_plan_is_read_only_and_takes_no_actuals(app):
    plan = factory.plan()
    service.close_plan(plan.id)
    with pytest.raises(Conflict):
        service.update_plan(plan.id, {"planned_quantity": "5"})
    with pytest.raises(Conflict) as refused:
        service.create_record({"plan_id": plan.id, "quantity": "1"})
    assert refused.value.details["field"] == "plan_id"


def test_a_draft_plan_takes_no_actuals(app):
    plan = factory.plan(active=False)
    with pytest.raises(Conflict):
        service.create_record({"plan_id": plan.id, "quantity": "1"})


def test_plans_filter_by_item_state_and_period_and_sort(app):
    a = factory.plan("A-1", quantity="5")
    b = factory.plan("B-1", quantity="9", active=False)
    later = service.create_plan(
        {
            "item_id": a.item_id,
            "period_start": "2027-01-04",
            "period_end": "2027-01-11",
            "planned_quantity": "1",
            "unit": "ea",
        }
    )
    assert [p.id for p in service.search_plans(item_id=a.item_id, sort="period_start").items] == [a.id, later.id]
    assert [p.id for p in service.search_plans(state="draft", sort="id").items] == [b.id, later.id]
    assert [p.id for p in service.search_plans(period_from="2027-01-01").items] == [later.id]
    assert [p.id for p in service.search_plans(sort="-planned_quantity").items] == [b.id, a.id, later.id]
    page = service.search_plans(page=2, per_page=2, sort="id")
    assert (page.total, [p.id for p in page.items]) == (3, [later.id])


# ---- templates -------------------------------------------------------------


def test_activating_a_version_deactivates_its_sibling_and_the_preview_shows_the_delta(app):
    v1 = factory.plan(quantity="700", template_key="weekly-PCB-200")
    v2 = factory.plan(quantity="0.84", unit="dozen", active=False, template_key="weekly-PCB-200")
    assert (v1.version, v2.version) == (1, 2)
    impact = service.activation_impact(v2.id)
    assert impact.active.id == v1.id
    assert impact.active_planned == Decimal("700") / 12  # v1's 700 ea in v2's unit
    assert impact.delta == Decimal("0.84") - Decimal("700") / 12
    service.activate_plan(v2.id)
    db.session.commit()
    assert (db.session.get(ConsumptionPlan, v1.id).state, db.session.get(ConsumptionPlan, v2.id).state) == (
        "draft",
        "active",
    )
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "consumption_plan")).all()
    assert actions.count("activate") == 2 and "deactivate" in actions


@pytest.mark.dialects
def test_two_concurrent_activations_leave_exactly_one_version_active(app, database_url):
    if "postgresql" not in database_url:
        pytest.skip("SQLite runs one writer at a time: the race is PostgreSQL's")
    versions = [factory.plan(quantity=str(n), active=False, template_key="race") for n in (1, 2, 3)]
    service.activate_plan(versions[0].id)
    db.session.commit()
    ids = [versions[1].id, versions[2].id]
    start, errors = threading.Barrier(2), []

    def activate(plan_id: int) -> None:
        with app.app_context():
            try:
                start.wait()
                service.activate_plan(plan_id)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=activate, args=(plan_id,)) for plan_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    db.session.expire_all()
    active = db.session.scalars(select(ConsumptionPlan.id).where(ConsumptionPlan.state == PlanState.active)).all()
    assert errors == [] and len(active) == 1 and active[0] in ids


# ---- actuals ---------------------------------------------------------------


def test_units_convert_within_a_dimension_and_refuse_across(app):
    assert units.factor("g", "kg") == Decimal("0.001")
    assert units.factor("dozen", "pcs") == 12
    assert units.factor("lb", "oz") == Decimal(16)
    with pytest.raises(InvalidInput) as refused:
        units.factor("kg", "m")
    assert refused.value.details == {"field": "unit", "unit": "kg", "plan_unit": "m"}
    assert "kg" in refused.value.message and "m" in refused.value.message


def test_an_actual_keeps_its_conversion_and_refuses_another_dimension(app):
    plan = factory.plan(quantity="2", unit="kg")
    record = factory.record(plan.id, "250", "g")
    assert (record.unit, record.factor, record.plan_quantity) == ("g", 0.001, 0.25)
    with pytest.raises(InvalidInput) as refused:
        service.create_record({"plan_id": plan.id, "quantity": "1", "unit": "l"})
    assert refused.value.code == "unit_mismatch"
    for bad in ("-1", "NaN", "1e999999"):
        with pytest.raises(InvalidInput):
            service.create_record({"plan_id": plan.id, "quantity": bad})


def test_the_same_idempotency_key_gives_the_first_record_or_a_conflict(app):
    plan = factory.plan()
    first, created = service.create_record({"plan_id": plan.id, "quantity": "3", "idempotency_key": "k-1"})
    again, created_again = service.create_record({"plan_id": plan.id, "quantity": "3.000", "idempotency_key": "k-1"})
    assert (created, created_again, again.id) == (True, False, first.id)
    with pytest.raises(Conflict) as refused:
        service.create_record({"plan_id": plan.id, "quantity": "4", "idempotency_key": "k-1"})
    assert refused.value.details["field"] == "idempotency_key"
    assert _count(ConsumptionRecord) == 1


# ---- variance --------------------------------------------------------------


@pytest.mark.dialects
def test_variance_sums_the_period_in_the_plans_unit_by_bucket(app):
    plan = factory.plan(quantity="7", unit="kg")  # a day unit over one week: 1 kg a day
    factory.record(plan.id, "500", "g", day=0)
    factory.record(plan.id, "1", "kg", day=0)
    factory.record(plan.id, "2", "lb", day=3)
    factory.record(plan.id, "9", "kg", day=7)  # the period's end is exclusive: not counted
    factory.record(plan.id, "9", "kg", day=-1)  # before it starts
    db.session.commit()
    total = variance.of_plan(plan)
    assert total.actual == pytest.approx(1.5 + 2 * 0.45359237)
    assert total.delta_ratio == pytest.approx((total.actual - 7) / 7)
    spans = variance.buckets(plan)
    assert len(spans) == 7 and all(b.variance.planned == pytest.approx(1) for b in spans)
    assert [round(b.variance.actual, 4) for b in spans] == [1.5, 0, 0, 0.9072, 0, 0, 0]
    assert spans[0].variance.status(0.05) == "over" and spans[1].variance.status(0.05) == "under"
    assert variance.of_buckets(plan, spans).actual == pytest.approx(total.actual)  # one scan, same sum


def test_a_plan_with_more_buckets_than_shown_sums_its_whole_period(app):
    plan = factory.plan(quantity="10", period_start="2025-10-01", period_end="2026-12-07")  # 432 days
    factory.record(plan.id, "2", day=-420)  # 2025-10-06: in the first buckets
    factory.record(plan.id, "3", day=0)  # 2026-11-30: past the MAX_BUCKETS shown
    db.session.commit()
    spans = variance.buckets(plan)
    assert len(spans) == variance.MAX_BUCKETS and sum(b.variance.actual for b in spans) == 2
    assert variance.of_buckets(plan, spans).actual == variance.of_plan(plan).actual == 5


@pytest.mark.dialects
def test_weekly_and_monthly_buckets_follow_the_calendar(app):
    plan = factory.plan(quantity="10", period_unit="week", period_start="2026-11-25", period_end="2026-12-09")
    factory.record(plan.id, "1", day=-1)  # Sunday 11-29: the week of Monday 11-23
    factory.record(plan.id, "2", day=0)  # Monday 11-30
    factory.record(plan.id, "4", day=8)  # Tuesday 12-08
    db.session.commit()
    spans = variance.buckets(plan)
    assert [b.start.date().isoformat() for b in spans] == ["2026-11-25", "2026-11-30", "2026-12-07"]
    assert [b.variance.actual for b in spans] == [1, 2, 4]
    assert sum(b.variance.planned for b in spans) == pytest.approx(10)
    monthly = factory.plan("M-1", quantity="3", period_unit="month", period_start="2026-11-15", period_end="2027-01-10")
    factory.record(monthly.id, "5", day=1)
    db.session.commit()
    assert [(b.start.month, b.variance.actual) for b in variance.buckets(monthly)] == [(11, 0), (12, 5), (1, 0)]


def test_the_burn_up_accumulates_the_current_bucket(app):
    plan = factory.plan(quantity="7")
    factory.record(plan.id, "2", day=2)
    factory.record(plan.id, "3", day=2)
    spans = variance.buckets(plan)
    bucket = variance.current(plan, spans, now=factory.at(2, 18))
    chart = variance.burn_up(plan, bucket, now=factory.at(2, 18))
    assert bucket.start == factory.at(2, 0)
    reached = [value for _, value in chart.steps]
    assert reached[9] == 0 and reached[10] == 5 and reached[18] == 5 and reached[19] is None


# ---- CSV -------------------------------------------------------------------


def test_a_csv_with_a_bad_row_saves_nothing_and_names_the_line(app):
    plan = factory.plan(unit="kg")
    closed = factory.plan("OTHER", unit="kg")
    service.close_plan(closed.id)
    db.session.commit()
    text = (
        "plan_id,quantity,unit,recorded_at,idempotency_key\n"
        f"{plan.id},1,kg,2026-12-01T10:00:00Z,a\n"
        f"{plan.id},-2,kg,,b\n"
        f"{plan.id},3,m,,c\n"
        f"{closed.id},1,kg,,d\n"
        f"{plan.id},1,g,,a\n"
    )
    check, written = csvio.import_records(text)
    db.session.rollback()
    assert written == 0 and not check.ok
    assert {row.number: bool(row.error) for row in check.rows} == {2: False, 3: True, 4: True, 5: True, 6: True}
    assert "line 2" in check.rows[-1].error
    assert _count(ConsumptionRecord) == 0
    good = f"plan_id,quantity,unit\n{plan.id},1,kg\n{plan.id},500,g\n"
    check, written = csvio.import_records(good)
    assert check.ok and written == 2
    assert _count(ConsumptionRecord) == 2
