from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import Out, PageMeta, Text, paging_query


class QueueCounts(BaseModel):
    queued: int
    started: int
    deferred: int
    scheduled: int
    finished: int
    failed: int
    canceled: int


class QueueOut(BaseModel):
    name: str
    counts: QueueCounts


class QueueList(BaseModel):
    queues: list[QueueOut]


class WorkerOut(BaseModel):
    name: str
    state: str
    heartbeat: Literal["healthy", "late", "dead"] = Field(
        description="healthy: on time; late: overdue, more than halfway to WORKER_TTL; dead: silent for WORKER_TTL"
    )
    heartbeat_age: float | None = Field(description="seconds since the last heartbeat")
    queues: list[str]
    current_job_id: str | None
    current_job: str | None
    last_heartbeat: datetime | None
    birth: datetime | None
    successful: int
    failed: int
    working_seconds: float
    hostname: str | None
    pid: int | None


class WorkerList(BaseModel):
    workers: list[WorkerOut]


class WorkerDetail(WorkerOut):
    current_job_status: str | None
    current_job_started_at: datetime | None
    current_job_progress: float | None = Field(description="0..1, as the job last reported it")
    current_job_message: str | None


class QueueDetail(BaseModel):
    name: str
    counts: QueueCounts
    workers: list[str] = Field(description="names of the live workers that listen on this queue")


REGISTRY_PATTERN = "^(queued|started|finished|failed|deferred|scheduled|canceled)$"


class QueueJobsQuery(paging_query()):
    registry: str = Field("queued", pattern=REGISTRY_PATTERN, description="the queue's list or one of its registries")
    kind: Text | None = Field(None, max_length=200, description="the job history's kind (e.g. optimization_chunk)")
    q: Text | None = Field(None, max_length=200, description="text in the job id, record id, user or error")


class QueueJobOut(BaseModel):
    id: str
    in_redis: bool = Field(description="false: the registry still names the job, Redis no longer has it")
    kind: str
    func: str | None
    description: str | None
    entity: str | None
    entity_id: str | None
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    worker: str | None
    attempts: int | None
    error: str | None


class QueueJobList(BaseModel):
    queue: str
    registry: str
    counts: QueueCounts
    scanned: int | None = Field(description="with a filter: how many of the registry's ids were matched")
    jobs: list[QueueJobOut]
    paging: PageMeta


class EmptyResult(BaseModel):
    queue: str
    deleted: int


class DeletedJob(BaseModel):
    id: str
    status: str = Field(description="the status it had")
    queue: str
    description: str


class ThroughputQuery(BaseModel):
    window: str = Field("hour", pattern="^(hour|day)$", description="hour: 5-minute buckets; day: 1-hour buckets")


class BucketOut(BaseModel):
    start: datetime
    finished: int
    failed: int = Field(description="failed, stopped or lost")
    ended: int
    failure_rate: float | None = Field(description="failed / ended; null when nothing ended")


class Throughput(BaseModel):
    queue: str
    window: str
    buckets: list[BucketOut]


class RecentQuery(paging_query(15)):
    kind: Text | None = Field(None, max_length=200)
    queue: Text | None = Field(None, max_length=200)


class JobGroupOut(BaseModel):
    key: str = Field(description="kind:entity:entity_id for one record's jobs, else the job id")
    kind: str
    queue: str
    entity: str | None
    entity_id: str | None
    jobs: int
    finished: int
    failed: int = Field(description="failed, stopped or lost")
    running: int
    waiting: int = Field(description="queued, or failed and to be retried")
    canceled: int
    job_id: str | None = Field(description="the job, when the group has one")
    status: str
    first_enqueued: datetime | None
    last_enqueued: datetime | None
    last_ended: datetime | None


class JobGroupList(BaseModel):
    groups: list[JobGroupOut]
    paging: PageMeta


class HistoryOut(Out):
    id: str
    queue: str
    kind: str
    entity: str | None
    entity_id: str | None
    status: str
    actor: str
    enqueued_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    wait: float | None
    duration: float | None
    attempts: int
    error: str | None


class JobOut(BaseModel):
    id: str
    in_redis: bool
    queue: str
    status: str
    func: str | None
    description: str | None
    args: list[str]
    kwargs: dict[str, str]
    meta: dict[str, Any]
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    timeout: int | float | None
    retries_left: int | None
    worker: str | None
    traceback: str | None
    history: HistoryOut | None


class FailedQuery(paging_query()):
    queue: Text | None = Field(None, description="a queue name (GET /api/v1/queues lists them)")
    q: Text | None = Field(None, max_length=200, description="text in the error or function name")
    sort: str = Field("newest", pattern="^(newest|oldest)$")


class FailedJobOut(Out):  # read from the RQ job; the error comes from its traceback
    id: str
    queue: str = Field(validation_alias="origin")
    func: str | None = Field(validation_alias="func_name")
    error: str
    ended_at: datetime | None


class FailedList(BaseModel):
    jobs: list[FailedJobOut]
    paging: PageMeta


class DemoJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(3, ge=0, le=600)
    fail: bool = False


class JobRef(BaseModel):
    id: str
    status: str


class RequeueResult(BaseModel):
    queue: str
    requeued: int
    left: int = Field(description="failed jobs left in place: their record says they must not run again")
