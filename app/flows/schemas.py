from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import Out, PageMeta, Text, paging_query
from app.flows.document import MAX_DOCUMENT
from app.flows.service import MAX_FEED_ITEMS, MAX_WAIT_FOR_INPUT


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlowIn(_In):
    document: Text = Field(min_length=1, max_length=MAX_DOCUMENT, description="the flow as YAML or JSON")


class PagingQuery(paging_query()):
    """Paging of the flow list."""


class TraceQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)


class ValidationOut(BaseModel):
    valid: bool
    name: str
    routines: int
    connections: int


class PolicyInfo(BaseModel):
    type: str
    config: dict[str, Any]
    description: str


class SlotInfo(BaseModel):
    name: str
    max_queue_length: int
    watermark: float


class EventInfo(BaseModel):
    name: str
    targets: list[str]


class RoutineInfo(BaseModel):
    id: str
    type: str
    config: dict[str, Any]
    policy: PolicyInfo
    error_handler: dict[str, Any]
    slots: list[SlotInfo]
    events: list[EventInfo]
    entry: bool = False


class ConnectionInfo(BaseModel):
    source: str
    event: str
    target: str
    slot: str


class FlowSummary(Out):
    id: int
    name: str
    description: str
    created_by: str
    created_at: datetime


class FlowOut(FlowSummary):
    document: str
    routines: list[RoutineInfo]
    connections: list[ConnectionInfo]
    entries: list[str]


class FlowList(BaseModel):
    flows: list[FlowSummary]
    paging: PageMeta


class RunIn(_In):
    wait_for_input: int = Field(
        0, ge=0, le=MAX_WAIT_FOR_INPUT, description="seconds an idle run waits for fed input before it completes"
    )


class RunOut(Out):
    id: int
    job_id: str
    flow_id: int
    status: str
    wait_for_input: int
    actor: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None


class RunList(BaseModel):
    runs: list[RunOut]


class FeedIn(_In):
    routine: Text = Field(min_length=1, max_length=64)
    slot: Text = Field(min_length=1, max_length=64)
    items: list[Any] = Field(min_length=1, max_length=MAX_FEED_ITEMS)


class BreakpointIn(_In):
    kind: Literal["routine", "slot", "connection"]
    target: Text = Field(
        min_length=1, max_length=300, description='"routine", "routine.slot" or "source.event->target.slot"'
    )
    condition: Text | None = Field(None, max_length=500, description="on the data, e.g. \"item['qty'] > 10\"")


class BreakpointOut(BaseModel):
    id: str
    kind: str
    target: str
    condition: str | None
    hits: int


class HeldOut(BreakpointOut):
    data: list[Any]
    at: datetime


class QueueStatus(BaseModel):
    unconsumed_count: int
    total_count: int
    max_length: int
    watermark_threshold: int
    usage_percentage: float = Field(description="0..1")
    pressure_level: str = Field(description="low < 0.6 <= medium < watermark <= high < 1.0 <= critical")
    is_full: bool
    is_near_full: bool


class RoutineStats(BaseModel):
    status: str
    active: bool
    executions: int
    errors: int
    retries: int
    items_in: int
    discarded: int
    last_execution: datetime | None
    last_error: str | None
    total_duration: float
    max_duration: float
    avg_duration: float | None


class TraceEntry(BaseModel):
    seq: int
    routine: str
    status: str
    started_at: datetime
    duration: float
    items: int
    error: str | None


class RunRef(BaseModel):
    job_id: str
    run_id: int
    flow_id: int
    flow: str


class StateOut(RunRef):
    status: str
    error: str | None
    started_at: datetime | None
    ended_at: datetime | None
    active_routines: list[str]
    backpressure_waits: int


class MetricsOut(RunRef):
    routines: dict[str, RoutineStats]


class TraceOut(RunRef):
    trace: list[TraceEntry]


class QueuesOut(RunRef):
    queues: dict[str, dict[str, QueueStatus]]


class RoutineQueuesOut(RunRef):
    routine: str
    slots: dict[str, QueueStatus]


class RoutineStatusOut(BaseModel):
    status: str
    active: bool


class RoutinesStatusOut(RunRef):
    active_routines: list[str]
    routines: dict[str, RoutineStatusOut]


class MonitoringOut(StateOut):
    breakpoints: list[BreakpointOut] = []
    held: HeldOut | None = None
    stepping: bool = False
    routines: dict[str, RoutineStats]
    queues: dict[str, dict[str, QueueStatus]]
    trace: list[TraceEntry]
