"""Background jobs: RQ plumbing plus a job history table that outlives Redis.

Capabilities call `enqueue()`; the job reaches Redis when the caller's
transaction commits, so a rolled-back change never starts work.
"""

from app.core.jobs.enqueue import current_job_id, enqueue, progress

__all__ = ["enqueue", "progress", "current_job_id"]
