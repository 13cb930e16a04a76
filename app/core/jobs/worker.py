"""The RQ worker the app runs: marks history rows started, and keeps each forked
work horse off the parent's database connections."""

from rq import SimpleWorker, Worker

from app.core.jobs import history
from app.extensions import db


class _Tracking:
    def perform_job(self, job, queue):
        history.mark_started(job)
        return super().perform_job(job, queue)


class ForgelineWorker(_Tracking, Worker):
    """Forks a work horse per job (RQ's default); production uses this one."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)  # a forked child must not share pooled sockets
        return super().main_work_horse(job, queue)


class ForgelineSimpleWorker(_Tracking, SimpleWorker):
    """Runs jobs in-process: for tests (burst mode) only, as it sends no heartbeat mid-job."""
