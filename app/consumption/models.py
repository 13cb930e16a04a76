"""Consumption plans (optionally versions of a template), the actuals recorded against them,
and the MES inbox that turns reported events into actuals in the background."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db
from app.items.models import Item


class PeriodUnit(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class PlanState(StrEnum):
    """Only an active plan takes actuals; a closed one is read-only for good."""

    draft = "draft"
    active = "active"
    closed = "closed"


class SourceType(StrEnum):
    workorder = "workorder"
    mes = "mes"
    scrap = "scrap"
    rework = "rework"
    manual = "manual"


class InboxState(StrEnum):
    """An accepted MES event waits `pending` (due at next_attempt_at), becomes `done` with its
    actual written, or `dead` after MAX_ATTEMPTS failures (a replay makes it pending again)."""

    pending = "pending"
    done = "done"
    dead = "dead"


class Disposition(StrEnum):
    """What the inbox answered for each event of a batch (rejected ones are not stored)."""

    accepted = "accepted"
    duplicate = "duplicate"
    rejected = "rejected"


class ConsumptionTemplate(db.Model):
    """A key (`weekly-PCB-200`) whose versions are plans; at most one version is active."""

    __tablename__ = "consumption_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list["ConsumptionPlan"]] = relationship(
        back_populates="template", order_by="ConsumptionPlan.version"
    )


class ConsumptionPlan(db.Model):
    """How much of an item the period [period_start, period_end) should consume (the end is
    exclusive: a week plan runs from a Monday to the next Monday)."""

    __tablename__ = "consumption_plans"
    __table_args__ = (
        CheckConstraint("period_end > period_start", name="period_order"),
        CheckConstraint("planned_quantity > 0", name="planned_positive"),
        UniqueConstraint("template_id", "version"),
        # the database itself keeps one active version per template (activate() also locks the template)
        Index(
            "uq_consumption_plans_one_active_version",
            "template_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_consumption_plans_item_state", "item_id", "state"),
        Index("ix_consumption_plans_period", "period_start", "period_end"),
        Index("ix_consumption_plans_ended", "period_end", "state"),  # the overview's plans ended in a window
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    period_unit: Mapped[str] = mapped_column(String(10), default=PeriodUnit.week)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    unit: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=PlanState.draft)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("consumption_templates.id"))
    version: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    item: Mapped[Item] = relationship(lazy="joined")
    template: Mapped[ConsumptionTemplate | None] = relationship(back_populates="versions")

    @property
    def template_key(self) -> str | None:
        return self.template.key if self.template else None

    @property
    def label(self) -> str:
        version = f" {self.template.key} v{self.version}" if self.template else ""
        return f"#{self.id} {self.item.number}{version} ({self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d})"


class ConsumptionRecord(db.Model):
    """One actual: what was reported (quantity, unit) and its conversion to the plan's unit."""

    __tablename__ = "consumption_records"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        # variance is a range scan of this index: the sum reads no table row
        Index("ix_consumption_records_plan_time", "plan_id", "recorded_at", "plan_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("consumption_plans.id"))
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(80), default="")
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    unit: Mapped[str] = mapped_column(String(10))
    factor: Mapped[float] = mapped_column(Double)  # one `unit` in the plan's unit
    plan_quantity: Mapped[float] = mapped_column(Double)  # quantity × factor, in the plan's unit
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    inbox_event_id: Mapped[int | None] = mapped_column(Integer, unique=True)  # an event counts once, whatever replays
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[ConsumptionPlan] = relationship()


class InboxBatch(db.Model):
    """One POST to the MES inbox: audited once, with its counts."""

    __tablename__ = "consumption_inbox_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxEvent(db.Model):
    __tablename__ = "consumption_inbox_events"
    __table_args__ = (
        # a drain's claim reads the due events in this index's order: no sort of every pending row
        Index("ix_consumption_inbox_events_due", "state", "next_attempt_at", "id"),
        Index("ix_consumption_inbox_events_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("consumption_inbox_batches.id"))
    event_key: Mapped[str] = mapped_column(String(120), unique=True)  # the MES's event id
    plan_id: Mapped[int] = mapped_column(Integer)
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(80), default="")
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    unit: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10), default=InboxState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
