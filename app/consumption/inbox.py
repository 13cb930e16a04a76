"""The MES inbox, web side: a batch of events is checked and stored at once (set-based, the
event id unique), answered with a disposition per event, and drained into actuals by a job
on `default` (app/consumption/drain.py). Dead events are replayed from here."""

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update

from app.consumption import units
from app.consumption.models import ConsumptionPlan, Disposition, InboxBatch, InboxEvent, InboxState, PlanState
from app.consumption.schemas import MesEventIn
from app.core import audit, bulk, metrics
from app.core.errors import Conflict
from app.core.jobs import enqueue
from app.core.jobs.models import JobRecord, JobState
from app.core.paging import Page, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.extensions import db

MAX_EVENTS = 10_000
DRAIN_JOB = "consumption_inbox"
LOOKUP_CHUNK = 5_000  # ids per IN (...): well under SQLite's bound-parameter limit


@dataclass
class Outcome:
    index: int
    event_id: str | None
    disposition: Disposition
    reason: str | None = None


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_context=False)
    )


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert_new(batch_id: int, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose event key is new, set-based: a key stored before (by an earlier or a
    concurrent batch) is skipped, not an error. Returns the keys inserted (the batch's rows): the
    others are duplicates, told without a lookup of their own."""
    bulk.insert_rows(InboxEvent.__table__, rows, skip_conflicts_on="event_key")
    return set(db.session.scalars(select(InboxEvent.event_key).where(InboxEvent.batch_id == batch_id)))


def ingest(events: list[Any], actor: str | None = None) -> tuple[InboxBatch, list[Outcome]]:
    """Store the acceptable events of a batch and enqueue their drain; rejected and duplicate
    ones are reported, not written. One audit row for the batch."""
    outcomes: list[Outcome] = []
    parsed: list[tuple[int, MesEventIn]] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        event_id = raw.get("event_id") if isinstance(raw, dict) and isinstance(raw.get("event_id"), str) else None
        try:
            event = MesEventIn.model_validate(raw)
        except ValidationError as exc:
            outcomes.append(Outcome(index, event_id, Disposition.rejected, _reason(exc)))
            continue
        if event.event_id in seen:
            outcomes.append(Outcome(index, event.event_id, Disposition.duplicate, "repeated in this batch"))
            continue
        seen.add(event.event_id)
        parsed.append((index, event))

    plans = {
        plan_id: (state, unit)
        for chunk in _chunks(sorted({e.plan_id for _, e in parsed}))
        for plan_id, state, unit in db.session.execute(
            select(ConsumptionPlan.id, ConsumptionPlan.state, ConsumptionPlan.unit).where(
                bulk.among(ConsumptionPlan.id, chunk)
            )
        )
    }
    batch = InboxBatch(actor=actor or audit.current_actor())
    db.session.add(batch)
    db.session.flush()
    now = utcnow()
    rows, candidates = [], []
    for index, event in parsed:
        reason = _refusal(event, plans)
        if reason:
            outcomes.append(Outcome(index, event.event_id, Disposition.rejected, reason))
        else:
            candidates.append((index, event))
            rows.append(
                {
                    "batch_id": batch.id,
                    "event_key": event.event_id,
                    "plan_id": event.plan_id,
                    "source_type": event.source_type,
                    "source_id": event.source_id,
                    "quantity": event.quantity,
                    "unit": units.normalize(event.unit),
                    "recorded_at": event.recorded_at,
                    "state": InboxState.pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "received_at": now,
                }
            )
    inserted = _insert_new(batch.id, rows) if rows else set()
    for index, event in candidates:
        if event.event_id in inserted:
            outcomes.append(Outcome(index, event.event_id, Disposition.accepted))
        else:
            outcomes.append(Outcome(index, event.event_id, Disposition.duplicate, "already received"))
    outcomes.sort(key=lambda o: o.index)
    counts = {d: sum(1 for o in outcomes if o.disposition == d) for d in Disposition}
    batch.accepted, batch.duplicate, batch.rejected = (counts[d] for d in Disposition)
    if batch.accepted:
        batch.job_id = _drain_later(("consumption_inbox_batch", batch.id))
    audit.record("consumption_inbox_batch", batch.id, "ingest", after={d.value: counts[d] for d in Disposition})
    return batch, outcomes


def _refusal(event: MesEventIn, plans: dict[int, tuple[str, str]]) -> str | None:
    if event.plan_id not in plans:
        return f"plan_id: no consumption plan {event.plan_id}"
    state, plan_unit = plans[event.plan_id]
    if state != PlanState.active:
        return f"plan_id: plan {event.plan_id} is {state}, only an active plan takes actuals"
    try:
        units.factor(event.unit, plan_unit)
    except Exception as exc:  # noqa: BLE001 - InvalidInput, said per event
        return f"unit: {getattr(exc, 'message', exc)}"
    return None


def _drain_later(link: tuple[str, Any] | None = None) -> str:
    return enqueue(DRAIN_JOB, "app.consumption.jobs.drain_inbox", queue="default", link=link, timeout=3600).id


def get_event(event_id: int) -> InboxEvent:
    return get_or_404(InboxEvent, event_id, "inbox event")


def search_events(state: str | None = None, batch_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    query = select(InboxEvent).order_by(InboxEvent.id.desc())
    if state:
        query = query.where(InboxEvent.state == InboxState(state))
    if batch_id:
        query = query.where(InboxEvent.batch_id == batch_id)
    return paginate(query, page, per_page)


def counts() -> dict[str, int]:
    rows = dict(db.session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all())
    return {state.value: int(rows.get(state.value, 0)) for state in InboxState}


def replay(event_id: int) -> InboxEvent:
    """A dead event goes back to pending; a done one is never replayed (it was counted)."""
    event = get_event(event_id)
    if event.state != InboxState.dead:
        raise Conflict(
            f"Event {event.event_key!r} is {event.state}: only a dead event is replayed.", {"field": "state"}
        )
    before = {"state": event.state, "attempts": event.attempts, "last_error": event.last_error}
    event.state, event.attempts, event.next_attempt_at = InboxState.pending, 0, utcnow()
    db.session.flush()
    audit.record("consumption_inbox_event", event.id, "replay", before=before, after={"state": "pending"})
    _drain_later()
    return event


def replay_dead() -> int:
    """Every dead event back to pending, in one statement; one audit row with the count."""
    replayed = db.session.execute(
        update(InboxEvent)
        .where(InboxEvent.state == InboxState.dead)
        .values(state=InboxState.pending, attempts=0, next_attempt_at=utcnow())
    ).rowcount
    if replayed:
        audit.record("consumption_inbox", "dead", "replay_all", after={"replayed": replayed})
        _drain_later()
    return replayed


def sweep() -> int:
    """The sweeper's hook: due events (retries whose backoff has passed, a drain job that died)
    get a drain job when none is waiting or running."""
    due = db.session.scalar(
        select(InboxEvent.id)
        .where(InboxEvent.state == InboxState.pending, InboxEvent.next_attempt_at <= utcnow())
        .limit(1)
    )
    if due is None:
        return 0
    waiting = db.session.scalar(
        select(JobRecord.id)
        .where(JobRecord.kind == DRAIN_JOB, JobRecord.status.in_((JobState.queued, JobState.started)))
        .limit(1)
    )
    if waiting is not None:
        return 0
    _drain_later()
    return 1


@metrics.scrape_gauge("consumption_inbox_events", "MES inbox events by state", ("state",))
def _inbox_gauge():
    return counts().items()
