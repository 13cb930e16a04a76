from flask import Blueprint

from app.core.api import API_PREFIX, JobId, endpoint, page_out, read
from app.core.auth.roles import OPERATOR
from app.core.jobs.models import JobState
from app.extensions import db
from app.queues import service
from app.queues.schemas import (
    DemoJobIn,
    FailedJobOut,
    FailedList,
    FailedQuery,
    JobOut,
    JobRef,
    QueueList,
    RequeueResult,
    WorkerList,
)

bp = Blueprint("queues_api", __name__, url_prefix=API_PREFIX)


@endpoint(bp, "/queues", summary="Every RQ queue with its count per registry", roles=OPERATOR, response=QueueList)
def list_queues():
    return QueueList(queues=service.queue_counts())


@endpoint(
    bp,
    "/queues/failed",
    summary="Failed jobs, filtered, sorted and paged",
    roles=OPERATOR,
    query=FailedQuery,
    response=FailedList,
)
def list_failed(query: FailedQuery):
    page = service.failed_jobs(query.queue, query.q, query.sort, query.page, query.per_page)
    return page_out(FailedList, page, _failed_job_out)


def _failed_job_out(row: dict) -> FailedJobOut:
    return read(FailedJobOut, row["job"], error=row["error"])


@endpoint(
    bp,
    "/queues/<name>/requeue-failed",
    "POST",
    summary="Requeue every failed job of a queue",
    roles=OPERATOR,
    response=RequeueResult,
)
def requeue_failed(name: str):
    requeued, left = service.requeue_all(name)
    db.session.commit()
    return RequeueResult(queue=name, requeued=requeued, left=left)


@endpoint(
    bp, "/workers", summary="RQ workers with state, current job and heartbeat", roles=OPERATOR, response=WorkerList
)
def list_workers():
    return WorkerList(workers=service.workers())


@endpoint(
    bp,
    "/jobs/<job_id>",
    summary="One job: args, meta, timings, traceback and its history row",
    roles=OPERATOR,
    response=JobOut,
)
def get_job(job_id: JobId):
    return JobOut.model_validate(service.job_detail(job_id))


@endpoint(
    bp,
    "/jobs/demo",
    "POST",
    summary="Enqueue a demo job that reports progress",
    roles=OPERATOR,
    body=DemoJobIn,
    response=JobRef,
    status=202,
)
def enqueue_demo(body: DemoJobIn):
    job_id = service.enqueue_demo(body.seconds, body.fail)
    db.session.commit()
    return JobRef(id=job_id, status=JobState.queued)


def _action(job_id: JobId, action) -> JobRef:
    action(job_id)
    db.session.commit()
    return JobRef(id=job_id, status=service.job_detail(job_id)["status"])


@endpoint(
    bp, "/jobs/<job_id>/requeue", "POST", summary="Requeue a failed or stopped job", roles=OPERATOR, response=JobRef
)
def requeue_job(job_id: JobId):
    return _action(job_id, service.requeue)


@endpoint(bp, "/jobs/<job_id>/cancel", "POST", summary="Cancel a queued job", roles=OPERATOR, response=JobRef)
def cancel_job(job_id: JobId):
    return _action(job_id, service.cancel)


@endpoint(bp, "/jobs/<job_id>/stop", "POST", summary="Stop a running job", roles=OPERATOR, response=JobRef)
def stop_job(job_id: JobId):
    return _action(job_id, service.stop)
