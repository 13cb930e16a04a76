from datetime import datetime
from typing import Any

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
