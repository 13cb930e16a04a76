"""The sync job on the `sync` queue: load the job, run it, record how it ended."""

from rq import get_current_job

from app.core.breaker import CircuitOpen
from app.core.errors import DomainError
from app.docsync import runner, sync
from app.docsync.models import SyncJob
from app.extensions import db


def run_sync_job(job_id: int) -> dict:
    job = db.session.get(SyncJob, job_id)
    if job is None:  # deleted with its site meanwhile
        return {"skipped": "no such sync job"}
    try:
        runner.Runner(job).run()
    except CircuitOpen as exc:  # retrying now would hammer the dead site; a replay runs later
        db.session.rollback()
        runner.fail(job, exc.message, retrying=False)
        return sync.job_state(job)
    except Exception as exc:
        db.session.rollback()
        rq_job = get_current_job()
        message = exc.message if isinstance(exc, DomainError) else f"{exc.__class__.__name__}: {exc}"
        runner.fail(job, message, retrying=bool(rq_job and rq_job.retries_left))
        raise
    return sync.job_state(job)
