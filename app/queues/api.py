from flask import Blueprint

from app.core.api import API_PREFIX, JobId, endpoint, page_out, read
from app.core.auth.roles import ADMIN, OPERATOR
from app.core.jobs.models import JobState
from app.extensions import db
from app.queues import activity, browse, service
from app.queues.schemas import (
    BucketOut,
    DeletedJob,
    DemoJobIn,
    EmptyResult,
    FailedJobOut,
    FailedList,
    FailedQuery,
    JobGroupList,
    JobGroupOut,
    JobOut,
    JobRef,
    QueueDetail,
    QueueJobList,
    QueueJobOut,
    QueueJobsQuery,
    QueueList,
    RecentQuery,
    RequeueResult,
    Throughput,
    ThroughputQuery,
    WorkerDetail,
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
    bp, "/queues/<name>", summary="One queue: its counts and the workers on it", roles=OPERATOR, response=QueueDetail
)
def get_queue(name: str):
    counts = browse.counts(service.get_queue(name))
    return QueueDetail(name=name, counts=counts, workers=[w["name"] for w in service.workers() if name in w["queues"]])


@endpoint(
    bp,
    "/queues/<name>/jobs",
    summary="A queue's jobs in one registry, filtered by kind and text, paged in Redis",
    roles=OPERATOR,
    query=QueueJobsQuery,
    response=QueueJobList,
)
def list_queue_jobs(name: str, query: QueueJobsQuery):
    found = browse.jobs(name, query.registry, query.kind, query.q, query.page, query.per_page)
    return QueueJobList(
        queue=name,
        registry=found.registry,
        counts=found.counts,
        scanned=found.scanned,
        jobs=[QueueJobOut(**row) for row in found.page.items],
        paging=found.page.meta(),
    )


@endpoint(
    bp,
    "/queues/<name>/empty",
    "POST",
    summary="Delete every queued job of a queue (409 when none is queued)",
    roles=ADMIN,
    response=EmptyResult,
)
def empty_queue(name: str):
    deleted = browse.empty_queue(name)
    db.session.commit()
    return EmptyResult(queue=name, deleted=deleted)


@endpoint(
    bp,
    "/queues/<name>/throughput",
    summary="Jobs ended and the failure rate per time bucket, from the job history",
    roles=OPERATOR,
    query=ThroughputQuery,
    response=Throughput,
)
def queue_throughput(name: str, query: ThroughputQuery):
    service.get_queue(name)
    buckets = activity.throughput(query.window, name)[name]
    return Throughput(
        queue=name,
        window=query.window,
        buckets=[
            BucketOut(start=b.start, finished=b.finished, failed=b.failed, ended=b.ended, failure_rate=b.failure_rate)
            for b in buckets
        ],
    )


@endpoint(
    bp,
    "/queues/recent",
    summary="Recent jobs, one line per record they worked for (an optimization's chunks are one group)",
    roles=OPERATOR,
    query=RecentQuery,
    response=JobGroupList,
)
def recent_jobs(query: RecentQuery):
    page = activity.recent_groups(query.kind, query.queue, query.page, query.per_page)
    return page_out(JobGroupList, page, lambda group: JobGroupOut(**group))


@endpoint(
    bp, "/workers", summary="RQ workers with state, current job and heartbeat", roles=OPERATOR, response=WorkerList
)
def list_workers():
    return WorkerList(workers=service.workers())


@endpoint(
    bp,
    "/workers/<name>",
    summary="One worker: queues, current job, counts, birth and heartbeat verdict",
    roles=OPERATOR,
    response=WorkerDetail,
)
def get_worker(name: str):
    return WorkerDetail.model_validate(service.worker(name))


@endpoint(
    bp,
    "/jobs/<job_id>",
    "DELETE",
    summary="Delete a job that is not running (409 when it runs)",
    roles=ADMIN,
    response=DeletedJob,
)
def delete_job(job_id: JobId):
    what = browse.delete_job(job_id)
    db.session.commit()
    return DeletedJob(id=job_id, **what)


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
