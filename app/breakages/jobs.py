"""The helpdesk send on the `sync` queue: load the incident, POST it (sender.py), record how
it ended. Transient failures raise, so RQ's Retry runs it again after its interval; permanent
ones and an open circuit breaker end it at once (no retries left)."""

from typing import Any

from flask import current_app
from rq import get_current_job

from app.breakages import helpdesk, sender
from app.breakages.models import HelpdeskStatus, Incident
from app.core import breaker
from app.extensions import db


def send_to_helpdesk(incident_id: int) -> dict[str, Any]:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        return {"skipped": "no such incident"}
    if incident.helpdesk_status == HelpdeskStatus.sent:
        return {"ticket_id": incident.ticket_id, "skipped": "sent already"}
    endpoint = helpdesk.configured()
    job = get_current_job()
    if endpoint is None or breaker.is_open(endpoint):
        why = "no helpdesk endpoint is configured" if endpoint is None else "the helpdesk's circuit breaker is open"
        helpdesk.record_outcome(
            incident, HelpdeskStatus.dead, error=why, category="circuit_open" if endpoint else "no_endpoint"
        )
        db.session.commit()
        _no_retry(job)
        raise RuntimeError(why)
    incident.helpdesk_attempts += 1
    db.session.commit()
    try:
        ticket = sender.deliver(endpoint, incident)
    except sender.SendFailed as exc:
        config = current_app.config
        if exc.transient:
            breaker.failed(endpoint, config["HELPDESK_BREAKER_THRESHOLD"], config["HELPDESK_BREAKER_COOLDOWN"])
            retrying = bool(job and job.retries_left)
            status = HelpdeskStatus.queued if retrying else HelpdeskStatus.dead
        else:
            breaker.succeeded(endpoint)  # it answered: the endpoint is up, the request is wrong
            status = HelpdeskStatus.failed
            _no_retry(job)
        helpdesk.record_outcome(incident, status, error=exc.message, category=exc.category)
        db.session.commit()
        raise
    breaker.succeeded(endpoint)
    helpdesk.record_outcome(incident, HelpdeskStatus.sent, ticket=ticket)
    db.session.commit()
    return {"ticket_id": incident.ticket_id, "ticket_url": incident.ticket_url}


def _no_retry(job) -> None:
    """RQ retries a failed job while it has retries left: a permanent failure has none."""
    if job is not None:
        job.retries_left = 0
