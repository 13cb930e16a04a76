"""Request and response schemas of the parallel-ops API (they also feed OpenAPI)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.api import NO_NUL, Id, Out, PageMeta, Text, paging_query
from app.ops.failures import EXPORT_KINDS
from app.ops.summary import DEFAULT_WINDOW, WINDOWS
from app.ops.thresholds import Overrides
from app.ops.trends import BUCKETS, DEFAULT_BUCKET


def _days(name: str, allowed: tuple[int, ...], description: str) -> Any:
    """An int of days that must be one of `allowed` (a 422 naming `name` otherwise)."""

    def one_of(days: int) -> int:
        if days not in allowed:
            raise ValueError(f"{name} is one of {', '.join(map(str, allowed))}")
        return days

    return Annotated[
        int,
        Field(ge=min(allowed), le=max(allowed), description=description, json_schema_extra={"enum": list(allowed)}),
        AfterValidator(one_of),
    ]


WindowDays = _days("window_days", WINDOWS, "the window in days, ending now")
BucketDays = _days("bucket_days", BUCKETS, "the length of each bucket in days, never above the window")


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: WindowDays = DEFAULT_WINDOW


class TrendsQuery(SummaryQuery):
    bucket_days: BucketDays = DEFAULT_BUCKET

    @field_validator("bucket_days")
    @classmethod
    def _within_the_window(cls, days: int, info: ValidationInfo) -> int:
        window = info.data.get("window_days")
        if window is not None and days > window:
            raise ValueError(f"bucket_days ({days}) is above window_days ({window})")
        return days


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


class ConsumptionOut(BaseModel):
    templates_without_active: int = Field(description="now: templates none of whose versions is active")
    inbox_dead: int = Field(description="now: MES inbox events dead, waiting for a replay")
    plans_ended: int = Field(description="active or closed plans whose period ended in the window")
    plans_out_of_tolerance: int = Field(description="of those, the ones whose variance is out of tolerance")
    out_of_tolerance_rate: Rate


class OverlayCacheOut(BaseModel):
    requests: int = Field(description="component lookups (one per ref) over the UTC days of the window")
    hits: int
    hit_rate: Rate
    available: bool = Field(description="false when Redis, which keeps the counts, did not answer")


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
    consumption: ConsumptionOut
    overlay_cache: OverlayCacheOut
    job_history: list[QueueOut]


class CountsOut(BaseModel):
    total: int
    failed: int


class DocSyncBucketOut(CountsOut):
    dead_letter: int = Field(description="of the failed jobs, those no replay has been made of")


class ExportsBucketOut(BaseModel):
    bom_delta: CountsOut
    workorder_packs: CountsOut


class BreakagesBucketOut(BaseModel):
    total: int = Field(description="incidents that occurred in the bucket, canceled ones apart")
    open: int = Field(description="of them, unresolved now")
    helpdesk_failed: int = Field(description="their helpdesk sends failed or dead")


class BucketOut(BaseModel):
    start: datetime
    end: datetime
    doc_sync: DocSyncBucketOut
    workflow_runs: CountsOut
    flow_runs: CountsOut
    optimizations: CountsOut
    exports: ExportsBucketOut
    breakages: BreakagesBucketOut
    job_history: dict[str, CountsOut] = Field(description="per queue with a job in the window")


class TrendsOut(BaseModel):
    window: WindowOut
    bucket_days: int
    buckets: list[BucketOut] = Field(description="oldest first; every bucket, empty ones with zeros")


# ---- alerts -----------------------------------------------------------------------------------


class AlertsQuery(Overrides):
    """The window of the summary's rates, one level or both, and any threshold for this request."""

    level: Literal["warn", "critical"] | None = Field(None, description="only alerts of this level")
    window_days: WindowDays = DEFAULT_WINDOW


class AlertOut(BaseModel):
    code: str
    level: Literal["warn", "critical"]
    message: str
    figure: float | None = Field(description="the value that fired (a rate, minutes, seconds, a failure count)")
    threshold: float | None = Field(description="the threshold it passed; null for a state (a site down)")
    link: str = Field(description="the page of the rows behind it")


class AlertsOut(BaseModel):
    window_days: int
    thresholds: dict[str, float] = Field(description="the thresholds in force: defaults, OPS_THRESHOLDS, this request")
    alerts: list[AlertOut]


# ---- ops switches -----------------------------------------------------------------------------

Reason = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class SwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="why: shown with the switch and to whoever is refused")


class IntakeOut(BaseModel):
    kind: str
    paused: bool
    paused_by: str | None
    paused_at: datetime | None
    reason: str | None


