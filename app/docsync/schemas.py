from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import Id, Out, PageMeta, Text, paging_query
from app.docsync.documents import DOC_TYPES

NUMBER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SHA256 = r"^[0-9a-f]{64}$"
DocType = Literal[DOC_TYPES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- documents ---------------------------------------------------------------


class DocumentMeta(Strict):
    title: Text = Field(min_length=1, max_length=200)
    doc_type: DocType = "other"
    item_refs: list[Text] = Field(default_factory=list, max_length=50)


class DocumentIn(DocumentMeta):
    number: str = Field(pattern=NUMBER)


class DocumentQuery(Strict, paging_query()):
    q: Text | None = Field(None, max_length=200, description="text in the number or title")
    doc_type: DocType | None = None


class VersionOut(Out):
    version: int
    sha256: str
    size: int
    content_type: str
    filename: str
    origin: str | None
    created_by: str
    created_at: datetime


class DocumentOut(Out):
    id: int
    number: str
    title: str
    doc_type: str
    item_refs: list[str]
    created_at: datetime
    updated_at: datetime
    latest: VersionOut | None
    versions: list[VersionOut]


class DocumentSummary(Out):
    id: int
    number: str
    title: str
    doc_type: str
    updated_at: datetime
    latest: VersionOut | None


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    paging: PageMeta


class UploadQuery(Strict):
    filename: Text | None = Field(None, max_length=200)
    sha256: str | None = Field(None, pattern=SHA256, description="when given, the upload must have this sha256")


class UploadOut(BaseModel):
    created: bool = Field(description="false when the bytes equal the latest version (nothing added)")
    version: VersionOut


class ReceiveQuery(Strict):
    """Metadata of a version another site sends; the body is the file (empty when this site has it)."""

    title: Text = Field(min_length=1, max_length=200)
    doc_type: DocType = "other"
    item_refs: list[Text] = Field(default_factory=list, max_length=50)
    filename: Text | None = Field(None, max_length=200)
    base_sha256: str | None = Field(
        None, pattern=SHA256, description="the latest sha256 here as the sender last saw it; 409 if changed"
    )
    origin: Text | None = Field(None, max_length=80)


class ManifestIn(Strict):
    numbers: list[Text] | None = Field(None, max_length=1000)
    changed_since: datetime | None = None
    doc_type: DocType | None = None
    limit: int = Field(5000, ge=1, le=5000, description="oldest change first")


class ManifestEntry(BaseModel):
    number: str
    title: str
    doc_type: str
    item_refs: list[str]
    updated_at: datetime
    version: int
    sha256: str
    size: int
    filename: str


class ManifestOut(BaseModel):
    documents: list[ManifestEntry]


class FilesIn(Strict):
    sha256s: list[Text] = Field(max_length=1000)


class FilesOut(BaseModel):
    missing: list[str]


# --- remote sites ----------------------------------------------------------------


class SiteIn(Strict):
    name: Text = Field(min_length=1, max_length=80)
    base_url: Text = Field(min_length=1, max_length=300)
    token: Text | None = Field(None, min_length=8, max_length=500, description="stored encrypted, never returned")
    enabled: bool = True


class SitePatch(Strict):
    base_url: Text = Field(None, min_length=1, max_length=300)
    enabled: bool = None


class TokenIn(Strict):
    token: Text = Field(min_length=8, max_length=500)


class BreakerOut(BaseModel):
    open: bool
    failures: int
    open_until: datetime | None


class SiteOut(Out):
    id: int
    name: str
    base_url: str
    enabled: bool
    has_token: bool
    token_set_at: datetime | None
    status: str
    status_detail: str | None
    latency_ms: float | None
    checked_at: datetime | None
    breaker: BreakerOut


class SiteList(BaseModel):
    sites: list[SiteOut]


# --- sync jobs -----------------------------------------------------------------------


class SyncSelection(Strict):
    site_id: Id = Field(ge=1)
    direction: Literal["push", "pull"]
    document_ids: list[Id] | None = Field(None, max_length=5000, description="push only")
    numbers: list[Text] | None = Field(None, max_length=5000)
    doc_type: DocType | None = Field(
        None, description="with neither ids nor numbers: what changed since the site's checkpoint, of this type"
    )


class SyncJobIn(SyncSelection):
    idempotency_key: str = Field(min_length=1, max_length=120, pattern=r"^[\w.:/-]+$")


class PlanItemOut(BaseModel):
    number: str
    action: Literal["send", "present", "skipped", "conflict"]
    source_sha256: str
    target_sha256: str | None
    size: int
    reason: str


class PreviewOut(BaseModel):
    items: list[PlanItemOut]
    counts: dict[str, int]


class SyncItemOut(Out):
    number: str
    outcome: str
    source_sha256: str | None
    target_sha256: str | None
    bytes: int
    error: str | None
    attempts: int


class SyncJobOut(Out):
    id: int
    site_id: int
    direction: str
    idempotency_key: str
    selection: dict
    replay_of_id: int | None
    status: str
    rq_job_id: str | None
    total: int
    sent: int
    present: int
    skipped: int
    conflicts: int
    failed: int
    bytes: int
    error: str | None
    actor: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class SyncJobDetail(SyncJobOut):
    items: list[SyncItemOut]


class SyncJobQuery(Strict):
    site_id: Id | None = Field(None, ge=1)
    limit: int = Field(20, ge=1, le=200)


class SyncJobList(BaseModel):
    jobs: list[SyncJobOut]
