"""Request and response schemas of the work-orders API (they also feed OpenAPI)."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field

from app.core.api import Id, Out, PageMeta, Text, paging_query
from app.workorders.models import WorkOrderState


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Minutes = Annotated[float, Field(ge=0, le=100000)]
Sequence = Annotated[int, Field(ge=1, le=99999)]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
Due = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))]


class RoutingIn(_In):
    item_id: Id
    name: Text = Field(min_length=1, max_length=80)
    is_default: bool = False


class RoutingPatch(_In):
    name: Text = Field(None, min_length=1, max_length=80)
    is_default: bool = Field(None, description="true makes it the item's default (the other loses it)")


class OperationIn(_In):
    code: Code
    name: Text = Field(min_length=1, max_length=120)
    sequence: Sequence | None = Field(None, description="defaults to the last one + 10")
    work_centre: Text = Field("", max_length=60)
    setup_minutes: Minutes = 0
    run_minutes: Minutes = 0


class OperationPatch(_In):
    code: Code = None
    name: Text = Field(None, min_length=1, max_length=120)
    sequence: Sequence = None
    work_centre: Text = Field(None, max_length=60)
    setup_minutes: Minutes = None
    run_minutes: Minutes = None


class OrderEntry(_In):
    operation_id: Id
    sequence: Sequence


class ReorderIn(_In):
    order: list[OrderEntry] = Field(min_length=1, max_length=500)


class RoutingQuery(_In, paging_query()):
    item_id: Id | None = None


class OperationOut(Out):
    id: int
    sequence: int
    code: str
    name: str
    work_centre: str
    setup_minutes: float
    run_minutes: float


def _number(row: Any) -> str | None:
    return row.number if row is not None else None


class LinkOut(Out):
    id: int
    routing_id: int
    operation_id: int | None
    operation: Annotated[str | None, BeforeValidator(lambda op: op.code if op is not None else None)]
    document_id: int
    document: Annotated[str, BeforeValidator(_number)]
    title: str = Field(validation_alias=AliasPath("document", "title"))
    inherit_to_operations: bool
    visible_in_production: bool
    locked_version_id: int | None
    locked_version: Annotated[int | None, BeforeValidator(lambda v: v.version if v is not None else None)]
    latest_version: int | None
    stale: bool
    version_lock_source: str | None
    locked_by: str | None
    locked_at: datetime | None
    created_by: str
    created_at: datetime


class RoutingOut(Out):
    id: int
    item_id: int
    item: Annotated[str, BeforeValidator(_number)]
    name: str
    is_default: bool
    operations: list[OperationOut]
    links: list[LinkOut]
    created_at: datetime
    updated_at: datetime


class RoutingSummary(Out):
    id: int
    item_id: int
    item: Annotated[str, BeforeValidator(_number)]
    name: str
    is_default: bool


class RoutingList(BaseModel):
    routings: list[RoutingSummary]
    paging: PageMeta


class LinkIn(_In):
    routing_id: Id
    document_id: Id
    operation_id: Id | None = Field(None, description="an operation of the routing; none: the routing as a whole")
    inherit_to_operations: bool = Field(True, description="a routing-level link flows down to every operation")
    visible_in_production: bool = True


class LinkPatch(_In):
    inherit_to_operations: bool = None
    visible_in_production: bool = None


class LockIn(_In):
    version_id: Id | None = Field(None, description="a version of the link's document; none: the latest")


class LinkQuery(_In, paging_query(50)):
    routing_id: Id


class LinkList(BaseModel):
    links: list[LinkOut]
    paging: PageMeta


class WorkOrderIn(_In):
    item_id: Id
    routing_id: Id | None = Field(None, description="defaults to the item's default routing")
    quantity: float = Field(gt=0, le=1e9)
    due_date: Due
    note: Text = Field("", max_length=2000)


class WorkOrderPatch(_In):
    routing_id: Id = None
    quantity: float = Field(None, gt=0, le=1e9)
    due_date: Due = None
    note: Text = Field(None, max_length=2000)


class MoveIn(_In):
    to_state: Text = Field(max_length=20, description="; ".join(s.value for s in WorkOrderState))


class WorkOrderQuery(_In, paging_query()):
    state: WorkOrderState | None = None
    item_id: Id | None = None
    due_from: Due | None = None
    due_to: Due | None = None
    q: Text | None = Field(None, max_length=100, description="work-order or item number contains")


class WorkOrderOperationOut(OperationOut):
    """A work order's copy of a routing operation (the same fields)."""


class WorkOrderOut(Out):
    id: int
    number: str
    item_id: int
    item: Annotated[str, BeforeValidator(_number)]
    routing_id: int
    routing: Annotated[str, BeforeValidator(lambda r: r.name)]
    quantity: float
    due_date: date
    state: str
    allowed_moves: list[str]
    note: str
    operations: list[WorkOrderOperationOut]
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None


class WorkOrderList(BaseModel):
    workorders: list[WorkOrderOut]
    paging: PageMeta


class EffectiveOut(BaseModel):
    link_id: int
    document_id: int
    number: str
    title: str
    source: str = Field(description="operation: its own link; routing: the routing's (inherited) link")
    overrides_link_id: int | None
    hidden: bool
    version: int
    version_id: int
    locked: bool
    lock_source: str | None
    stale: bool
    sha256: str
    size: int
    content_type: str


class OperationDocumentsOut(BaseModel):
    id: int | None = Field(description="the work order's operation (none before release: the routing's)")
    sequence: int
    code: str
    name: str
    documents: list[EffectiveOut]


class DocumentsOut(BaseModel):
    workorder: str
    state: str
    order_documents: list[EffectiveOut]
    operations: list[OperationDocumentsOut]


class DocumentsQuery(_In):
    production: bool = Field(False, description="only what the shop floor sees (hidden links left out)")


class PackIn(_In):
    operation_id: Id | None = Field(None, description="one operation of the work order; none: all of it")
    require_locked: bool = Field(False, description="409 naming the links not locked to a version")


class PackOut(Out):
    id: int
    workorder_id: int
    operation_id: int | None
    require_locked: bool
    status: str
    job_id: str | None
    manifest_sha256: str | None
    size: int | None
    documents: int
    cached: bool
    error: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
