from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    """One write. The log is read newest first by (at, id), keyset-paged; every filter of the
    audit page has an index ending in (at, id), so a filtered page, with or without a date
    range, is a walk of the index over the rows it shows, not a sort of every matching row,
    however long the log grows."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at_id", "at", "id"),
        Index("ix_audit_log_entity_at", "entity", "at", "id"),
        Index("ix_audit_log_record", "entity", "entity_id", "at", "id"),
        Index("ix_audit_log_actor_at", "actor", "at", "id"),
        Index("ix_audit_log_action_at", "action", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
