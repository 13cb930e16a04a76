from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db


class JobState(StrEnum):
    """A job's status as RQ names it (rq.job.JobStatus), so the job history and the queues
    page say the same: a job that ran to its end is "finished" because RQ says so, where
    the capabilities' own sets say completed, succeeded or done. "retrying" is the
    history's own: a failed attempt RQ will run again; so is "lost". The history stores queued, started,
    retrying and the four final ones; deferred and scheduled are RQ registries the queues
    page counts."""

    queued = "queued"
    started = "started"
    deferred = "deferred"
    scheduled = "scheduled"
    finished = "finished"
    failed = "failed"
    stopped = "stopped"
    canceled = "canceled"
    retrying = "retrying"
    lost = "lost"  # the history's own: Redis no longer knew the job (restarted, flushed); see the sweeper


FINAL_STATUSES = (JobState.finished, JobState.failed, JobState.stopped, JobState.canceled, JobState.lost)
ACTIVE_STATUSES = (JobState.queued, JobState.started, JobState.retrying)


class JobRecord(db.Model):
    """One row per job the app enqueued; kept after RQ forgets the job."""

    __tablename__ = "job_history"
    __table_args__ = (
        Index("ix_job_history_queue_ended", "queue", "ended_at"),
        Index("ix_job_history_entity", "entity", "entity_id"),
        Index("ix_job_history_queue_kind", "queue", "kind"),  # the kinds of one queue (paging.distinct_values)
        # the overview's window, trends and percentiles (app/ops) read only this index
        Index("ix_job_history_window", "enqueued_at", "queue", "status", "duration", "wait"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the RQ job id
    queue: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(80), index=True)
    entity: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default=JobState.queued, index=True)
    actor: Mapped[str] = mapped_column(String(80), default="system")
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait: Mapped[float | None] = mapped_column(Float)  # seconds from enqueue to the last start
    duration: Mapped[float | None] = mapped_column(Float)  # seconds of the last attempt
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES
