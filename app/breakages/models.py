from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.breaker import BreakerColumns
from app.core.timeline import TimelineEvent
from app.core.timeutil import UTCDateTime, utcnow
from app.docsync.models import Document
from app.eco.models import Eco
from app.extensions import db
from app.items.models import Bom, BomLine, Item


class IncidentStatus(StrEnum):
    open = "open"
    investigating = "investigating"
    resolved = "resolved"
    closed = "closed"
    canceled = "canceled"


# status -> the statuses it may move to (the only moves there are)
FLOW: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.open: (IncidentStatus.investigating, IncidentStatus.canceled),
    IncidentStatus.investigating: (IncidentStatus.resolved, IncidentStatus.canceled),
    IncidentStatus.resolved: (IncidentStatus.closed, IncidentStatus.investigating),
    IncidentStatus.closed: (IncidentStatus.investigating,),
    IncidentStatus.canceled: (),
}
# not yet resolved: what breakage_open_incidents counts
UNRESOLVED = (IncidentStatus.open, IncidentStatus.investigating)
# an ECO is opened from these
LOOPBACK_FROM = (IncidentStatus.resolved, IncidentStatus.closed)


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


# the hotspot score of one incident (severity-weighted count), and the ECO priority it asks for
SEVERITY_WEIGHT = {Severity.low: 1, Severity.medium: 2, Severity.high: 4, Severity.critical: 8}
ECO_PRIORITY = {Severity.low: "low", Severity.medium: "normal", Severity.high: "high", Severity.critical: "urgent"}


class Responsibility(StrEnum):
    design = "design"
    supplier = "supplier"
    manufacturing = "manufacturing"
    logistics = "logistics"
    customer = "customer"
    unknown = "unknown"


class HelpdeskStatus(StrEnum):
    """An incident's hand-over to the helpdesk: `failed` is a permanent refusal (400, 401/403,
    404, 422: sending again changes nothing until it is fixed), `dead` transient failures that
    outlived their retries (or an open circuit breaker); both can be replayed."""

    not_sent = "not_sent"
    queued = "queued"
    sent = "sent"
    failed = "failed"
    dead = "dead"


REPLAYABLE = (HelpdeskStatus.failed, HelpdeskStatus.dead)


class EndpointStatus(StrEnum):
    unknown = "unknown"
    up = "up"
    down = "down"
    unauthorized = "unauthorized"
    refused = "refused"


