from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.engine.runtime import FINAL, RunStatus
from app.extensions import db

# a run's status is its Runtime's: the engine's RunStatus is the one set
RUN_STATUSES = tuple(RunStatus)


class FlowDefinition(db.Model):
    """A flow as its YAML or JSON document; the engine Flow is built from it for each run."""

    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    runs: Mapped[list["FlowRun"]] = relationship(
        back_populates="flow", cascade="all, delete-orphan", passive_deletes=True, order_by="FlowRun.id.desc()"
    )


class FlowRun(db.Model):
    """One run of a flow = one RQ job on the `flows` queue; `state` is the final snapshot."""

    __tablename__ = "flow_runs"
    __table_args__ = (Index("ix_flow_runs_window", "created_at", "status"),)  # the overview's window (app/ops)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING, index=True)
    wait_for_input: Mapped[int] = mapped_column(default=0)  # seconds an idle run waits for fed input
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    flow: Mapped[FlowDefinition] = relationship(back_populates="runs")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL
