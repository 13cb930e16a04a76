from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field

from app.core.api import Out, PageMeta, Text, paging_query
from app.items.compare import MAX_LEVELS, MODES
from app.items.models import Lifecycle
from app.items.structure import quantity_text

ItemType = Literal["part", "assembly"]
Mode = Literal[tuple(MODES)]  # type: ignore[valid-type]
Quantity = Decimal


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Text = Field(min_length=1, max_length=40, description="unique; letters, digits, '.', '_', '-'")
    name: Text = Field(min_length=1, max_length=200)
    item_type: ItemType = "part"
    uom: Text = Field("EA", min_length=1, max_length=10)
    revision: str = Field("A", pattern="^[A-Z]{1,4}$")
    lifecycle: Lifecycle = Lifecycle.draft
    description: Text = Field("", max_length=5000)


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Text = Field(None, min_length=1, max_length=40)
    name: Text = Field(None, min_length=1, max_length=200)
    item_type: ItemType = None
    uom: Text = Field(None, min_length=1, max_length=10)
    revision: str = Field(None, pattern="^[A-Z]{1,4}$")
    lifecycle: Lifecycle = None
    description: Text = Field(None, max_length=5000)


class ItemOut(Out):
    id: int
    number: str
    name: str
    item_type: str
    uom: str
    revision: str
    lifecycle: str
    description: str
    created_at: datetime
    updated_at: datetime


class ItemQuery(paging_query()):
    q: Text | None = Field(None, max_length=200, description="text in the number or name")
    item_type: ItemType | None = None
    lifecycle: Lifecycle | None = None


class ItemList(BaseModel):
    items: list[ItemOut]
    paging: PageMeta


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    child: Text = Field(min_length=1, max_length=40, description="item number of the child")
    quantity: Quantity = Field(gt=0, max_digits=18, decimal_places=6)
    unit: Text | None = Field(None, max_length=10, description="defaults to the child's unit of measure")
    find_number: int | None = Field(None, ge=0, le=999999)
    refdes: Text = Field("", max_length=1000, description="reference designators, e.g. 'R1,R2'")
    note: Text = Field("", max_length=500)


class LinePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    child: Text = Field(None, min_length=1, max_length=40)
    quantity: Quantity = Field(None, gt=0, max_digits=18, decimal_places=6)
    unit: Text | None = Field(None, max_length=10)
    find_number: int | None = Field(None, ge=0, le=999999)
    refdes: Text = Field(None, max_length=1000)
    note: Text = Field(None, max_length=500)


class LineOut(Out):
    id: int
    child: str = Field(validation_alias=AliasPath("child", "number"))
    child_name: str = Field(validation_alias=AliasPath("child", "name"))
    quantity: Annotated[str, BeforeValidator(quantity_text)]
    unit: str
    find_number: int | None
    refdes: str
    note: str


class BomSummary(Out):
    id: int
    ref: str
    item: str = Field(validation_alias=AliasPath("item", "number"))
    revision: str
    state: str
    created_at: datetime
    released_at: datetime | None
    line_count: Annotated[int, BeforeValidator(len)] = Field(validation_alias="lines")


class BomOut(BomSummary):
    lines: list[LineOut]


class BomList(BaseModel):
    boms: list[BomSummary]


class LineResult(BaseModel):
    line: LineOut
    bom: BomSummary = Field(description="the revision the edit landed on (a new draft when the BOM was released)")


class StructureQuery(BaseModel):
    max_levels: int = Field(3, ge=1, le=MAX_LEVELS)


class StructureLine(BaseModel):
    path: str
    level: int
    child: str
    child_name: str
    quantity: str
    extended_quantity: str
    unit: str
    find_number: str
    refdes: str
    note: str


class Structure(BaseModel):
    bom: BomSummary
    max_levels: int
    lines: list[StructureLine]


class CompareQuery(BaseModel):
    left: Text = Field(min_length=1, max_length=60, description="ITEM (its effective BOM) or ITEM@REV")
    right: Text = Field(min_length=1, max_length=60, description="ITEM (its effective BOM) or ITEM@REV")
    mode: Mode = "by_item"
    max_levels: int = Field(1, ge=1, le=MAX_LEVELS, description="1 = single level")


class ExportQuery(CompareQuery):
    export_format: Literal["json", "csv"] = "json"


class ChangeOut(BaseModel):
    field: str
    before: str
    after: str
    severity: str


class LineDiffOut(BaseModel):
    status: str
    key: str
    path: str
    level: int
    child: str
    child_name: str
    left: dict[str, str] | None
    right: dict[str, str] | None
    changes: list[ChangeOut]
    severity: str | None


class CompareOut(BaseModel):
    left: str
    right: str
    mode: str
    max_levels: int
    summary: dict[str, int]
    lines: list[LineDiffOut]


class OperationOut(BaseModel):
    op: Literal["add", "remove", "update"]
    key: str
    path: str
    level: int
    child: str
    before: dict[str, str] | None
    after: dict[str, str] | None
    changes: list[ChangeOut]
    severity: str | None


class DeltaPreviewOut(BaseModel):
    left: str
    right: str
    mode: str
    max_levels: int
    summary: dict[str, int]
    operations: list[OperationOut]


class ExportOut(Out):
    id: int
    status: str
    left: str = Field(validation_alias="left_ref")
    right: str = Field(validation_alias="right_ref")
    mode: str
    max_levels: int
    export_format: str
    job_id: str | None
    progress: float | None
    message: str
    line_count: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None