class CodeCounter(db.Model):
    """Named counters handed out under a row lock (INSERT ... ON CONFLICT DO UPDATE ... RETURNING):
    two concurrent incidents never get the same code, and a rolled-back one leaves a gap."""

    __tablename__ = "breakage_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Incident(db.Model):
    __tablename__ = "breakage_incidents"
    __table_args__ = (
        # covers every figure of a window (figures.py): the rows of a time range read from the index alone
        Index(
            "ix_breakage_incidents_window",
            "occurred_at",
            "status",
            "severity",
            "responsibility",
            "component_id",
            "item_id",
            "signature",
            "repeat_gap_seconds",
        ),
        # the repeat-failure window function partitions by product and signature, in time order
        Index("ix_breakage_incidents_repeat", "item_id", "signature", "occurred_at"),
        Index("ix_breakage_incidents_status_severity", "status", "severity"),
        # the overview's helpdesk sends and trends (app/ops) of a window
        Index("ix_breakage_incidents_window_helpdesk", "occurred_at", "status", "helpdesk_status"),
        # failed sends of a window, newest first (the overview's failure table)
        Index("ix_breakage_incidents_helpdesk", "helpdesk_status", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=IncidentStatus.open)
    severity: Mapped[str] = mapped_column(String(10))
    responsibility: Mapped[str] = mapped_column(String(20), default=Responsibility.unknown)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))  # the product
    bom_id: Mapped[int | None] = mapped_column(ForeignKey("boms.id"))
    bom_line_id: Mapped[int | None] = mapped_column(ForeignKey("bom_lines.id", ondelete="SET NULL"))
    component_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    batch_code: Mapped[str] = mapped_column(String(80), default="", index=True)
    production_order: Mapped[str] = mapped_column(String(80), default="")
    customer: Mapped[str] = mapped_column(String(120), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    # what makes two incidents of one product "the same failure" (figures.py): the component,
    # or the normalised description when no component is known
    signature: Mapped[str] = mapped_column(String(80))
    # seconds since the previous incident of the same product and signature (canceled ones left
    # out), kept by service.relink() on every write that can change it; None for the first of
    # its kind and for a canceled one. figures.repeat_rate() compares it with the window.
    repeat_gap_seconds: Mapped[float | None] = mapped_column(Float)
    root_cause: Mapped[str] = mapped_column(Text, default="")
    immediate_action: Mapped[str] = mapped_column(Text, default="")
    corrective_action: Mapped[str] = mapped_column(Text, default="")
    preventive_action: Mapped[str] = mapped_column(Text, default="")
    verification_note: Mapped[str] = mapped_column(Text, default="")
    reported_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last move to resolved
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the ECO opened from it: set once, by compare-and-set (loopback.py)
    eco_id: Mapped[int | None] = mapped_column(ForeignKey("ecos.id", ondelete="SET NULL"), index=True)
    # the helpdesk hand-over; the key is sent as Idempotency-Key, so one incident is one ticket
    helpdesk_key: Mapped[str] = mapped_column(String(64), unique=True)
    helpdesk_status: Mapped[str] = mapped_column(String(20), default=HelpdeskStatus.not_sent)
    helpdesk_job_id: Mapped[str | None] = mapped_column(String(64))
    helpdesk_attempts: Mapped[int] = mapped_column(Integer, default=0)
    helpdesk_error: Mapped[str | None] = mapped_column(String(500))
    helpdesk_error_category: Mapped[str | None] = mapped_column(String(30))
    helpdesk_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[str | None] = mapped_column(String(100))
    ticket_url: Mapped[str | None] = mapped_column(String(500))
    ticket_status: Mapped[str | None] = mapped_column(String(40))  # as the helpdesk's webhook says
    ticket_triage: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    item: Mapped[Item] = relationship(foreign_keys=[item_id])
    component: Mapped[Item | None] = relationship(foreign_keys=[component_id])
    bom: Mapped[Bom | None] = relationship()
    bom_line: Mapped[BomLine | None] = relationship()
    eco: Mapped[Eco | None] = relationship()
    documents: Mapped[list[Document]] = relationship(secondary="breakage_documents", order_by=Document.number)

    @property
    def allowed_moves(self) -> list[str]:
        return [target.value for target in FLOW[IncidentStatus(self.status)]]


class IncidentDocument(db.Model):
    """A document of the documents capability attached to an incident."""

    __tablename__ = "breakage_documents"

    incident_id: Mapped[int] = mapped_column(ForeignKey("breakage_incidents.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    attached_by: Mapped[str] = mapped_column(String(80))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentEvent(TimelineEvent, db.Model):
    """The incident's timeline: created, status moves (from, to, reason), edits, attachments,
    helpdesk hand-over and ticket updates, the ECO opened (`kind`: created / status / edit /
    document / helpdesk / ticket / eco)."""

    __tablename__ = "breakage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("breakage_incidents.id", ondelete="CASCADE"), index=True)
    to_value: Mapped[str | None] = mapped_column(String(100))  # a ticket id or URL, longer than a status


class HelpdeskEndpoint(BreakerColumns, db.Model):
    """The customer helpdesk, configured like a remote site: its token (sent as a bearer token)
    and its webhook secret are Fernet-encrypted and never shown again."""

    __tablename__ = "helpdesk_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    base_url: Mapped[str] = mapped_column(String(300))
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=EndpointStatus.unknown)
    status_detail: Mapped[str | None] = mapped_column(String(300))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def has_token(self) -> bool:
        return self.token_encrypted is not None

    @property
    def has_webhook_secret(self) -> bool:
        return self.webhook_secret_encrypted is not None


class WebhookEvent(db.Model):
    """A helpdesk webhook event id already applied: a replay of it changes nothing (409)."""

    __tablename__ = "helpdesk_webhook_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
