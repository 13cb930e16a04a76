from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class IntakePause(db.Model):
    """A job kind whose new submissions are refused (503 `paused`) until an admin resumes it;
    its row is deleted on resume (the audit log keeps the history)."""

    __tablename__ = "ops_intake_pauses"

    kind: Mapped[str] = mapped_column(String(80), primary_key=True)  # as passed to core.jobs.enqueue()
    paused_by: Mapped[str] = mapped_column(String(80))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(300))
