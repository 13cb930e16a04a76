from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.breaker import BreakerColumns
from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class SiteStatus(StrEnum):
    """What the last health probe or call found; unknown until the first (and after a token change)."""

    unknown = "unknown"
    up = "up"
    down = "down"
    unauthorized = "unauthorized"
    no_token = "no_token"  # it answers, but no token is set (e.g. after its URL changed)
    refused = "refused"  # the outbound policy refused its address, or it redirected


class SyncStatus(StrEnum):
    """A sync job's status: "finished" when every item got an outcome and none failed, "failed"
    otherwise (or when the job itself failed); "interrupted" when its worker went silent and a
    replay took over."""

    queued = "queued"
    running = "running"
    finished = "finished"
    failed = "failed"
    interrupted = "interrupted"


class SyncOutcome(StrEnum):
    """A document's outcome in a sync job: pending until it is sent (or fails)."""

    pending = "pending"
    transferred = "transferred"
    present = "present"
    skipped = "skipped"
    conflict = "conflict"
    failed = "failed"


class Document(db.Model):
    """An engineering document; its number is its identity across sites."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    doc_type: Mapped[str] = mapped_column(String(40), default="other")
    item_refs: Mapped[list] = mapped_column(JSON, default=list)  # item numbers this document is about
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    versions: Mapped[list["DocumentVersion"]] = relationship(
        back_populates="document", order_by="DocumentVersion.version", cascade="all, delete-orphan"
    )

    @property
    def latest(self) -> "DocumentVersion | None":
        return self.versions[-1] if self.versions else None


class DocumentVersion(db.Model):
    """One file of a document; the bytes live in the store under their sha256."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str | None] = mapped_column(String(80))  # the site it was synced from, if any
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")


class RemoteSite(BreakerColumns, db.Model):
    """Another Forgeline; its API token is stored Fernet-encrypted and never shown again."""

    __tablename__ = "remote_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    base_url: Mapped[str] = mapped_column(String(300))
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enabled: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default=SiteStatus.unknown)
    status_detail: Mapped[str | None] = mapped_column(String(300))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def has_token(self) -> bool:
        return self.token_encrypted is not None


class SyncCheckpoint(db.Model):
    """Per site and direction: the change time up to which everything was synced."""

    __tablename__ = "doc_sync_checkpoints"
    __table_args__ = (UniqueConstraint("site_id", "direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("remote_sites.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    synced_until: Mapped[datetime] = mapped_column(UTCDateTime)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("doc_sync_jobs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncedDocument(db.Model):
    """The sha256 both sides agreed on at the last sync of a document with a site:
    a later change on both sides is a conflict."""

    __tablename__ = "doc_sync_states"
    __table_args__ = (UniqueConstraint("site_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("remote_sites.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncJob(db.Model):
    __tablename__ = "doc_sync_jobs"
    __table_args__ = (
        # the overview's window and trends (app/ops) read only this index
        Index("ix_doc_sync_jobs_window", "created_at", "status", "direction", "site_id"),
        # the overview's failure table: the failed jobs of a window, newest first (app/ops/failures.py)
        Index("ix_doc_sync_jobs_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("remote_sites.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # push, pull
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    selection: Mapped[dict] = mapped_column(JSON)  # {"numbers": [...]} or {"filter": {...}}
    # indexed: "has it been replayed" (a dead letter's NOT EXISTS) is asked of every failed job
    replay_of_id: Mapped[int | None] = mapped_column(ForeignKey("doc_sync_jobs.id", ondelete="SET NULL"), index=True)
    # kept by the database: a trigger sets it when a replay of this job is inserted and clears it
    # when the last one is deleted (migration 0021), so the overview's rollup sees dead letters
    replayed: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(20), default=SyncStatus.queued)
    rq_job_id: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    present: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[RemoteSite] = relationship()
    items: Mapped[list["SyncItem"]] = relationship(
        back_populates="job", order_by="SyncItem.id", cascade="all, delete-orphan"
    )


class SyncItem(db.Model):
    """One document's outcome (a SyncOutcome) in a job."""

    __tablename__ = "doc_sync_items"
    __table_args__ = (UniqueConstraint("job_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("doc_sync_jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20), default=SyncOutcome.pending)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    target_sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    job: Mapped[SyncJob] = relationship(back_populates="items")
