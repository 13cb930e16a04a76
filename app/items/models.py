from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

ITEM_TYPES = ("part", "assembly")


class Lifecycle(StrEnum):
    draft = "draft"
    released = "released"
    obsolete = "obsolete"


LIFECYCLES = tuple(Lifecycle)


class BomState(StrEnum):
    """A BOM revision is edited while draft, frozen once released; releasing another
    revision of the same item supersedes the released one (it stays readable)."""

    draft = "draft"
    released = "released"
    superseded = "superseded"


class ExportStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Item(db.Model):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    item_type: Mapped[str] = mapped_column(String(20), default="part", index=True)
    uom: Mapped[str] = mapped_column(String(10), default="EA")
    revision: Mapped[str] = mapped_column(String(4), default="A")
    lifecycle: Mapped[str] = mapped_column(String(20), default=Lifecycle.draft, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    boms: Mapped[list["Bom"]] = relationship(back_populates="item", order_by="Bom.id")


class Bom(db.Model):
    """One revision of an item's bill of materials."""

    __tablename__ = "boms"
    __table_args__ = (UniqueConstraint("item_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    revision: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(20), default=BomState.draft)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[Item] = relationship(back_populates="boms")
    lines: Mapped[list["BomLine"]] = relationship(
        back_populates="bom", cascade="all, delete-orphan", order_by="(BomLine.find_number, BomLine.id)"
    )

    @property
    def ref(self) -> str:
        """How people and the API name a BOM revision: ITEM@REV."""
        return f"{self.item.number}@{self.revision}"


class BomLine(db.Model):
    __tablename__ = "bom_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bom_id: Mapped[int] = mapped_column(ForeignKey("boms.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    unit: Mapped[str] = mapped_column(String(10))
    find_number: Mapped[int | None] = mapped_column(Integer)
    refdes: Mapped[str] = mapped_column(String(1000), default="")  # normalized: sorted, comma-separated
    note: Mapped[str] = mapped_column(String(500), default="")

    bom: Mapped[Bom] = relationship(back_populates="lines")
    child: Mapped[Item] = relationship(lazy="joined")  # every page and edit of a line shows its child


class BomExport(db.Model):
    """A compare export made in the background; the bytes live here, so web and worker share no disk."""

    __tablename__ = "bom_exports"
    __table_args__ = (
        Index("ix_bom_exports_created_at", "created_at"),
        Index("ix_bom_exports_status_created", "status", "created_at"),  # failed ones of a window
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    left_ref: Mapped[str] = mapped_column(String(60))
    right_ref: Mapped[str] = mapped_column(String(60))
    mode: Mapped[str] = mapped_column(String(20))
    max_levels: Mapped[int] = mapped_column(Integer)
    export_format: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=ExportStatus.queued)
    job_id: Mapped[str | None] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
