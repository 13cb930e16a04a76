"""Request and response schemas of the overlays API (they also feed OpenAPI)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import Id, PageMeta, Text, paging_query
from app.core.auth.roles import Role
from app.overlays.lookup import MAX_BATCH
from app.overlays.models import OverlayStatus
from app.overlays.service import MAX_ENTRIES, MAX_FIELDS

Ref = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$", description="a component ref")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionQuery(_In):
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="the document version; default the newest")


class UploadQuery(_In):
    filename: Text = Field(min_length=1, max_length=200, description="the model's file name, .glb or .gltf")


class ModelsQuery(paging_query(25)):  # type: ignore[misc]
    model_config = ConfigDict(extra="forbid")
    q: Text | None = Field(None, max_length=100, description="part of a document number or title")


class FieldIn(_In):
    key: Text = Field(min_length=1, max_length=80)
    value: Text = Field("", max_length=2000)
    roles: list[Text] = Field(
        default_factory=list, max_length=len(Role), description="roles that may see it; empty: every role"
    )


class EntryIn(_In):
    ref: Ref
    item: Text = Field(min_length=1, max_length=40, description="the item's number")
    bom_line_id: Id | None = Field(None, description="the BOM line this component is (its child is the item)")
    fields: list[FieldIn] = Field(default_factory=list, max_length=MAX_FIELDS)


class EntriesIn(_In):
    entries: list[EntryIn] = Field(max_length=MAX_ENTRIES)
    replace: bool = Field(True, description="replace every entry (true) or set only the refs given (false)")


class CreateIn(_In):
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="the document version; default the newest")


class MoveIn(_In):
    to_status: OverlayStatus


class BatchIn(_In):
    refs: list[Ref] = Field(min_length=1, max_length=MAX_BATCH)


class PartOut(BaseModel):
    ref: str
    name: str
    parent_ref: str | None
    has_mesh: bool
    item: str | None = Field(description="the mapped item's number; null when unmapped")


class ModelOut(BaseModel):
    id: int
    document_id: int
    document: str
    version: int
    filename: str
    part_count: int
    mesh_count: int
    parsed_at: datetime
    content_url: str
    overlay_id: int | None
    overlay_status: OverlayStatus | None


class ModelUploadOut(BaseModel):
    created: bool
    model: ModelOut


class ModelList(BaseModel):
    models: list[ModelOut]
    paging: PageMeta


class OverlayFieldOut(BaseModel):
    key: str
    value: str
    roles: list[str] = Field(description="who may see it; empty: every role")


class EntryOut(BaseModel):
    ref: str
    item: str
    bom_line_id: int | None
    fields: list[OverlayFieldOut]


class OverlayOut(BaseModel):
    id: int
    document_id: int
    version: int
    status: OverlayStatus
    revision: int
    created_by: str
    updated_at: datetime
    published_at: datetime | None
    entries: list[EntryOut]
    unmapped: list[str]
    allowed_moves: list[OverlayStatus]


class ItemOut(BaseModel):
    id: int
    number: str
    name: str
    item_type: str
    revision: str
    lifecycle: str


class LineOut(BaseModel):
    id: int
    bom_id: int
    bom: str
    bom_state: str
    quantity: str
    unit: str
    find_number: int | None
    refdes: str


class EcoOut(BaseModel):
    id: int
    number: str
    title: str
    stage: str
    priority: str


class IncidentOut(BaseModel):
    id: int
    code: str
    status: str
    severity: str
    description: str


class ShownField(BaseModel):
    key: str
    value: str
    roles: list[str] = Field(description="who may see it; empty: every role")


class ComponentOut(BaseModel):
    ref: str
    mapped: bool
    item: ItemOut | None
    bom_line_id: int | None
    bom_lines: list[LineOut]
    ecos: list[EcoOut]
    incidents: list[IncidentOut]
    fields: list[ShownField]


class ComponentList(BaseModel):
    overlay_id: int
    revision: int
    components: list[ComponentOut]


class MapOut(BaseModel):
    added: int
    overlay: OverlayOut
