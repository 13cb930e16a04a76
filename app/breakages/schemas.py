"""Request and response schemas of the breakages API (they also feed OpenAPI)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasPath, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from app.breakages.figures import DEFAULT_TOP, DEFAULT_WINDOW_DAYS, MAX_WINDOW_DAYS
from app.breakages.models import HelpdeskStatus, IncidentStatus, Responsibility, Severity
from app.breakages.service import SORTS
from app.core.api import Id, Out, PageMeta, Text, TimelineEventOut, paging_query


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


LongText = Annotated[str, Field(max_length=20000, pattern=r"^[^\x00]*$")]


class IncidentFields(_In):
    bom_id: Id | None = Field(None, description="the product's BOM revision, when known")
    bom_line_id: Id | None = Field(None, description="a line of that revision; it names the component")
    component_id: Id | None = Field(None, description="the failed component (an item on the BOM revision)")
    batch_code: Text = Field("", max_length=80)
    production_order: Text = Field("", max_length=80)
    customer: Text = Field("", max_length=120)
    occurred_at: AwareDatetime | None = Field(None, description="defaults to now")
    responsibility: Responsibility = Responsibility.unknown
    root_cause: LongText = ""
    immediate_action: LongText = ""
    corrective_action: LongText = ""
    preventive_action: LongText = ""


class IncidentIn(IncidentFields):
    item_id: Id = Field(description="the product")
    description: LongText = Field(min_length=1)
    severity: Severity
    document_ids: list[Id] = Field(default_factory=list, max_length=50, description="documents to attach")


class IncidentPatch(_In):
    item_id: Id = None
    bom_id: Id | None = None
    bom_line_id: Id | None = None
    component_id: Id | None = None
    batch_code: Text = Field(None, max_length=80)
    production_order: Text = Field(None, max_length=80)
    customer: Text = Field(None, max_length=120)
    occurred_at: AwareDatetime = None
    description: LongText = Field(None, min_length=1)
    severity: Severity = None
    responsibility: Responsibility = None
    root_cause: LongText = None
    immediate_action: LongText = None
    corrective_action: LongText = None
    preventive_action: LongText = None


class IncidentQuery(_In, paging_query()):
    status: IncidentStatus | None = None
    severity: Severity | None = None
    responsibility: Responsibility | None = None
    item_id: Id | None = Field(None, description="product")
    component_id: Id | None = None
    batch_code: Text | None = Field(None, max_length=80)
    q: Text | None = Field(None, max_length=100, description="code, description, customer, order, batch contains")
    sort: Literal[tuple(SORTS)] = "occurred_at"
    order: Literal["asc", "desc"] = "desc"


class DocumentRef(Out):
    id: int
    number: str
    title: str


class IncidentOut(Out):
    id: int
    code: str
    status: str
    allowed_moves: list[str]
    severity: str
    responsibility: str
    item_id: int
    product: str = Field(validation_alias=AliasPath("item", "number"))
    bom_id: int | None
    bom: Annotated[str | None, BeforeValidator(lambda bom: bom and bom.ref)]
    bom_line_id: int | None
    component_id: int | None
    component: Annotated[str | None, BeforeValidator(lambda item: item and item.number)]
    batch_code: str
    production_order: str
    customer: str
    occurred_at: datetime
    description: str
    root_cause: str
    immediate_action: str
    corrective_action: str
    preventive_action: str
    verification_note: str
    reported_by: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    documents: list[DocumentRef]
    eco_id: int | None
    helpdesk_status: str
    helpdesk_error: str | None
    helpdesk_error_category: str | None
    ticket_id: str | None
    ticket_url: str | None
    ticket_status: str | None
    ticket_triage: dict[str, Any] | None


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    paging: PageMeta


class MoveIn(_In):
    to_status: Text = Field(max_length=20, description="; ".join(s.value for s in IncidentStatus))
    reason: Text = Field("", max_length=2000)
    verification_note: LongText = Field("", description="required to close (the 8D effectiveness check)")


class EventList(BaseModel):
    events: list[TimelineEventOut]
    paging: PageMeta


class PageQuery(_In, paging_query(50)):
    pass


class AttachIn(_In):
    document_id: Id


class MetricsQuery(_In):
    days: int = Field(DEFAULT_WINDOW_DAYS, ge=1, le=MAX_WINDOW_DAYS, description="the window, ending now")
    top: int = Field(DEFAULT_TOP, ge=1, le=100, description="components in the hotspots and the Pareto")


class WindowOut(BaseModel):
    days: int
    start: datetime
    end: datetime


class RepeatOut(BaseModel):
    incidents: int
    repeats: int
    rate: float


class ComponentOut(BaseModel):
    component_id: int
    number: str
    name: str
    count: int
    share: float
    score: int
    cumulative_share: float


class CountsOut(BaseModel):
    status: dict[str, int]
    severity: dict[str, int]
    responsibility: dict[str, int]


class MttrOut(BaseModel):
    resolved: int
    hours: float | None


class WeekOut(BaseModel):
    week: str
    incidents: int
    severe: int


class MetricsOut(BaseModel):
    window: WindowOut
    repeat: RepeatOut
    hotspots: list[ComponentOut]
    pareto: list[ComponentOut]
    counts: CountsOut
    mttr: MttrOut
    trend: list[WeekOut]


class ExportQuery(_In):
    export_format: Literal["csv", "md"] = "csv"


class IncidentExportQuery(IncidentQuery, ExportQuery):
    pass


class MetricsExportQuery(MetricsQuery, ExportQuery):
    pass


# ---- helpdesk ------------------------------------------------------------------


class EndpointIn(_In):
    name: Text = Field(min_length=1, max_length=80)
    base_url: Text = Field(min_length=1, max_length=300)
    token: Text | None = Field(None, max_length=500, description="sent as a bearer token; never shown again")
    webhook_secret: Text | None = Field(None, max_length=500, description="signs the helpdesk's webhook calls")


class EndpointPatch(_In):
    base_url: Text = Field(None, min_length=1, max_length=300)
    token: Text = Field(None, max_length=500)
    webhook_secret: Text = Field(None, max_length=500)


class EndpointOut(Out):
    id: int
    name: str
    base_url: str
    has_token: bool
    has_webhook_secret: bool
    status: str
    status_detail: str | None
    latency_ms: float | None
    checked_at: datetime | None
    failures: int
    breaker_open_until: datetime | None


class SendOut(Out):
    id: int
    code: str
    helpdesk_status: Literal[tuple(HelpdeskStatus)]
    helpdesk_job_id: str | None
    ticket_id: str | None
    ticket_url: str | None


class FailureQuery(_In, paging_query()):
    status: Literal[HelpdeskStatus.failed.value, HelpdeskStatus.dead.value] | None = None


class WebhookOut(BaseModel):
    code: str
    ticket_id: str
    ticket_status: str | None


class LoopbackOut(BaseModel):
    incident_id: int
    eco_id: int
    eco_number: str
    created: bool
