"""Helpdesk sync against a real local HTTP helpdesk: the endpoint (URL checks, secrets never
shown, health), sends through RQ with Retry (fail, timeout, recover: exactly one ticket),
permanent failures at once, dead sends and the breaker, replay, the sweep, and the signed webhook."""

import json
import time

import pytest
from sqlalchemy import func, select

from app.breakages import helpdesk, sender
from app.breakages.models import HelpdeskStatus, Incident
from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.extensions import db
from tests.breakages import factory
from tests.breakages.conftest import TOKEN, WEBHOOK_SECRET
from tests.conftest import run_worker, wait_for

API = "/api/v1/breakages"
FAST = {"HELPDESK_RETRY_INTERVALS": [0, 0, 0], "HELPDESK_HTTP_TIMEOUT": 0.5, "HELPDESK_ALLOWED_HOSTS": ["127.0.0.1"]}


def _send(client, headers, incident_id):
    answer = client.post(f"{API}/{incident_id}/helpdesk-sync", headers=headers)
    assert answer.status_code == 202, answer.json
    return answer.json


def _reload(incident_id) -> Incident:
    db.session.expire_all()
    return db.session.get(Incident, incident_id)


def test_endpoint_urls_secrets_and_health(app, client, bearer, fake_helpdesk):
    operator = bearer("operator")
    bad = client.post(
        f"{API}/helpdesk/endpoint", json={"name": "hd", "base_url": "file:///etc/passwd"}, headers=operator
    )
    assert bad.status_code == 422 and bad.json["error"]["details"]["field"] == "base_url"
    assert (
        client.post(
            f"{API}/helpdesk/endpoint", json={"name": "hd", "base_url": fake_helpdesk.url}, headers=bearer("engineer")
        ).status_code
        == 403
    )
    made = client.post(
        f"{API}/helpdesk/endpoint",
        json={"name": "hd", "base_url": fake_helpdesk.url, "token": TOKEN, "webhook_secret": WEBHOOK_SECRET},
        headers=operator,
    )
    assert made.status_code == 201 and made.json["has_token"] and made.json["has_webhook_secret"]
    health = client.post(f"{API}/helpdesk/endpoint/{made.json['id']}/health", headers=operator)
    assert health.json["status"] == "up" and health.json["latency_ms"] is not None
    moved = client.patch(
        f"{API}/helpdesk/endpoint/{made.json['id']}", json={"base_url": "https://helpdesk-b.example"}, headers=operator
    )
    assert moved.json["has_token"] is False  # a new host gets no old token
    shown = [client.get(f"{API}/helpdesk/endpoint", headers=operator).get_data(as_text=True)]
    shown += [str((e.before, e.after)) for e in db.session.query(AuditEntry)]
    assert all(TOKEN not in text and WEBHOOK_SECRET not in text for text in shown)


@pytest.mark.config(**FAST)
def test_fail_timeout_recover_gives_exactly_one_ticket(app, client, bearer, helpdesk_endpoint, fake_helpdesk):
    fake_helpdesk.reset(503, "slow")  # then ok
    made = factory.incident()
    engineer = bearer("engineer")
    sent = _send(client, engineer, made.id)
    assert sent["helpdesk_status"] == "queued"
    assert (
        _send(client, engineer, made.id)["helpdesk_job_id"] == sent["helpdesk_job_id"]
    )  # queued already: no second job
    run_worker(app, queues=("sync",))
    incident = _reload(made.id)
    assert incident.helpdesk_status == HelpdeskStatus.sent and incident.helpdesk_attempts == 3
    assert [c["step"] for c in fake_helpdesk.calls] == [503, "slow", "ok"]
    assert {c["key"] for c in fake_helpdesk.calls} == {incident.helpdesk_key}
    assert len(fake_helpdesk.tickets) == 1 and incident.ticket_id == "HD-1"
    history = [e.to_value for e in db.session.scalars(incident_events(made.id))]
    assert history.count("queued") == 3 and history[-1] == "sent"
    assert db.session.get(JobRecord, sent["helpdesk_job_id"]).status == "finished"
    again = _send(client, engineer, made.id)  # sent: nothing new
    assert again["helpdesk_status"] == "sent" and again["helpdesk_job_id"] == sent["helpdesk_job_id"]


def incident_events(incident_id):
    from app.breakages.models import IncidentEvent

    return (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "helpdesk")
        .order_by(IncidentEvent.id)
    )


