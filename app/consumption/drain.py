"""The MES inbox, worker side: claim due events in batches, write their actuals with one
insert per batch, and retry the ones that fail with backoff until they are dead.

Part of the job (app/consumption/jobs.py): it commits after each batch, so a drain that dies
loses at most the batch it held (its rows were locked, not changed, and are due again).
An event counts once whatever happens: its actual carries its id, unique in the table."""

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, text, update

from app.consumption import service, units
from app.consumption.models import ConsumptionPlan, ConsumptionRecord, InboxEvent, InboxState, PlanState
from app.core import audit, bulk
from app.core.auth.roles import SYSTEM
from app.core.timeutil import utcnow
from app.engine.heap import long_lived_objects_frozen
from app.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BATCH = 2_000


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: CONSUMPTION_RETRY_SECONDS, doubled per attempt."""
    base = float(current_app.config.get("CONSUMPTION_RETRY_SECONDS", 5))
    return timedelta(seconds=base * 2 ** (attempts - 1))


def claim(limit: int, due_by: datetime) -> list[Any]:
    """Pending events due by `due_by`, the longest due first (in the order of the due index, so
    nothing is sorted); on PostgreSQL locked until commit and skipped by other drains (SQLite
    runs one writer at a time anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # the table's statistics lag its growth (10,000 events arrive in a second): planning for a
        # few dozen pending rows, PostgreSQL would fetch and sort every one of them for each claim
        db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    return list(
        db.session.execute(
            select(
                InboxEvent.id,
                InboxEvent.plan_id,
                InboxEvent.source_type,
                InboxEvent.source_id,
                InboxEvent.quantity,
                InboxEvent.unit,
                InboxEvent.recorded_at,
                InboxEvent.attempts,
            )
            .where(InboxEvent.state == InboxState.pending, InboxEvent.next_attempt_at <= due_by)
            .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def _failures(rows: list[Any], errors: dict[int, str]) -> list[dict[str, Any]]:
    now = utcnow()
    changes = []
    for row in rows:
        if row.id not in errors:
            continue
        attempts = row.attempts + 1
        dead = attempts >= MAX_ATTEMPTS
        changes.append(
            {
                "id": row.id,
                "attempts": attempts,
                "state": InboxState.dead if dead else InboxState.pending,
                "next_attempt_at": now if dead else now + backoff(attempts),
                "last_error": errors[row.id][:2000],
            }
        )
    return changes


def process(rows: list[Any]) -> dict[str, int]:
    """Turn claimed events into actuals (the caller commits)."""
    plan_ids = sorted({row.plan_id for row in rows})
    plans = {
        plan.id: plan
        for plan in db.session.execute(
            select(ConsumptionPlan.id, ConsumptionPlan.state, ConsumptionPlan.unit, ConsumptionPlan.item_id).where(
                bulk.among(ConsumptionPlan.id, plan_ids)
            )
        )
    }
    already = set(
        db.session.scalars(
            select(ConsumptionRecord.inbox_event_id).where(
                bulk.among(ConsumptionRecord.inbox_event_id, [r.id for r in rows])
            )
        )
    )
    now, records, errors, done = utcnow(), [], {}, []
    for row in rows:
        plan = plans.get(row.plan_id)
        if row.id in already:  # written before, whatever its row said: never a second time
            done.append(row.id)
            continue
        if plan is None:
            errors[row.id] = f"no consumption plan {row.plan_id}"
            continue
        if plan.state != PlanState.active:
            errors[row.id] = f"plan {plan.id} is {plan.state}: only an active plan takes actuals"
            continue
        try:
            factor = units.factor(row.unit, plan.unit)
        except Exception as exc:  # noqa: BLE001 - InvalidInput: the plan's unit changed meanwhile
            errors[row.id] = getattr(exc, "message", str(exc))
            continue
        records.append(
            {
                "plan_id": plan.id,
                "source_type": row.source_type,
                "source_id": row.source_id,
                "quantity": row.quantity,
                "unit": row.unit,
                "factor": float(factor),
                "plan_quantity": float(row.quantity * factor),
                "recorded_at": row.recorded_at,
                "inbox_event_id": row.id,
                "created_by": SYSTEM,
                "created_at": now,
            }
        )
        done.append(row.id)
    if records:
        bulk.insert_rows(ConsumptionRecord.__table__, records)
    if done:
        db.session.execute(
            update(InboxEvent)
            .where(bulk.among(InboxEvent.id, done))
            .values(state=InboxState.done, processed_at=now, attempts=InboxEvent.attempts + 1, last_error=None)
        )
    changes = _failures(rows, errors)
    if changes:
        db.session.execute(update(InboxEvent), changes)
    dead = sum(1 for change in changes if change["state"] == InboxState.dead)
    summary = {"events": len(rows), "records": len(records), "retrying": len(changes) - dead, "dead": dead}
    audit.record("consumption_inbox", "drain", "process", after=summary)
    service.recorded([(r["plan_id"], plans[r["plan_id"]].item_id, r["source_type"]) for r in records])
    return summary


def fail_batch(rows: list[Any], error: str) -> None:
    """A batch whose write failed as a whole: each of its events has had an attempt."""
    changes = _failures(rows, {row.id: error for row in rows})
    db.session.execute(update(InboxEvent), changes)
    audit.record("consumption_inbox", "drain", "batch_failed", after={"events": len(rows), "error": error[:500]})


def drain(batch_size: int = BATCH) -> dict[str, int]:
    """Process the events due when it starts, batch by batch; commits after each batch. An event
    that fails here is due again later (its backoff), for the next drain: never twice in one."""
    totals = {"batches": 0, "events": 0, "records": 0, "retrying": 0, "dead": 0}
    started = utcnow()
    with long_lived_objects_frozen():  # a batch allocates per event: keep full GC passes off the app's heap
        while rows := claim(batch_size, started):
            _drain_batch(rows, totals)
    return totals


def _drain_batch(rows: list[Any], totals: dict[str, int]) -> None:
    try:
        summary = process(rows)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("inbox batch of %d events failed", len(rows))
        fail_batch(rows, f"{exc.__class__.__name__}: {exc}")
        db.session.commit()
        raise
    totals["batches"] += 1
    for key, value in summary.items():
        totals[key] += value
