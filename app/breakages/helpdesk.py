"""The customer helpdesk: its endpoint (configured like a remote site: URL checks, an encrypted
token and webhook secret never shown again, a health probe, the shared circuit breaker),
"send to helpdesk" (a job on `sync`), the outcome a send records, and the signed webhook the
helpdesk calls back.

The helpdesk's API, as Forgeline calls it (docs/breakages.md):
`GET /health`; `POST /tickets` with the incident as JSON, `Authorization: Bearer <token>` and
`Idempotency-Key: <the incident's key>`, answered 200/201 `{"id", "url"}`: the same key gives
the same ticket, so however often an incident is sent or retried it is one ticket.
"""

import hashlib
import hmac
import json
import time
import urllib.error
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rq import Retry
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.breakages import service
from app.breakages.models import (
    REPLAYABLE,
    EndpointStatus,
    HelpdeskEndpoint,
    HelpdeskStatus,
    Incident,
    IncidentStatus,
    WebhookEvent,
)
from app.core import audit, breaker, outbound, secrets
from app.core.errors import Conflict, InvalidInput, NotFound, NotSignedIn
from app.core.jobs import enqueue
from app.core.paging import Page, paginate
from app.core.timeutil import utcnow
from app.extensions import db

MIN_SECRET_LENGTH = 8
SIGNATURE_HEADER = "X-Helpdesk-Signature"  # "sha256=<hex HMAC-SHA256 of the raw body>"
SEND_TIMEOUT = 120  # the job's own RQ timeout, seconds


# ---- the endpoint --------------------------------------------------------------


def rules() -> outbound.Policy:
    return outbound.policy(current_app.config["HELPDESK_ALLOWED_HOSTS"])


def check_base_url(url: str) -> str:
    return outbound.check_base_url(url, current_app.config["HELPDESK_ALLOWED_HOSTS"], rules(), "HELPDESK_ALLOWED_HOSTS")


def _secret(value: str, field: str) -> str:
    value = (value or "").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise InvalidInput(
            f"The {field.replace('_', ' ')} has at least {MIN_SECRET_LENGTH} characters.", {"field": field}
        )
    return secrets.encrypt(value)


def _snapshot(endpoint: HelpdeskEndpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "base_url": endpoint.base_url,
        "has_token": endpoint.has_token,
        "has_webhook_secret": endpoint.has_webhook_secret,
    }


def configured() -> HelpdeskEndpoint | None:
    """The helpdesk endpoint (there is at most one)."""
    return db.session.scalar(select(HelpdeskEndpoint).order_by(HelpdeskEndpoint.id).limit(1))


def get_endpoint(endpoint_id: int) -> HelpdeskEndpoint:
    endpoint = db.session.get(HelpdeskEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"No helpdesk endpoint with id {endpoint_id}.")
    return endpoint


def create_endpoint(
    name: str, base_url: str, token: str | None = None, webhook_secret: str | None = None
) -> HelpdeskEndpoint:
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("A name of 1 to 80 characters is required.", {"field": "name"})
    if configured() is not None:
        raise Conflict("A helpdesk endpoint is configured already; change that one.", {"field": "name"})
    endpoint = HelpdeskEndpoint(name=name, base_url=check_base_url(base_url), created_at=utcnow())
    if token:
        endpoint.token_encrypted, endpoint.token_set_at = _secret(token, "token"), utcnow()
    if webhook_secret:
        endpoint.webhook_secret_encrypted = _secret(webhook_secret, "webhook_secret")
    db.session.add(endpoint)
    db.session.flush()
    audit.record("helpdesk_endpoint", endpoint.id, "create", after=_snapshot(endpoint))
    return endpoint


def update_endpoint(
    endpoint_id: int, base_url: str | None = None, token: str | None = None, webhook_secret: str | None = None
) -> HelpdeskEndpoint:
    """A changed base URL drops the token (it was given for the old host, and never goes to
    another); the audit says a secret changed, never what it is."""
    endpoint = get_endpoint(endpoint_id)
    before = _snapshot(endpoint)
    if base_url is not None and (url := check_base_url(base_url)) != endpoint.base_url:
        endpoint.base_url = url
        endpoint.token_encrypted = endpoint.token_set_at = None
        endpoint.status, endpoint.status_detail = (
            EndpointStatus.unknown,
            "base URL changed: set a token for the new URL",
        )
    if token:
        endpoint.token_encrypted, endpoint.token_set_at = _secret(token, "token"), utcnow()
        endpoint.status, endpoint.status_detail = EndpointStatus.unknown, "token changed; check health"
    if webhook_secret:
        endpoint.webhook_secret_encrypted = _secret(webhook_secret, "webhook_secret")
    after = _snapshot(endpoint)
    if token or webhook_secret:
        after["secret_changed"] = [
            name for name, given in (("token", token), ("webhook_secret", webhook_secret)) if given
        ]
    audit.record("helpdesk_endpoint", endpoint.id, "update", before=before, after=after)
    return endpoint


def client(endpoint: HelpdeskEndpoint, timeout: float | None = None) -> outbound.Client:
    token = secrets.decrypt(endpoint.token_encrypted) if endpoint.token_encrypted else None
    return outbound.Client(
        endpoint.base_url, token, timeout=timeout or current_app.config["HELPDESK_HTTP_TIMEOUT"], rules=rules()
    )


def switch_breaker(endpoint_id: int, open_: bool, reason: str = "") -> HelpdeskEndpoint:
    """An admin opens (and holds) or closes the helpdesk's breaker by hand (an ops switch)."""
    return breaker.switch(get_endpoint(endpoint_id), "helpdesk_endpoint", "The helpdesk", open_, reason)


def probe(endpoint_id: int) -> HelpdeskEndpoint:
    """GET /health with a short timeout: status and latency. An answer closes the breaker (half-open step)."""
    endpoint = get_endpoint(endpoint_id)
    before = {"status": endpoint.status}
    started = time.monotonic()
    try:
        with client(endpoint, current_app.config["HELPDESK_HEALTH_TIMEOUT"]).open("GET", "/health"):
            pass
        endpoint.status, endpoint.status_detail = EndpointStatus.up, None
        if not endpoint.has_token:
            endpoint.status_detail = "it answers; set a token before sending"
        breaker.succeeded(endpoint)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (401, 403):
            endpoint.status, endpoint.status_detail = EndpointStatus.unauthorized, f"/health answered {exc.code}"
            breaker.succeeded(endpoint)
        else:
            endpoint.status, endpoint.status_detail = EndpointStatus.down, f"/health answered {exc.code}"
    except outbound.OutboundError as exc:
        endpoint.status, endpoint.status_detail = EndpointStatus.refused, str(exc)[:300]
    except (urllib.error.URLError, OSError) as exc:
        endpoint.status, endpoint.status_detail = EndpointStatus.down, str(getattr(exc, "reason", exc))[:300]
    endpoint.latency_ms = round((time.monotonic() - started) * 1000, 1)
    endpoint.checked_at = utcnow()
    audit.record(
        "helpdesk_endpoint",
        endpoint.id,
        "health",
        before=before,
        after={"status": endpoint.status, "latency_ms": endpoint.latency_ms, "detail": endpoint.status_detail},
    )
    return endpoint


# ---- sending -----------------------------------------------------------------------


def payload(incident: Incident) -> dict[str, Any]:
    """What the helpdesk receives: the incident as a ticket."""
    return {
        "reference": incident.code,
        "title": f"{incident.code} · {incident.item.number} · {incident.severity}",
        "severity": incident.severity,
        "status": incident.status,
        "product": incident.item.number,
        "component": incident.component.number if incident.component else None,
        "batch_code": incident.batch_code,
        "production_order": incident.production_order,
        "customer": incident.customer,
        "occurred_at": incident.occurred_at.isoformat(),
        "description": incident.description,
        "root_cause": incident.root_cause,
        "corrective_action": incident.corrective_action,
    }


def send(incident_id: int, reason: str = "") -> Incident:
    """Queue the incident's hand-over (a job on `sync`). Sent already, or queued: nothing new
    is queued (compare-and-set on the status, so two clicks queue one job). Failed and dead
    sends go again with the same Idempotency-Key: still one ticket."""
    incident = service.get_incident(incident_id)
    endpoint = configured()
    if endpoint is None or not endpoint.has_token:
        raise Conflict("No helpdesk endpoint with a token is configured.", {"field": "helpdesk"}, code="no_helpdesk")
    if incident.status == IncidentStatus.canceled:
        raise Conflict(f"{incident.code} is canceled; it is not sent.", {"status": incident.status})
    before = incident.helpdesk_status
    claimed = db.session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.helpdesk_status.in_((HelpdeskStatus.not_sent, *REPLAYABLE)))
        .values(helpdesk_status=HelpdeskStatus.queued)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(incident)
    if not claimed:
        return incident
    intervals = list(current_app.config["HELPDESK_RETRY_INTERVALS"])
    record = enqueue(
        "helpdesk_send",
        "app.breakages.jobs.send_to_helpdesk",
        incident.id,
        queue="sync",
        link=("breakage_incident", incident.id),
        timeout=SEND_TIMEOUT,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        description=f"send {incident.code} to the helpdesk",
    )
    incident.helpdesk_job_id = record.id
    incident.helpdesk_error = incident.helpdesk_error_category = None
    action = "replay" if before in REPLAYABLE else "send"
    service.record_event(incident, "helpdesk", before, HelpdeskStatus.queued, reason or action)
    audit.record(
        "breakage_incident",
        incident.id,
        f"helpdesk_{action}",
        before={"helpdesk_status": before},
        after={"helpdesk_status": HelpdeskStatus.queued, "job": record.id},
    )
    return incident


