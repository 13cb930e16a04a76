"""Consumption figures for the parallel-ops overview, computed in SQL (docs/ops.md states each
in words): templates with no active version and dead inbox events are states (now); plans out
of tolerance are over the window, by the end of their period."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select

from app.consumption import variance
from app.consumption.models import (
    ConsumptionPlan,
    ConsumptionRecord,
    ConsumptionTemplate,
    InboxEvent,
    InboxState,
    PlanState,
)
from app.core.rates import ratio
from app.extensions import db

ENDED_PLANS = (PlanState.active, PlanState.closed)  # a draft never took an actual


def templates_without_active() -> int:
    """Templates none of whose versions is active now (nothing takes their actuals)."""
    active = exists().where(
        ConsumptionPlan.template_id == ConsumptionTemplate.id, ConsumptionPlan.state == PlanState.active
    )
    return db.session.scalar(select(func.count()).select_from(ConsumptionTemplate).where(~active))


def inbox_dead() -> int:
    """MES inbox events dead now (MAX_ATTEMPTS failures, waiting for a replay)."""
    return db.session.scalar(select(func.count()).where(InboxEvent.state == InboxState.dead))


def plans_out_of_tolerance(start: datetime, end: datetime, tolerance: float | None = None) -> dict[str, Any]:
    """Active or closed plans whose period ended in [start, end): how many, and how many of them
    ended with |actual - planned| / planned above the tolerance (CONSUMPTION_TOLERANCE by
    default), the variance page's own rule. One grouped query over the plan/time index."""
    tol = variance.tolerance() if tolerance is None else tolerance
    actual = (
        select(func.coalesce(func.sum(ConsumptionRecord.plan_quantity), 0.0))
        .where(variance.in_period())
        .scalar_subquery()
    )
    ended = and_(
        ConsumptionPlan.period_end >= start,
        ConsumptionPlan.period_end < end,
        ConsumptionPlan.state.in_(ENDED_PLANS),
    )
    planned = ConsumptionPlan.planned_quantity
    # the same epsilon as Variance.status: exactly at the tolerance is within it
    out = func.abs(actual - planned) > (tol + 1e-12) * planned
    rows = db.session.execute(select(out.label("out"), func.count()).where(ended).group_by("out")).all()
    counted = {bool(o): n for o, n in rows}
    total = sum(counted.values())
    return {"ended": total, "out": counted.get(True, 0), "rate": ratio(counted.get(True, 0), total)}


def consumption(start: datetime, end: datetime) -> dict[str, Any]:
    plans = plans_out_of_tolerance(start, end)
    return {
        "templates_without_active": templates_without_active(),
        "inbox_dead": inbox_dead(),
        "plans_ended": plans["ended"],
        "plans_out_of_tolerance": plans["out"],
        "out_of_tolerance_rate": plans["rate"],
    }
