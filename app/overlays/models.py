from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.timeutil import UTCDateTime, utcnow
from app.docsync.models import DocumentVersion
from app.extensions import db
from app.items.models import BomLine, Item


class OverlayStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


# status -> the statuses it may move to
FLOW: dict[OverlayStatus, tuple[OverlayStatus, ...]] = {
    OverlayStatus.draft: (OverlayStatus.published, OverlayStatus.archived),
    OverlayStatus.published: (OverlayStatus.draft, OverlayStatus.archived),
    OverlayStatus.archived: (OverlayStatus.draft,),
}
EDITABLE = (OverlayStatus.draft, OverlayStatus.published)  # an archived overlay is read only


class Model3D(db.Model):
    """A document version whose file is glTF 2.0, with the node tree read from it."""

    __tablename__ = "overlay_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id", ondelete="CASCADE"), unique=True)
    part_count: Mapped[int] = mapped_column(Integer)
    mesh_count: Mapped[int] = mapped_column(Integer)
    parsed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[DocumentVersion] = relationship()
    parts: Mapped[list["ModelPart"]] = relationship(
        back_populates="model", order_by="ModelPart.position", cascade="all, delete-orphan", passive_deletes=True
    )


class ModelPart(db.Model):
    """One node of a model: its component ref (unique in the model), its place in the tree."""

    __tablename__ = "overlay_model_parts"
    __table_args__ = (UniqueConstraint("model_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("overlay_models.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # depth-first order of the tree
    ref: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    parent_ref: Mapped[str | None] = mapped_column(String(200))
    node: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    has_mesh: Mapped[bool] = mapped_column(Boolean)

    model: Mapped[Model3D] = relationship(back_populates="parts")


class Overlay(db.Model):
    """The metadata of one document version's model; one per version."""

    __tablename__ = "overlays"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("overlay_models.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=OverlayStatus.draft, index=True)
    # names its lookup cache in Redis: a recreated database's overlay of the same id never reads it
    token: Mapped[str] = mapped_column(String(40), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every write
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    model: Mapped[Model3D] = relationship()
    entries: Mapped[list["OverlayEntry"]] = relationship(
        back_populates="overlay", order_by="OverlayEntry.ref", cascade="all, delete-orphan", passive_deletes=True
    )


class OverlayEntry(db.Model):
    """What one component ref is: an item, optionally the BOM line it is, and metadata fields."""

    __tablename__ = "overlay_entries"
    __table_args__ = (UniqueConstraint("overlay_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    overlay_id: Mapped[int] = mapped_column(ForeignKey("overlays.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    bom_line_id: Mapped[int | None] = mapped_column(ForeignKey("bom_lines.id", ondelete="SET NULL"))

    overlay: Mapped[Overlay] = relationship(back_populates="entries")
    item: Mapped[Item] = relationship(lazy="joined")
    bom_line: Mapped[BomLine | None] = relationship()
    fields: Mapped[list["OverlayField"]] = relationship(
        back_populates="entry", order_by="OverlayField.position", cascade="all, delete-orphan", passive_deletes=True
    )


class OverlayField(db.Model):
    """A metadata field of an entry and the roles that may see it (empty: every role)."""

    __tablename__ = "overlay_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("overlay_entries.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(Text)
    roles: Mapped[list] = mapped_column(JSON, default=list)

    entry: Mapped[OverlayEntry] = relationship(back_populates="fields")