def replay(incident_id: int) -> Incident:
    incident = service.get_incident(incident_id)
    if incident.helpdesk_status not in REPLAYABLE:
        raise Conflict(
            f"{incident.code}'s helpdesk send is {incident.helpdesk_status}; only failed and dead sends are replayed.",
            {"helpdesk_status": incident.helpdesk_status, "allowed": [s.value for s in REPLAYABLE]},
        )
    return send(incident_id, "replay")


def failures(status: str | None = None, page: int = 1, per_page: int = 25) -> Page:
    wanted = (status,) if status else REPLAYABLE
    query = (
        select(Incident)
        .where(Incident.helpdesk_status.in_(wanted))
        .order_by(Incident.updated_at.desc(), Incident.id.desc())
    )
    return paginate(query, page, per_page)


def record_outcome(
    incident: Incident,
    status: HelpdeskStatus,
    *,
    ticket: dict[str, Any] | None = None,
    error: str | None = None,
    category: str | None = None,
) -> None:
    """What a send attempt ended with (the job commits it): sent with its ticket, queued again
    (a retry is scheduled), failed (permanent) or dead (retries spent, or the breaker open)."""
    before = incident.helpdesk_status
    incident.helpdesk_status = status
    incident.helpdesk_error, incident.helpdesk_error_category = (error or None) and error[:500], category
    if ticket is not None:
        incident.ticket_id = str(ticket.get("id") or "")[:100] or None
        incident.ticket_url = str(ticket.get("url") or "")[:500] or None
        incident.helpdesk_sent_at = utcnow()
    detail = incident.ticket_id if status == HelpdeskStatus.sent else f"{category}: {error}" if error else ""
    service.record_event(incident, "helpdesk", before, status, detail or "")
    audit.record(
        "breakage_incident",
        incident.id,
        "helpdesk_outcome",
        before={"helpdesk_status": before},
        after={"helpdesk_status": status, "ticket_id": incident.ticket_id, "category": category},
    )


# ---- the webhook -----------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    timestamp: int = Field(description="seconds since 1970, UTC")
    ticket_id: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    status: str = Field(min_length=1, max_length=40, pattern=r"^[^\x00]*$")
    triage: dict[str, Any] = Field(default_factory=dict)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body` (what the helpdesk computes; tests use it too)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def apply_webhook(body: bytes, signature: str | None) -> Incident:
    """A ticket update from the helpdesk: the signature checked first (401), then the
    timestamp (401 when stale), then the event id claimed (409 when it was applied before);
    only then the ticket's status and triage fields change."""
    endpoint = configured()
    if endpoint is None or not endpoint.has_webhook_secret:
        raise NotSignedIn("No helpdesk webhook secret is configured.", code="bad_signature")
    expected = sign(secrets.decrypt(endpoint.webhook_secret_encrypted), body)
    if not signature or not hmac.compare_digest(expected, signature.strip()):
        raise NotSignedIn(
            f"The {SIGNATURE_HEADER} header does not match the body.", {"field": SIGNATURE_HEADER}, code="bad_signature"
        )
    try:
        event = WebhookIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        fields = (
            [".".join(map(str, e["loc"])) for e in exc.errors()] if isinstance(exc, ValidationError) else ["(body)"]
        )
        raise InvalidInput("Invalid webhook body.", {"field": fields[0], "fields": fields}) from None
    tolerance = current_app.config["HELPDESK_WEBHOOK_TOLERANCE"]
    if abs(time.time() - event.timestamp) > tolerance:
        sent_at = datetime.fromtimestamp(event.timestamp, UTC).isoformat() if abs(event.timestamp) < 2**40 else None
        raise NotSignedIn(
            f"The webhook's timestamp is more than {tolerance} s off.",
            {"field": "timestamp", "sent_at": sent_at},
            code="stale_timestamp",
        )
    try:
        db.session.add(WebhookEvent(event_id=event.event_id, received_at=utcnow()))
        db.session.flush()  # the request's first write: a replay (even a concurrent one) fails here
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            f"Webhook event {event.event_id} was applied already.", {"field": "event_id"}, code="replayed_event"
        ) from None
    incident = db.session.scalar(select(Incident).where(Incident.ticket_id == event.ticket_id))
    if incident is None:
        raise NotFound(f"No incident has ticket {event.ticket_id}.", {"field": "ticket_id"})
    before = {"ticket_status": incident.ticket_status, "triage": incident.ticket_triage}
    incident.ticket_status, incident.ticket_triage = event.status, {**(incident.ticket_triage or {}), **event.triage}
    service.record_event(
        incident, "ticket", before["ticket_status"], event.status, f"helpdesk event {event.event_id}", actor="helpdesk"
    )
    audit.record(
        "breakage_incident",
        incident.id,
        "ticket_update",
        before=before,
        after={"ticket_status": incident.ticket_status, "triage": incident.ticket_triage, "event_id": event.event_id},
        actor="helpdesk",
    )
    return incident
