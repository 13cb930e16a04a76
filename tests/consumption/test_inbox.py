"""The MES inbox: batch dispositions, bad batches, the drain on a real worker, retries, dead events and replay."""

import json

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from app.consumption import drain, inbox, service
from app.consumption.models import ConsumptionRecord, InboxBatch, InboxEvent, InboxState
from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.extensions import db
from tests.conftest import run_worker
from tests.consumption import factory
from tests.helpers import assert_error_shape

INBOX = "/api/v1/consumption/mes-inbox"


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _event(plan_id: int, n: int, **change) -> dict:
    return {
        "event_id": f"ev-{n}",
        "plan_id": plan_id,
        "quantity": "2",
        "unit": "pcs",
        "recorded_at": "2026-12-01T09:00:00Z",
        **change,
    }


def _records_counted(source: str = "mes") -> float:
    return REGISTRY.get_sample_value("consumption_records_total", {"source_type": source}) or 0.0


@pytest.fixture
def plans(app):
    active, draft = factory.plan(unit="ea"), factory.plan("DRAFT-1", active=False)
    db.session.commit()
    return active, draft


@pytest.mark.dialects  # bulk.py: unnest() INSERT ... ON CONFLICT on PostgreSQL
def test_a_batch_gets_a_disposition_per_event_and_only_accepted_ones_are_stored(client, bearer, plans):
    active, draft = plans
    events = [
        _event(active.id, 1),
        _event(active.id, 1),  # repeated in the batch
        _event(4242, 2),  # unknown plan
        _event(active.id, 3, quantity="NaN"),
        _event(active.id, 4, unit="kg"),  # another dimension than the plan's ea
        _event(draft.id, 5),
        _event(active.id, 6, recorded_at="2026-12-01T09:00:00"),  # no zone
        "not an object",
        _event(active.id, 7, quantity="-1"),
        _event(active.id, 8, unit="dozen"),
    ]
    response = client.post(INBOX, json={"events": events}, headers=bearer("operator"))
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert [d["disposition"] for d in body["dispositions"]] == ["accepted", "duplicate", *["rejected"] * 7, "accepted"]
    reasons = [d["reason"] or "" for d in body["dispositions"]]
    assert "plan_id" in reasons[2] and "quantity" in reasons[3] and "kg" in reasons[4] and "draft" in reasons[5]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 7) and body["job_id"]
    assert _count(InboxEvent) == 2
    again = client.post(
        INBOX, json={"events": [_event(active.id, 1), _event(active.id, 9)]}, headers=bearer("operator")
    )
    assert [d["disposition"] for d in again.get_json()["dispositions"]] == ["duplicate", "accepted"]
    audits = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "consumption_inbox_batch")).all()
    assert [a.after for a in audits] == [
        {"accepted": 2, "duplicate": 1, "rejected": 7},
        {"accepted": 1, "duplicate": 1, "rejected": 0},
    ]


def test_bad_batches_are_refused_whole_with_the_error_shape(client, bearer, plans):
    operator = bearer("operator")
    too_many = client.post(INBOX, json={"events": [{}] * 10_001}, headers=operator)
    malformed = client.post(INBOX, data=b'{"events": [', headers={**operator, "Content-Type": "application/json"})
    empty = client.post(INBOX, json={"events": []}, headers=operator)
    assert (too_many.status_code, malformed.status_code, empty.status_code) == (422, 422, 422)
    for response in (too_many, malformed, empty):
        assert_error_shape(response)
    assert "events" in json.dumps(too_many.get_json()["error"]["details"])
    assert malformed.get_json()["error"]["code"] == "invalid_json"
    assert _count(InboxEvent) == 0 and _count(InboxBatch) == 0


@pytest.mark.config(CONSUMPTION_INBOX_MAX_BYTES=2000)
def test_a_batch_over_the_body_limit_is_refused_before_it_is_read(client, bearer, plans):
    active, _ = plans
    big = client.post(INBOX, json={"events": [_event(active.id, n) for n in range(40)]}, headers=bearer("operator"))
    assert big.status_code == 413
    assert_error_shape(big)
    assert big.get_json()["error"]["details"]["field"] == "(body)"
    assert _count(InboxEvent) == 0 and _count(InboxBatch) == 0


@pytest.mark.dialects  # the drain's FOR UPDATE SKIP LOCKED and set-based INSERT ... SELECT
def test_a_real_worker_drains_the_inbox_into_actuals(app, client, bearer, plans):
    active, _ = plans
    counted = _records_counted()
    events = [_event(active.id, n, unit="dozen" if n % 2 else "ea") for n in range(25)]
    client.post(INBOX, json={"events": events}, headers=bearer("operator"))
    run_worker(app, ["default"])
    db.session.expire_all()
    assert _count(InboxEvent, InboxEvent.state == InboxState.done) == 25
    assert (
        db.session.scalar(select(func.sum(ConsumptionRecord.plan_quantity))) == 12 * 24 + 13 * 2
    )  # 12 odd events in dozen, 13 in ea
    assert _records_counted() - counted == 25
    job = db.session.scalar(select(JobRecord).where(JobRecord.kind == inbox.DRAIN_JOB))
    assert job.status == "finished" and job.queue == "default"
    scrape = client.get("/metrics").get_data(as_text=True)
    assert (
        'consumption_inbox_events{state="done"} 25.0' in scrape
        and 'consumption_inbox_events{state="dead"} 0.0' in scrape
    )


@pytest.mark.dialects  # SKIP LOCKED claims, executemany UPDATEs, date arithmetic of the back-off
@pytest.mark.config(CONSUMPTION_RETRY_SECONDS=0)
def test_a_failing_event_backs_off_dies_after_five_attempts_and_a_replay_counts_it_once(app, client, bearer, plans):
    active, _ = plans
    operator = bearer("operator")
    client.post(INBOX, json={"events": [_event(active.id, 1), _event(active.id, 2)]}, headers=operator)
    service.deactivate_plan(active.id)
    db.session.commit()
    for attempt in range(1, drain.MAX_ATTEMPTS + 1):
        drain.drain()
        states = db.session.execute(select(InboxEvent.state, InboxEvent.attempts)).all()
        assert set(states) == {("dead" if attempt == drain.MAX_ATTEMPTS else "pending", attempt)}
    dead = db.session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    assert "draft" in dead[0].last_error and _count(ConsumptionRecord) == 0
    assert client.post(f"{INBOX}/{dead[0].id}/replay", headers=bearer("viewer")).status_code == 403
    service.activate_plan(active.id)
    db.session.commit()
    replayed = client.post(f"{INBOX}/{dead[0].id}/replay", headers=operator)
    assert replayed.status_code == 200 and replayed.get_json()["state"] == "pending"
    run_worker(app, ["default"])
    assert client.post(f"{INBOX}/{dead[0].id}/replay", headers=operator).status_code == 409  # done: counted already
    assert client.post(f"{INBOX}/replay", headers=operator).get_json() == {"replayed": 1}
    run_worker(app, ["default"])
    db.session.expire_all()
    assert _count(InboxEvent, InboxEvent.state == InboxState.done) == 2 and _count(ConsumptionRecord) == 2
    # a done event forced back to pending (a crash between write and mark, say) is still counted once
    db.session.execute(update(InboxEvent).values(state=InboxState.pending))
    db.session.commit()
    drain.drain()
    assert _count(ConsumptionRecord) == 2 and _count(InboxEvent, InboxEvent.state == InboxState.done) == 2
    listed = client.get(f"{INBOX}?state=done", headers=operator).get_json()
    assert listed["counts"] == {"pending": 0, "done": 2, "dead": 0} and len(listed["events"]) == 2


def test_the_sweep_gives_due_events_a_drain_job_once(app, plans):
    active, _ = plans
    inbox.ingest([_event(active.id, 1)], actor="test")
    db.session.commit()
    assert inbox.sweep() == 0  # the batch's own drain job is still queued
    db.session.execute(update(JobRecord).values(status="finished"))
    db.session.commit()
    assert inbox.sweep() == 1
    db.session.commit()
    assert inbox.sweep() == 0
