from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.core.api import Id

FilterText = Annotated[str, Field(max_length=80, pattern=r"^[^\x00]*$")]


class AuditQuery(BaseModel):
    entity: FilterText | None = Field(None, description="the kind of record, e.g. `eco`")
    entity_id: FilterText | None = None
    actor: FilterText | None = Field(None, description="who: a username or `system`")
    action: FilterText | None = None
    since: date | None = Field(None, description="from the start of this UTC day")
    until: date | None = Field(None, description="to the end of this UTC day")
    before: Id | None = Field(None, description="the page just older than this entry id (`paging.older`)")
    after: Id | None = Field(None, description="the page just newer than this entry id (`paging.newer`)")
    per_page: int = Field(50, ge=1, le=200)


class FieldChangeOut(BaseModel):
    field: str
    change: str = Field(description="`added`, `removed` or `changed`")
    old: Any = None
    new: Any = None


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    withheld: bool = Field(description="true: the caller may not see this record; before/after/changes are left out")
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: list[FieldChangeOut]
    url: str | None = Field(description="the page of the record, where its capability has one")


class KeysetMeta(BaseModel):
    per_page: int
    newer: int | None = Field(description="`after=` this for the newer page; null on the newest")
    older: int | None = Field(description="`before=` this for the older page; null on the oldest")


class AuditList(BaseModel):
    entries: list[AuditEntryOut]
    paging: KeysetMeta
