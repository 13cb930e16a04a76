"""Background jobs: RQ plumbing plus a job history table that outlives Redis.

Capabilities call `enqueue()`; the job reaches Redis when the caller's
transaction commits, so a rolled-back change never starts work.
"""

from app.core.jobs.enqueue import current_job_id, enqueue, progress, progress_of

__all__ = ["current_job_id", "enqueue", "progress", "progress_of"]
