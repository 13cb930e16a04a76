"""Variance of plans: sums of actuals in SQL (a range scan of the plan/time index), never a
Python loop over records. Buckets are calendar periods in UTC (a week starts on Monday); the
plan's quantity is spread over its buckets in proportion to the time each covers."""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, literal_column, select

from app.consumption import service
from app.consumption.models import ConsumptionPlan, ConsumptionRecord, PeriodUnit
from app.core.paging import paginate
from app.core.timeutil import utcnow
from app.extensions import db

FINER = {PeriodUnit.day: "hour", PeriodUnit.week: "day", PeriodUnit.month: "day"}  # burn-up steps
MAX_BUCKETS = 400  # a daily plan over more than a year is shown by its first 400 days


@dataclass
class Variance:
    planned: float
    actual: float

    @property
    def delta(self) -> float:
        return self.actual - self.planned

    @property
    def delta_ratio(self) -> float | None:
        return self.delta / self.planned if self.planned else None

    def status(self, tolerance: float) -> str:
        """`ok` within ±tolerance, else `over` or `under`; `none` when there is no ratio."""
        ratio = self.delta_ratio
        if ratio is None:
            return "none"
        if abs(ratio) <= tolerance + 1e-12:
            return "ok"
        return "over" if ratio > 0 else "under"


@dataclass
class Bucket:
    start: datetime
    end: datetime
    variance: Variance


@dataclass
class BurnUp:
    """Cumulative actual through the current bucket, step by step, against its planned quantity."""

    bucket: Bucket
    steps: list[tuple[datetime, float | None]] = field(default_factory=list)  # None: still to come


def in_period(plan: Any = ConsumptionPlan) -> ColumnElement[bool]:
    return and_(
        ConsumptionRecord.plan_id == plan.id,
        ConsumptionRecord.recorded_at >= plan.period_start,
        ConsumptionRecord.recorded_at < plan.period_end,
    )


def actuals(plan_ids: list[int]) -> dict[int, float]:
    """Sum of actuals (in each plan's unit) within each plan's period, in one GROUP BY."""
    if not plan_ids:
        return {}
    rows = db.session.execute(
        select(ConsumptionPlan.id, func.coalesce(func.sum(ConsumptionRecord.plan_quantity), 0.0))
        .join(ConsumptionRecord, in_period())
        .where(ConsumptionPlan.id.in_(plan_ids))
        .group_by(ConsumptionPlan.id)
    ).all()
    return {plan_id: float(total) for plan_id, total in rows}


def of_plan(plan: ConsumptionPlan) -> Variance:
    return Variance(float(plan.planned_quantity), actuals([plan.id]).get(plan.id, 0.0))


def of_plans(plans: list[ConsumptionPlan]) -> dict[int, Variance]:
    sums = actuals([p.id for p in plans])
    return {p.id: Variance(float(p.planned_quantity), sums.get(p.id, 0.0)) for p in plans}


# ---- buckets ---------------------------------------------------------------


def floor(moment: datetime, unit: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == PeriodUnit.week:
        return day - timedelta(days=day.weekday())
    if unit == PeriodUnit.month:
        return day.replace(day=1)
    return day


def step(moment: datetime, unit: str) -> datetime:
    if unit == "hour":
        return moment + timedelta(hours=1)
    if unit == PeriodUnit.week:
        return moment + timedelta(weeks=1)
    if unit == PeriodUnit.month:
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment + timedelta(days=1)


def _key(moment: datetime, unit: str) -> str:
    return moment.strftime("%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d")


def bucket_key(column: Any, unit: str) -> ColumnElement[str]:
    """SQL for the start of `column`'s bucket as text, as _key() writes it (UTC on both databases)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # literals, not parameters: GROUP BY must repeat the select's expression exactly
        truncated = func.date_trunc(literal_column(f"'{unit}'"), func.timezone(literal_column("'UTC'"), column))
        return func.to_char(truncated, literal_column("'YYYY-MM-DD HH24'" if unit == "hour" else "'YYYY-MM-DD'"))
    # SQLite keeps UTC datetimes as 'YYYY-MM-DD HH:MM:SS...' text
    if unit == "hour":
        return func.strftime("%Y-%m-%d %H", column)
    if unit == PeriodUnit.week:
        return func.date(column, "weekday 0", "-6 days")  # the Monday on or before
    if unit == PeriodUnit.month:
        return func.strftime("%Y-%m-01", column)
    return func.date(column)


def _sums_by(plan: ConsumptionPlan, unit: str, start: datetime, end: datetime) -> dict[str, float]:
    key = bucket_key(ConsumptionRecord.recorded_at, unit).label("bucket")
    rows = db.session.execute(
        select(key, func.sum(ConsumptionRecord.plan_quantity))
        .where(
            ConsumptionRecord.plan_id == plan.id,
            ConsumptionRecord.recorded_at >= start,
            ConsumptionRecord.recorded_at < end,
        )
        .group_by(key)
    ).all()
    return {bucket: float(total or 0) for bucket, total in rows}


def bounds(plan: ConsumptionPlan) -> list[tuple[datetime, datetime]]:
    """The buckets of the plan's unit that its period touches, each clipped to the period."""
    spans = []
    cursor = floor(plan.period_start, plan.period_unit)
    while cursor < plan.period_end and len(spans) < MAX_BUCKETS:
        following = step(cursor, plan.period_unit)
        spans.append((max(cursor, plan.period_start), min(following, plan.period_end)))
        cursor = following
    return spans


def buckets(plan: ConsumptionPlan) -> list[Bucket]:
    spans = bounds(plan)
    sums = _sums_by(plan, plan.period_unit, plan.period_start, spans[-1][1])
    length = (plan.period_end - plan.period_start).total_seconds()
    planned = float(plan.planned_quantity)
    return [
        Bucket(
            start,
            end,
            Variance(
                planned * (end - start).total_seconds() / length,
                sums.get(_key(floor(start, plan.period_unit), plan.period_unit), 0.0),
            ),
        )
        for start, end in spans
    ]


def of_buckets(plan: ConsumptionPlan, spans: list[Bucket]) -> Variance:
    """The plan's variance from its buckets when they cover its whole period (the index scanned
    once, not twice); from its own sum when MAX_BUCKETS cut them short."""
    if spans and spans[-1].end >= plan.period_end:
        return Variance(float(plan.planned_quantity), math.fsum(b.variance.actual for b in spans))
    return of_plan(plan)


def current(plan: ConsumptionPlan, spans: list[Bucket], now: datetime | None = None) -> Bucket:
    """The bucket holding `now`; the first before the plan starts, the last once it ended."""
    now = now or utcnow()
    return next((b for b in spans if b.start <= now < b.end), spans[0] if now < spans[0].start else spans[-1])


def burn_up(plan: ConsumptionPlan, bucket: Bucket, now: datetime | None = None) -> BurnUp:
    now = now or utcnow()
    unit = FINER[PeriodUnit(plan.period_unit)]
    sums = _sums_by(plan, unit, bucket.start, bucket.end)
    result, total, cursor = BurnUp(bucket), 0.0, floor(bucket.start, unit)
    while cursor < bucket.end:
        total += sums.get(_key(cursor, unit), 0.0)
        following = step(cursor, unit)
        result.steps.append((min(following, bucket.end), total if cursor <= now else None))
        cursor = following
    return result


# ---- dashboard -------------------------------------------------------------


def tolerance(percent: float | None = None) -> float:
    """The tolerance as a fraction: `percent` / 100 when given, else CONSUMPTION_TOLERANCE."""
    if percent is not None:
        return percent / 100
    return float(current_app.config.get("CONSUMPTION_TOLERANCE", 0.05))


def table(item_id: int | None = None, state: str | None = None, page: int = 1, per_page: int = 25):
    """A page of plans (an item's, or every item's), newest period first, and their variances:
    (Page, {plan id: Variance}), with one aggregate query for the whole page."""
    plans = paginate(service.plans_query(item_id=item_id, state=state), page, per_page)
    return plans, of_plans(plans.items)
