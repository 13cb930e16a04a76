from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeline import TimelineEvent
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db
from app.items.models import Bom, Item

PRIORITIES = ("low", "normal", "high", "urgent")


class ActivityStatus(StrEnum):
    pending = "pending"
    active = "active"
    completed = "completed"
    canceled = "canceled"
    exception = "exception"


ACTIVITY_STATUSES = tuple(ActivityStatus)
# status -> statuses it may change to
ACTIVITY_TRANSITIONS = {
    ActivityStatus.pending: (
        ActivityStatus.active,
        ActivityStatus.completed,
        ActivityStatus.canceled,
        ActivityStatus.exception,
    ),
    ActivityStatus.active: (ActivityStatus.completed, ActivityStatus.canceled, ActivityStatus.exception),
    ActivityStatus.completed: (ActivityStatus.pending,),
    ActivityStatus.canceled: (ActivityStatus.pending,),
    ActivityStatus.exception: (ActivityStatus.pending, ActivityStatus.active),
}
# a blocking activity in one of these holds its stage
OPEN_STATUSES = (ActivityStatus.pending, ActivityStatus.active, ActivityStatus.exception)
# what a dependency must be before its dependant completes
FINISHED_STATUSES = (ActivityStatus.completed, ActivityStatus.canceled)

PHASES = ("before", "after")
ACTIONS = ("emit_event", "create_job", "set_eco_priority")
FAIL_STRATEGIES = ("block", "warn", "retry")
ANY_STAGE = "any"


class ActionRunStatus(StrEnum):
    running = "running"
    queued = "queued"
    completed = "completed"
    warning = "warning"
    failed = "failed"


RUN_STATUSES = tuple(ActionRunStatus)
# a run's (status, result code): running/RUNNING, completed/OK, warning/WARN, failed/RETRY_EXHAUSTED,
# failed/BLOCK; a create_job run: queued/QUEUED until its job ends completed/OK or failed/JOB_FAILED


class Eco(db.Model):
    __tablename__ = "ecos"
    __table_args__ = (Index("ix_ecos_stage_priority", "stage", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    eco_type: Mapped[str] = mapped_column(String(40), index=True)
    stage: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    owner: Mapped[str] = mapped_column(String(80), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    target_bom_id: Mapped[int | None] = mapped_column(ForeignKey("boms.id"))
    # bumped by every stage move: the compare-and-set that lets exactly one of two concurrent moves win
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[Item] = relationship()
    target_bom: Mapped[Bom | None] = relationship()
    activities: Mapped[list["EcoActivity"]] = relationship(
        back_populates="eco", order_by="EcoActivity.id", cascade="all, delete-orphan"
    )


activity_dependencies = Table(
    "eco_activity_dependencies",
    db.metadata,
    Column("activity_id", ForeignKey("eco_activities.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", ForeignKey("eco_activities.id", ondelete="CASCADE"), primary_key=True),
)


class EcoActivity(db.Model):
    __tablename__ = "eco_activities"
    __table_args__ = (Index("ix_eco_activities_open_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    eco_id: Mapped[int] = mapped_column(ForeignKey("ecos.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    assignee: Mapped[str] = mapped_column(String(80), default="")
    stage: Mapped[str] = mapped_column(String(40))  # the stage this activity gates
    blocking: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=ActivityStatus.pending)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    eco: Mapped[Eco] = relationship(back_populates="activities")
    depends_on: Mapped[list["EcoActivity"]] = relationship(
        secondary=activity_dependencies,
        primaryjoin=id == activity_dependencies.c.activity_id,
        secondaryjoin=id == activity_dependencies.c.depends_on_id,
        order_by="EcoActivity.id",
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EcoEvent(TimelineEvent, db.Model):
    """Everything that happened to an ECO: stage moves, activity status changes, priority
    changes by rules, apply. `kind` (stage / activity / priority / apply / created) says which."""

    __tablename__ = "eco_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    eco_id: Mapped[int] = mapped_column(ForeignKey("ecos.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("eco_activities.id", ondelete="CASCADE"), index=True)

    eco: Mapped[Eco] = relationship()
    activity: Mapped[EcoActivity | None] = relationship()


class WorkflowRule(db.Model):
    __tablename__ = "workflow_rules"
    __table_args__ = (
        CheckConstraint("priority >= 0 AND priority <= 1000", name="priority_range"),
        CheckConstraint("max_retries >= 0 AND max_retries <= 5", name="max_retries_range"),
        Index("ix_workflow_rules_phase_order", "phase", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phase: Mapped[str] = mapped_column(String(10))
    from_stage: Mapped[str] = mapped_column(String(40), default=ANY_STAGE)
    to_stage: Mapped[str] = mapped_column(String(40), default=ANY_STAGE)
    action: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    match: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # eco_types, priorities, item_ids, actor_roles
    fail_strategy: Mapped[str] = mapped_column(String(10), default="warn")
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower runs first
    timeout_seconds: Mapped[float] = mapped_column(default=5.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WorkflowRun(db.Model):
    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_status_started", "status", "started_at"),
        Index("ix_workflow_runs_window", "started_at", "status", "result_code"),  # the overview's window (app/ops)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("workflow_rules.id", ondelete="CASCADE"), index=True)
    eco_id: Mapped[int] = mapped_column(ForeignKey("ecos.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(30))
    from_stage: Mapped[str] = mapped_column(String(40))
    to_stage: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    result_code: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rule: Mapped[WorkflowRule] = relationship()
    eco: Mapped[Eco] = relationship()
