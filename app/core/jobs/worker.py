"""The RQ worker the app runs: marks history rows started, and keeps each forked
work horse off the parent's database connections."""

from rq import SimpleWorker, Worker

from app.core import live
from app.core.jobs import history
from app.extensions import db


class WorkHorseKilled(Exception):
    """The process running the job died without reporting (signal, out of memory)."""


class _Tracking:
    def perform_job(self, job, queue):
        history.mark_started(job)
        return super().perform_job(job, queue)

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:  # the worker is idle again only now, after the job's own events went out
            live.publish(f"queue:{queue.name}", "worker_idle", {"worker": self.name, "job": job.id})


class ForgelineWorker(_Tracking, Worker):
    """Forks a work horse per job (RQ's default); production uses this one."""

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        # killed by the OS (e.g. out of memory): no RQ callback runs, so close the history row here
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        history.on_failure(job, self.connection, WorkHorseKilled, WorkHorseKilled(f"exit status {ret_val}"), None)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)  # a forked child must not share pooled sockets
        return super().main_work_horse(job, queue)


class ForgelineSimpleWorker(_Tracking, SimpleWorker):
    """Runs jobs in-process: for tests (burst mode) only, as it sends no heartbeat mid-job."""
