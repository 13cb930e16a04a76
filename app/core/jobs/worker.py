"""The RQ worker the app runs: marks history rows started, keeps each forked
work horse off the parent's database connections, and outlives Redis.

RQ's worker quits on a Redis error while a job runs ("found an unhandled
exception, quitting") and, after a Redis restart, keeps working unlisted (its
registration went with Redis). Here `work_forever()` waits out an outage with
backoff and starts the worker again, and every heartbeat puts a worker that
fell out of the list back in. Jobs that Redis lost meanwhile are closed by the
sweeper (app/core/jobs/sweeper.py)."""

import gc
import logging
import os
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker, worker_registration
from sqlalchemy.exc import SQLAlchemyError

from app.core import live
from app.core.jobs import history, sweeper
from app.extensions import db

log = logging.getLogger(__name__)

BACKOFF = (0.5, 1, 2, 5, 10)  # s between tries to reach Redis again


def heartbeat_interval(ttl: int) -> int:
    """The longest a running worker goes between two heartbeats (see ForgelineWorker): idle, RQ's
    dequeue timeout (ttl - 15 s, at least 1 s); busy, the job monitoring interval (ttl / 3 s)."""
    return max(1, ttl - 15, ttl // 3)


class WorkHorseKilled(Exception):
    """The process running the job died without reporting (signal, out of memory)."""


class _Tracking:
    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None and not self.connection.sismember(worker_registration.REDIS_WORKER_KEYS, self.key):
            # Redis restarted (it kept nothing): register again, so the worker list is right within one heartbeat
            self.connection.hset(self.key, mapping=self.serialize())
            worker_registration.register(self)

    def perform_job(self, job, queue):
        history.mark_started(job)
        return super().perform_job(job, queue)

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:  # the worker is idle again only now, after the job's own events went out
            live.publish(f"queue:{queue.name}", "worker_idle", {"worker": self.name, "job": job.id})


class _Production:
    """What every worker the `flask worker` command runs shares: RQ's timings from the app's TTL."""

    def __init__(self, *args, ttl: int, sweep_seconds: int, **kwargs):
        """`ttl`: a worker or job silent this long is gone. An idle worker heartbeats every
        ttl - 15 s (RQ's dequeue timeout, at least 1 s), a busy one every ttl / 3 s; RQ's
        own default (7 min, and a minute more for a job) kept dead workers listed and
        killed jobs `started` for that long. Maintenance (RQ's registry cleaning, the
        sweeper's offer) runs every `sweep_seconds` when idle."""
        super().__init__(
            *args,
            worker_ttl=ttl,
            job_monitoring_interval=max(1, ttl // 3),
            maintenance_interval=sweep_seconds,
            **kwargs,
        )

    def get_heartbeat_ttl(self, job):
        return self.worker_ttl  # RQ adds a fixed minute: a killed job would look started that much longer

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        sweeper.offer(self.connection, self.maintenance_interval)

    def wait_for_orphan(self) -> None:
        """After RQ quit mid-job: let a work horse end its job (it has its own timeout) before
        this process works again; what the horse could not report to Redis, the sweeper closes."""
        if getattr(self, "_horse_pid", 0):
            try:
                os.waitpid(self._horse_pid, 0)
            except ChildProcessError:
                pass
            self._horse_pid = 0


class ForgelineWorker(_Production, _Tracking, Worker):
    """Forks a work horse per job (RQ's default); production uses this one."""

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        # killed by the OS (e.g. out of memory): no RQ callback runs, so close the history row here
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        try:
            history.on_failure(job, self.connection, WorkHorseKilled, WorkHorseKilled(f"exit status {ret_val}"), None)
        except SQLAlchemyError as exc:
            # the database is unreachable (the horse likely died of it): raising here quit RQ's loop
            # before it failed the job, which then waited WORKER_TTL to be found abandoned; RQ fails
            # it now and the sweeper gives the history row RQ's verdict once the database is back
            db.session.rollback()
            log.warning("job %s: its history could not be closed: %s", job.id, exc)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)  # a forked child must not share pooled sockets
        return super().main_work_horse(job, queue)


_running: "ForgelineInProcessWorker | None" = None  # the in-process worker running a job in this process


class ForgelineInProcessWorker(_Production, _Tracking, SimpleWorker):
    """Runs each job in the worker's own process: no fork, so what a job caches (a dataset's
    arrays, an expanded grid) serves the next one. For queues of short CPU jobs only
    (`Capability.inprocess_queues`): RQ's job timeout still holds (SIGALRM in this process), a
    killed worker's job is found abandoned after `ttl` and resumed by its sweeper, but nobody
    heartbeats while the job runs unless it calls `beat()`, and a job's memory is the worker's."""

    def perform_job(self, job, queue):
        global _running
        _running, self._job, self._last_beat = self, job, time.monotonic()
        try:
            return super().perform_job(job, queue)
        finally:
            _running = None
            db.session.remove()  # the next job starts on a fresh session, as in a new work horse
            # what outlived the job (caches it filled) leaves the cyclic GC's view: full collections
            # scanning 100,000 cached grid points cost the next job more than its database writes;
            # collected first, so no garbage of the job is frozen (refcounting still frees the rest)
            gc.collect()
            gc.freeze()

    def beat(self) -> None:
        if time.monotonic() - self._last_beat >= self.job_monitoring_interval:
            self._last_beat = time.monotonic()
            self.maintain_heartbeats(self._job)


def beat() -> None:
    """Called by a long job between steps: under an in-process worker, the worker's and the job's
    heartbeats (at most every ttl / 3 s), which a forking worker sends on its own while it waits."""
    if _running is not None:
        _running.beat()


class ForgelineSimpleWorker(_Tracking, SimpleWorker):
    """Runs jobs in-process: for tests (burst mode) only, as it sends no heartbeat mid-job."""


def worker_class(queue_names: list[str], inprocess: frozenset[str]) -> type:
    """In-process when every queue it listens to is an in-process queue, else forking."""
    return ForgelineInProcessWorker if set(queue_names) <= inprocess else ForgelineWorker


def wait_for_redis(connection: Redis) -> None:
    for attempt in range(10**9):
        try:
            connection.ping()
            return
        except RedisError as exc:
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            log.warning("Redis does not answer (%s); trying again in %s s", exc, delay)
            time.sleep(delay)


def work_forever(
    queue_names: list[str],
    connection: Redis,
    config,
    name: str | None = None,
    burst: bool = False,
    inprocess: frozenset[str] = frozenset(),
):
    """Run a worker until it is asked to stop (SIGTERM/SIGINT) or, in burst mode, runs out of jobs;
    when Redis goes away, even mid-job, wait for it and start again under the same name. On
    `inprocess` queues alone it runs jobs in its own process (`worker_class`)."""
    kind = worker_class(queue_names, inprocess)
    while True:
        worker = kind(
            [Queue(n, connection=connection) for n in queue_names],
            connection=connection,
            name=name,
            ttl=config["WORKER_TTL"],
            sweep_seconds=config["SWEEP_SECONDS"],
        )
        try:
            worker.work(with_scheduler=True, burst=burst)
        except RedisError as exc:  # raised by RQ's teardown, which tells Redis the worker died
            log.warning("worker %s lost Redis: %s", worker.name, exc)
        if burst or worker._shutdown_requested_date is not None:  # asked to stop (SIGTERM, SIGINT)
            return
        worker.wait_for_orphan()
        wait_for_redis(connection)
        connection.delete(worker.key)  # our own key, if Redis kept it: the name is free again
        name = worker.name
