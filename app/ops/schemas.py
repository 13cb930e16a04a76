"""Request and response schemas of the parallel-ops API (they also feed OpenAPI)."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.ops.summary import DEFAULT_WINDOW, WINDOWS


def _one_of_windows(days: int) -> int:
    if days not in WINDOWS:
        raise ValueError(f"window_days is one of {', '.join(map(str, WINDOWS))}")
    return days


WindowDays = Annotated[
    int,
    Field(
        ge=min(WINDOWS),
        le=max(WINDOWS),
        description="the window in days, ending now",
        json_schema_extra={"enum": list(WINDOWS)},
    ),
    AfterValidator(_one_of_windows),
]


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: WindowDays = DEFAULT_WINDOW


Rate = Annotated[float | None, Field(description="0..1; null when there is nothing to divide")]


class WindowOut(BaseModel):
    days: int
    start: datetime
    end: datetime


class SiteOut(BaseModel):
    site: str
    total: int
    failed: int
    success_rate: Rate


class DocSyncOut(BaseModel):
    total: int
    by_status: dict[str, int]
    by_direction: dict[str, int]
    success_rate: Rate
    dead_letter: int
    dead_letter_rate: Rate
    mean_attempts: float | None
    sites: list[SiteOut]


class WorkflowRunsOut(BaseModel):
    total: int
    by_status: dict[str, int]
    by_result_code: dict[str, int]
    failed_rate: Rate
    warning_rate: Rate


class StatusCountsOut(BaseModel):
    total: int
    by_status: dict[str, int]
    failed: int
    failed_rate: Rate


class ExportsOut(BaseModel):
    bom_delta: StatusCountsOut
    workorder_packs: StatusCountsOut


class BreakagesOut(BaseModel):
    total: int
    by_status: dict[str, int]
    open: int
    open_rate: Rate
    repeats: int
    repeat_rate: Rate
    helpdesk_by_status: dict[str, int]
    helpdesk_failed_rate: Rate


class QueueOut(BaseModel):
    queue: str
    total: int
    failed: int
    failed_rate: Rate
    duration_p50: float | None = Field(description="seconds")
    duration_p95: float | None = Field(description="seconds")
    wait_p95: float | None = Field(description="seconds from enqueue to the last start")


class SummaryOut(BaseModel):
    window: WindowOut
    doc_sync: DocSyncOut
    workflow_runs: WorkflowRunsOut
    flow_runs: StatusCountsOut
    optimizations: StatusCountsOut
    exports: ExportsOut
    breakages: BreakagesOut
    job_history: list[QueueOut]