class BreakerSwitchOut(BaseModel):
    target: Literal["site", "helpdesk"]
    id: int
    name: str
    open: bool
    held: bool = Field(description="opened by hand: stays open until closed by hand")
    held_by: str | None
    held_at: datetime | None
    reason: str | None
    failures: int
    open_until: datetime | None = Field(description="end of the cooldown after failures")


class SwitchesOut(BaseModel):
    intake: list[IntakeOut]
    breakers: list[BreakerSwitchOut]


# --- failures (docs/ops.md "Failure tables") ---------------------------------------------------


class _FailuresQuery(paging_query(20)):
    model_config = ConfigDict(extra="forbid")

    window_days: WindowDays = DEFAULT_WINDOW

    def filters(self) -> dict[str, Any]:
        """The area's own filters (None: not filtered)."""
        return self.model_dump(exclude={"window_days", "page", "per_page"})


class DocSyncFailuresQuery(_FailuresQuery):
    site: Annotated[str, Field(min_length=1, max_length=80, pattern=NO_NUL)] | None = Field(
        None, description="a remote site's name"
    )
    direction: Literal["push", "pull"] | None = None
    dead_letter: bool = Field(False, description="only failed jobs no replay has been made of yet")


class WorkflowFailuresQuery(_FailuresQuery):
    rule: Id | None = Field(None, description="a workflow rule's id")
    phase: Literal["before", "after"] | None = None


class HelpdeskFailuresQuery(_FailuresQuery):
    status: Literal["failed", "dead"] | None = None


class ExportFailuresQuery(_FailuresQuery):
    kind: Literal[EXPORT_KINDS] | None = None


class Links(BaseModel):
    """Where a failure's row leads: its page, its RQ job on the queues pages (when it had one)."""

    page: str
    job: str | None


def _job(*path: str) -> AliasPath:
    """A doc-sync failure's field read from its sync job (failures.DocSyncFailure.job)."""
    return AliasPath("job", *path)


def _row(name: str) -> AliasPath:
    """An export failure's field read from its export or pack (failures.ExportFailure.row)."""
    return AliasPath("row", name)


# The four failure rows are read from failures.read()'s items (app.core.api.read), one path for all.


class DocSyncFailureOut(Out):
    id: int = Field(validation_alias=_job("id"))
    site: str = Field(validation_alias=_job("site", "name"))
    direction: str = Field(validation_alias=_job("direction"))
    status: str = Field(validation_alias=_job("status"))
    created_at: datetime = Field(validation_alias=_job("created_at"))
    ended_at: datetime | None = Field(validation_alias=_job("ended_at"))
    error: str | None = Field(validation_alias=_job("error"))
    attempts: int | None = Field(description="the RQ job's attempts; null when the job history has no record")
    replayed: bool
    replay_id: int | None = Field(description="the sync job that replayed it")
    links: Links


class WorkflowFailureOut(Out):
    id: int
    eco_id: int
    eco: str = Field(validation_alias=AliasPath("eco", "number"), description="the ECO's number")
    rule_id: int
    rule: str = Field(validation_alias=AliasPath("rule", "name"))
    phase: str
    action: str
    from_stage: str
    to_stage: str
    result_code: str
    started_at: datetime
    error: str | None
    attempts: int
    links: Links


class HelpdeskFailureOut(Out):
    id: int
    code: str
    helpdesk_status: str
    occurred_at: datetime
    error: str | None = Field(validation_alias="helpdesk_error")
    error_category: str | None = Field(validation_alias="helpdesk_error_category")
    attempts: int = Field(validation_alias="helpdesk_attempts")
    links: Links


class ExportFailureOut(Out):
    kind: str
    id: int = Field(validation_alias=_row("id"))
    created_at: datetime = Field(validation_alias=_row("created_at"))
    error: str | None = Field(validation_alias=_row("error"))
    attempts: int | None
    links: Links


class DocSyncFailureList(BaseModel):
    failures: list[DocSyncFailureOut]
    paging: PageMeta


class WorkflowFailureList(BaseModel):
    failures: list[WorkflowFailureOut]
    paging: PageMeta


class HelpdeskFailureList(BaseModel):
    failures: list[HelpdeskFailureOut]
    paging: PageMeta


class ExportFailureList(BaseModel):
    failures: list[ExportFailureOut]
    paging: PageMeta


# --- exports ---------------------------------------------------------------------------------------


class SummaryExportQuery(SummaryQuery):
    format: Literal["json", "csv", "md"] = Field(description="json: the rows; csv and md: the same rows as a table")


class TrendsExportQuery(TrendsQuery):
    format: Literal["csv", "md"] = "csv"
