from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.docsync.models import Document, DocumentVersion
from app.extensions import db
from app.items.models import Item


class WorkOrderState(StrEnum):
    draft = "draft"
    released = "released"
    in_progress = "in_progress"
    done = "done"
    canceled = "canceled"


# state -> the states it may move to (the only moves there are)
FLOW: dict[WorkOrderState, tuple[WorkOrderState, ...]] = {
    WorkOrderState.draft: (WorkOrderState.released, WorkOrderState.canceled),
    WorkOrderState.released: (WorkOrderState.in_progress, WorkOrderState.canceled),
    WorkOrderState.in_progress: (WorkOrderState.done, WorkOrderState.canceled),
    WorkOrderState.done: (),
    WorkOrderState.canceled: (),
}


class LockSource(StrEnum):
    manual = "manual"
    release = "release"
    eco_apply = "eco_apply"


class PackStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class OperationColumns:
    """What a routing's operation and the work order's copy of it both have (service.OPERATION_FIELDS)."""

    sequence: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    work_centre: Mapped[str] = mapped_column(String(60), default="")
    setup_minutes: Mapped[float] = mapped_column(Float, default=0)
    run_minutes: Mapped[float] = mapped_column(Float, default=0)


class Routing(db.Model):
    """How an item is made: ordered operations. One routing of an item may be its default."""

    __tablename__ = "workorder_routings"
    __table_args__ = (UniqueConstraint("item_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    item: Mapped[Item] = relationship()
    operations: Mapped[list["Operation"]] = relationship(
        back_populates="routing", order_by="Operation.sequence", cascade="all, delete-orphan"
    )
    links: Mapped[list["DocumentLink"]] = relationship(
        back_populates="routing", order_by="DocumentLink.id", cascade="all, delete-orphan"
    )


class Operation(OperationColumns, db.Model):
    __tablename__ = "workorder_routing_operations"
    __table_args__ = (
        UniqueConstraint("routing_id", "sequence", name="uq_workorder_routing_operations_sequence"),
        UniqueConstraint("routing_id", "code", name="uq_workorder_routing_operations_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    routing_id: Mapped[int] = mapped_column(ForeignKey("workorder_routings.id", ondelete="CASCADE"), index=True)

    routing: Mapped[Routing] = relationship(back_populates="operations")


class DocumentLink(db.Model):
    """A document tied to a routing as a whole (operation_id None) or to one of its operations.
    It follows the document's latest version until locked to one (`locked_version_id`)."""

    __tablename__ = "workorder_doc_links"
    __table_args__ = (
        UniqueConstraint("routing_id", "operation_id", "document_id"),
        # NULLs are distinct in a unique constraint: one routing-level link per document
        Index(
            "uq_workorder_doc_links_routing_level",
            "routing_id",
            "document_id",
            unique=True,
            sqlite_where=text("operation_id IS NULL"),
            postgresql_where=text("operation_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    routing_id: Mapped[int] = mapped_column(ForeignKey("workorder_routings.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("workorder_routing_operations.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    inherit_to_operations: Mapped[bool] = mapped_column(Boolean, default=True)
    visible_in_production: Mapped[bool] = mapped_column(Boolean, default=True)
    locked_version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id", ondelete="SET NULL"))
    version_lock_source: Mapped[str | None] = mapped_column(String(20))
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    routing: Mapped[Routing] = relationship(back_populates="links")
    operation: Mapped[Operation | None] = relationship()
    document: Mapped[Document] = relationship()
    locked_version: Mapped[DocumentVersion | None] = relationship()


class WorkOrder(db.Model):
    __tablename__ = "workorders"
    __table_args__ = (Index("ix_workorders_state_due", "state", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    routing_id: Mapped[int] = mapped_column(ForeignKey("workorder_routings.id"), index=True)
    quantity: Mapped[float] = mapped_column(Float)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(20), default=WorkOrderState.draft)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(80))

    item: Mapped[Item] = relationship()
    routing: Mapped[Routing] = relationship()
    operations: Mapped[list["WorkOrderOperation"]] = relationship(
        back_populates="workorder", order_by="WorkOrderOperation.sequence", cascade="all, delete-orphan"
    )

    @property
    def allowed_moves(self) -> list[str]:
        return [target.value for target in FLOW[WorkOrderState(self.state)]]


class WorkOrderOperation(OperationColumns, db.Model):
    """An operation of a work order, copied from its routing at release (the routing may change later)."""

    __tablename__ = "workorder_operations"
    __table_args__ = (UniqueConstraint("workorder_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workorder_id: Mapped[int] = mapped_column(ForeignKey("workorders.id", ondelete="CASCADE"), index=True)
    # the routing operation it was copied from: its links are this operation's own links
    source_operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("workorder_routing_operations.id", ondelete="SET NULL")
    )

    workorder: Mapped[WorkOrder] = relationship(back_populates="operations")


class Pack(db.Model):
    """A document pack export of a work order (or one of its operations). The zip lives in the
    document store under packs/<manifest_sha256>.zip: the same inputs are the same file."""

    __tablename__ = "workorder_packs"
    __table_args__ = (
        Index("ix_workorder_packs_window", "created_at", "status"),  # the overview's window (app/ops)
        Index("ix_workorder_packs_status_created", "status", "created_at"),  # failed ones of a window
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workorder_id: Mapped[int] = mapped_column(ForeignKey("workorders.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("workorder_operations.id", ondelete="CASCADE"))
    require_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=PackStatus.queued)
    job_id: Mapped[str | None] = mapped_column(String(64))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)  # an unchanged pack: the file was reused
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    workorder: Mapped[WorkOrder] = relationship()
    operation: Mapped[WorkOrderOperation | None] = relationship()