@pytest.mark.config(**FAST)
def test_a_permanent_refusal_fails_at_once_and_is_replayed(app, client, bearer, helpdesk_endpoint, fake_helpdesk):
    fake_helpdesk.reset(422)
    made = factory.incident()
    engineer = bearer("engineer")
    first = _send(client, engineer, made.id)
    run_worker(app, queues=("sync",))
    incident = _reload(made.id)
    assert (incident.helpdesk_status, incident.helpdesk_error_category, incident.helpdesk_attempts) == (
        "failed",
        "invalid",
        1,
    )
    assert db.session.get(JobRecord, first["helpdesk_job_id"]).status == "failed"
    failures = client.get(f"{API}/helpdesk/failures", headers=engineer).json
    assert [i["code"] for i in failures["incidents"]] == [made.code]
    replayed = client.post(f"{API}/{made.id}/helpdesk-sync/replay", headers=engineer)
    assert replayed.status_code == 202
    run_worker(app, queues=("sync",))
    assert _reload(made.id).helpdesk_status == "sent" and len(fake_helpdesk.tickets) == 1
    assert client.post(f"{API}/{made.id}/helpdesk-sync/replay", headers=engineer).status_code == 409


@pytest.mark.config(**FAST, HELPDESK_BREAKER_THRESHOLD=4)
def test_transient_failures_end_dead_and_open_the_breaker(app, client, bearer, helpdesk_endpoint, fake_helpdesk):
    fake_helpdesk.reset(*([500] * 4))
    engineer = bearer("engineer")
    bom = factory.product()
    first, second = factory.incident(bom), factory.incident(bom)
    _send(client, engineer, first.id)
    run_worker(app, queues=("sync",))
    assert (_reload(first.id).helpdesk_status, _reload(first.id).helpdesk_error_category) == ("dead", "http_500")
    assert len(fake_helpdesk.calls) == 4  # one try and three retries
    endpoint = helpdesk.configured()
    assert endpoint.failures == 4 and endpoint.breaker_open_until is not None
    _send(client, engineer, second.id)
    run_worker(app, queues=("sync",))
    assert _reload(second.id).helpdesk_error_category == "circuit_open" and len(fake_helpdesk.calls) == 4


def test_send_needs_an_endpoint_and_the_sweep_closes_lost_sends(app, client, bearer, fake_helpdesk):
    engineer = bearer("engineer")
    made = factory.incident()
    refused = client.post(f"{API}/{made.id}/helpdesk-sync", headers=engineer)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_helpdesk"
    helpdesk.create_endpoint("hd", fake_helpdesk.url, TOKEN)
    db.session.commit()
    job_id = _send(client, engineer, made.id)["helpdesk_job_id"]
    db.session.get(JobRecord, job_id).status = "lost"
    db.session.commit()
    assert sender.sweep() == 1
    db.session.commit()
    assert _reload(made.id).helpdesk_status == "dead"


def _webhook(client, body: dict, secret: str = WEBHOOK_SECRET, signature: str | None = None):
    raw = json.dumps(body).encode()
    header = signature or helpdesk.sign(secret, raw)
    return client.post(
        f"{API}/helpdesk/webhook",
        data=raw,
        headers={"Content-Type": "application/json", helpdesk.SIGNATURE_HEADER: header},
    )


@pytest.mark.config(**FAST)
def test_signed_webhook_updates_the_ticket_once(app, client, bearer, helpdesk_endpoint, fake_helpdesk):
    made = factory.incident()
    _send(client, bearer("engineer"), made.id)
    run_worker(app, queues=("sync",))
    event = {
        "event_id": "ev-1",
        "timestamp": int(time.time()),
        "ticket_id": "HD-1",
        "status": "triaged",
        "triage": {"team": "field"},
    }
    assert _webhook(client, event, secret="wrong-secret").status_code == 401
    assert _webhook(client, {**event, "timestamp": int(time.time()) - 3600}).status_code == 401
    assert _reload(made.id).ticket_status is None  # nothing changed
    applied = _webhook(client, event)
    assert applied.status_code == 200, applied.json
    incident = _reload(made.id)
    assert (incident.ticket_status, incident.ticket_triage) == ("triaged", {"team": "field"})
    replay = _webhook(client, {**event, "status": "closed"})
    assert replay.status_code == 409 and replay.json["error"]["code"] == "replayed_event"
    assert _reload(made.id).ticket_status == "triaged"
    stale = _webhook(client, {**event, "event_id": "ev-2", "timestamp": int(time.time()) - 3600})
    assert stale.json["error"]["code"] == "stale_timestamp"
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "ticket_update")) == 1
    )


def test_a_real_worker_sends_with_retry_backoff(app, client, bearer, fake_helpdesk, helpdesk_worker_env, start_workers):
    fake_helpdesk.reset(503)
    helpdesk.create_endpoint("hd", fake_helpdesk.url, TOKEN)
    db.session.commit()
    made = factory.incident()
    start_workers(1, queues="sync")
    _send(client, bearer("engineer"), made.id)
    wait_for(lambda: _reload(made.id).helpdesk_status == "sent", timeout=30)
    assert [c["step"] for c in fake_helpdesk.calls] == [503, "ok"] and len(fake_helpdesk.tickets) == 1


@pytest.fixture
def helpdesk_worker_env(app, monkeypatch):
    """What the worker process reads from its environment: 127.0.0.1 allowed, a 1 s retry."""
    monkeypatch.setenv("HELPDESK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("HELPDESK_RETRY_INTERVALS", "1")
    app.config["HELPDESK_RETRY_INTERVALS"] = [1]
