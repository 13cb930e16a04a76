"""Request and response schemas of the consumption API (they also feed OpenAPI)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasPath, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from app.consumption.models import Disposition, InboxState, PeriodUnit, PlanState, SourceType
from app.consumption.units import UNIT_NAMES
from app.core.api import Id, Out, PageMeta, Text, paging_query
from app.items.structure import quantity_text

MAX_QUANTITY = Decimal("999999999999")
Quantity = Annotated[
    Decimal,
    Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False, max_digits=18, decimal_places=6),
    PlainSerializer(lambda d: str(d), return_type=str),
]
DecimalText = Annotated[Decimal, PlainSerializer(quantity_text, return_type=str)]
Unit = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$", description=", ".join(UNIT_NAMES))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- plans -----------------------------------------------------------------


class PlanIn(_In):
    item_id: Id
    period_unit: PeriodUnit = PeriodUnit.week
    period_start: date
    period_end: date = Field(description="exclusive: a week plan ends on the next Monday")
    planned_quantity: Annotated[Quantity, Field(gt=0)]
    unit: Unit
    note: Text = Field("", max_length=500)
    template_key: Text | None = Field(
        None, max_length=80, description="make the plan the next version of this template"
    )


class PlanPatch(_In):
    item_id: Id = None
    period_unit: PeriodUnit = None
    period_start: date = None
    period_end: date = None
    planned_quantity: Annotated[Quantity, Field(gt=0)] = None
    unit: Unit = None
    note: Text = Field(None, max_length=500)


PLAN_SORT = Literal[
    "period_start",
    "-period_start",
    "planned_quantity",
    "-planned_quantity",
    "state",
    "-state",
    "item",
    "-item",
    "id",
    "-id",
]


class PlanQuery(_In, paging_query()):
    item_id: Id | None = None
    state: PlanState | None = None
    period_from: date | None = Field(None, description="plans whose period ends after this day")
    period_to: date | None = Field(None, description="plans whose period starts before this day")
    template_key: Text | None = Field(None, max_length=80)
    sort: PLAN_SORT = "-period_start"


class PlanOut(Out):
    id: int
    item_id: int
    item: str = Field(validation_alias=AliasPath("item", "number"))
    period_unit: PeriodUnit
    period_start: datetime
    period_end: datetime
    planned_quantity: DecimalText
    unit: str
    state: PlanState
    template_key: str | None
    version: int | None
    note: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class PlanList(BaseModel):
    plans: list[PlanOut]
    paging: PageMeta


class ImpactOut(BaseModel):
    plan_id: int
    unit: str
    planned_quantity: str
    active_plan_id: int | None
    active_planned_quantity: str | None = Field(description="the active version's, converted to this plan's unit")
    delta: str | None
    delta_ratio: float | None


class TemplateOut(Out):
    id: int
    key: str
    active_version: int | None
    versions: list[PlanOut]


class TemplateQuery(_In, paging_query()):
    pass


class TemplateList(BaseModel):
    templates: list[TemplateOut]
    paging: PageMeta


# ---- actuals ---------------------------------------------------------------


class RecordIn(_In):
    plan_id: Id
    source_type: SourceType = SourceType.manual
    source_id: Text = Field("", max_length=80)
    quantity: Quantity
    unit: Unit | None = Field(None, description="defaults to the plan's unit")
    recorded_at: AwareDatetime | None = Field(None, description="UTC; defaults to now")
    idempotency_key: Text | None = Field(None, min_length=1, max_length=120)


class RecordQuery(_In, paging_query(50)):
    plan_id: Id | None = None
    source_type: SourceType | None = None


class RecordOut(Out):
    id: int
    plan_id: int
    source_type: SourceType
    source_id: str
    quantity: DecimalText
    unit: str
    factor: float
    plan_unit: str = Field(validation_alias=AliasPath("plan", "unit"))
    plan_quantity: float
    recorded_at: datetime
    idempotency_key: str | None
    inbox_event_id: int | None
    created_by: str
    created_at: datetime


class RecordList(BaseModel):
    records: list[RecordOut]
    paging: PageMeta


# ---- MES inbox -------------------------------------------------------------


class MesEventIn(_In):
    """One event of a batch; a bad one is rejected with its reason, the others go on."""

    event_id: Text = Field(min_length=1, max_length=120, description="the MES's id of the event, unique")
    plan_id: Id
    quantity: Quantity
    unit: Unit
    recorded_at: AwareDatetime
    source_type: SourceType = SourceType.mes
    source_id: Text = Field("", max_length=80)


class InboxIn(_In):
    events: list[Any] = Field(
        min_length=1, max_length=10_000, description="MesEventIn objects; each is checked on its own"
    )


class DispositionOut(BaseModel):
    index: int
    event_id: str | None
    disposition: Disposition
    reason: str | None


class InboxOut(BaseModel):
    batch_id: int
    job_id: str | None
    accepted: int
    duplicate: int
    rejected: int
    dispositions: list[DispositionOut]


class EventQuery(_In, paging_query(50)):
    state: InboxState | None = None
    batch_id: Id | None = None


class EventOut(Out):
    id: int
    batch_id: int
    event_id: str = Field(validation_alias="event_key")
    plan_id: int
    source_type: str
    source_id: str
    quantity: DecimalText
    unit: str
    recorded_at: datetime
    state: InboxState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None


class EventList(BaseModel):
    events: list[EventOut]
    counts: dict[str, int]
    paging: PageMeta


class ReplayAllOut(BaseModel):
    replayed: int


# ---- variance --------------------------------------------------------------


class VarianceOut(BaseModel):
    planned: float
    actual: float
    delta: float
    delta_ratio: float | None
    status: Literal["ok", "over", "under", "none"]


class BucketOut(VarianceOut):
    start: datetime
    end: datetime


class PlanVarianceOut(VarianceOut):
    plan_id: int
    unit: str
    tolerance: float
    buckets: list[BucketOut]


class ToleranceQuery(_In):
    tolerance: float | None = Field(None, ge=0, le=100, description="percent; defaults to CONSUMPTION_TOLERANCE")


class DashboardQuery(ToleranceQuery, paging_query()):
    item_id: Id | None = None
    state: PlanState | None = None


class DashboardRow(VarianceOut):
    plan: PlanOut


class DashboardOut(BaseModel):
    tolerance: float
    rows: list[DashboardRow]
    paging: PageMeta
