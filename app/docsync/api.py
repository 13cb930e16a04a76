"""JSON API of documents (/api/v1/documents...) and of sync (/api/v1/doc-sync/...).

The documents routes are also the sync protocol: another Forgeline reads the
manifest, asks which files are missing, sends versions by document number and
downloads files by sha256, with a bearer token of this site.
"""

from flask import Blueprint, current_app, request, send_file

from app.core.api import API_PREFIX, endpoint, page_out, read
from app.core.auth.roles import ENGINEER, OPERATOR
from app.docsync import documents, sites, sync
from app.docsync.documents import Metadata
from app.docsync.models import RemoteSite
from app.docsync.schemas import (
    BreakerOut,
    DocumentIn,
    DocumentList,
    DocumentMeta,
    DocumentOut,
    DocumentQuery,
    DocumentSummary,
    FilesIn,
    FilesOut,
    ManifestEntry,
    ManifestIn,
    ManifestOut,
    PlanItemOut,
    PreviewOut,
    ReceiveQuery,
    SiteIn,
    SiteList,
    SiteOut,
    SitePatch,
    SyncJobDetail,
    SyncJobIn,
    SyncJobList,
    SyncJobOut,
    SyncJobQuery,
    SyncSelection,
    TokenIn,
    UploadOut,
    UploadQuery,
    VersionOut,
)
from app.docsync.store import TooLarge, store
from app.extensions import db

bp = Blueprint("docsync_api", __name__, url_prefix=API_PREFIX)


def _meta(body: DocumentMeta | ReceiveQuery) -> Metadata:
    return Metadata(body.title, body.doc_type, tuple(body.item_refs))


@endpoint(
    bp,
    "/documents",
    summary="Documents, newest change first, filtered and paged",
    query=DocumentQuery,
    response=DocumentList,
)
def list_documents(query: DocumentQuery):
    page = documents.search(query.q, query.doc_type, query.page, query.per_page)
    return page_out(DocumentList, page, DocumentSummary.model_validate)


@endpoint(
    bp,
    "/documents",
    "POST",
    summary="Create a document (metadata; add files as versions)",
    roles=ENGINEER,
    body=DocumentIn,
    response=DocumentOut,
    status=201,
)
def create_document(body: DocumentIn):
    doc = documents.create(body.number, _meta(body))
    db.session.commit()
    return DocumentOut.model_validate(doc)


@endpoint(bp, "/documents/<int:document_id>", summary="One document with its versions", response=DocumentOut)
def get_document(document_id: int):
    return DocumentOut.model_validate(documents.get(document_id))


@endpoint(
    bp,
    "/documents/<int:document_id>",
    "PATCH",
    summary="Change a document's title, type or item links",
    roles=ENGINEER,
    body=DocumentMeta,
    response=DocumentOut,
)
def update_document(document_id: int, body: DocumentMeta):
    doc = documents.update(documents.get(document_id), _meta(body))
    db.session.commit()
    return DocumentOut.model_validate(doc)


def _check_length() -> None:
    """Refuse a declared oversize body before reading it (the store also counts what it reads)."""
    limit = current_app.config["DOCUMENT_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"The file is larger than the limit of {limit} bytes.", {"max_bytes": limit})


@endpoint(
    bp,
    "/documents/<int:document_id>/versions",
    "POST",
    summary="Upload a file (the raw request body) as the next version",
    roles=ENGINEER,
    query=UploadQuery,
    response=UploadOut,
    status=201,
)
def upload_version(document_id: int, query: UploadQuery):
    doc = documents.get(document_id)
    _check_length()
    version, created = documents.add_version(doc, request.stream, query.filename, expected_sha256=query.sha256)
    db.session.commit()
    return UploadOut(created=created, version=VersionOut.model_validate(version)), 201 if created else 200


@endpoint(bp, "/documents/<int:document_id>/versions/<int:version>/content", summary="Download a version's file")
def download_version(document_id: int, version: int):
    found = documents.get_version(documents.get(document_id), version)
    return _file_response(found.sha256, found.content_type, found.filename)


def _file_response(sha256: str, content_type: str, filename: str):
    response = send_file(
        store().open(sha256),
        mimetype=content_type,
        as_attachment=True,
        download_name=filename,
        etag=sha256,
        conditional=True,
    )
    response.headers["X-Content-SHA256"] = sha256
    return response


@endpoint(
    bp,
    "/documents/manifest",
    "POST",
    summary="Latest version of each document, by numbers or changed since a time (sync protocol)",
    body=ManifestIn,
    response=ManifestOut,
)
def manifest(body: ManifestIn):
    rows = documents.latest_versions(body.numbers, body.changed_since, body.doc_type, body.limit)
    return ManifestOut(
        documents=[
            ManifestEntry(
                number=d.number,
                title=d.title,
                doc_type=d.doc_type,
                item_refs=d.item_refs,
                updated_at=d.updated_at,
                version=v.version,
                sha256=v.sha256,
                size=v.size,
                filename=v.filename,
            )
            for d, v in rows
        ]
    )


@endpoint(
    bp,
    "/documents/files/missing",
    "POST",
    summary="Which of these sha256s this site lacks (sync protocol)",
    roles=ENGINEER,
    body=FilesIn,
    response=FilesOut,
)
def missing_files(body: FilesIn):
    return FilesOut(missing=documents.missing_files(body.sha256s))


@endpoint(bp, "/documents/files/<sha256>", summary="Download a file by sha256 (sync protocol)")
def download_file(sha256: str):
    version = documents.version_with_file(sha256)
    return _file_response(sha256, version.content_type, version.filename)


@endpoint(
    bp,
    "/documents/by-number/<number>/versions/<sha256>",
    "PUT",
    summary="Receive a version from another site; the body is the file, empty when this site has it",
    roles=ENGINEER,
    query=ReceiveQuery,
    response=UploadOut,
)
def receive_version(number: str, sha256: str, query: ReceiveQuery):
    _check_length()
    has_file = store().exists(sha256)  # also validates the sha256
    stream = request.stream if request.content_length or not has_file else None
    version, created = documents.receive(
        number,
        _meta(query),
        sha256,
        stream=stream,
        filename=query.filename,
        base_sha256=query.base_sha256,
        origin=query.origin,
    )
    db.session.commit()
    return UploadOut(created=created, version=VersionOut.model_validate(version)), 201 if created else 200


# --- remote sites and sync jobs -----------------------------------------------------


def site_out(site: RemoteSite) -> SiteOut:
    breaker = BreakerOut(open=sites.breaker_open(site), failures=site.failures, open_until=site.breaker_open_until)
    return read(SiteOut, site, breaker=breaker)


@endpoint(
    bp,
    "/doc-sync/sites",
    summary="Remote sites with their last health (tokens are never returned)",
    roles=OPERATOR,
    response=SiteList,
)
def list_sites():
    return SiteList(sites=[site_out(s) for s in sites.all_sites()])


@endpoint(
    bp,
    "/doc-sync/sites",
    "POST",
    summary="Add a remote site",
    roles=OPERATOR,
    body=SiteIn,
    response=SiteOut,
    status=201,
)
def create_site(body: SiteIn):
    site = sites.create(body.name, body.base_url, body.token, body.enabled)
    db.session.commit()
    return site_out(site)


@endpoint(bp, "/doc-sync/sites/<int:site_id>", summary="One remote site", roles=OPERATOR, response=SiteOut)
def get_site(site_id: int):
    return site_out(sites.get(site_id))


@endpoint(
    bp,
    "/doc-sync/sites/<int:site_id>",
    "PATCH",
    summary="Change a site's base URL (a new URL drops its token: set one again) or enabled flag",
    roles=OPERATOR,
    body=SitePatch,
    response=SiteOut,
)
def update_site(site_id: int, body: SitePatch):
    site = sites.update(sites.get(site_id), body.base_url, body.enabled)
    db.session.commit()
    return site_out(site)


@endpoint(
    bp,
    "/doc-sync/sites/<int:site_id>/token",
    "PUT",
    summary="Set or rotate the site's API token",
    roles=OPERATOR,
    body=TokenIn,
    response=SiteOut,
)
def set_site_token(site_id: int, body: TokenIn):
    site = sites.set_token(sites.get(site_id), body.token)
    db.session.commit()
    return site_out(site)


@endpoint(
    bp,
    "/doc-sync/sites/<int:site_id>/health",
    "POST",
    summary="Probe the site's /health and token now; records status and latency",
    roles=OPERATOR,
    response=SiteOut,
)
def check_site_health(site_id: int):
    site = sites.probe(sites.get(site_id))
    db.session.commit()
    return site_out(site)


def _selection_args(body: SyncSelection) -> dict:
    return {"document_ids": body.document_ids, "numbers": body.numbers, "doc_type": body.doc_type}


@endpoint(
    bp,
    "/doc-sync/jobs/preview",
    "POST",
    summary="What a sync job would send, skip or report in conflict",
    roles=OPERATOR,
    body=SyncSelection,
    response=PreviewOut,
)
def preview_job(body: SyncSelection):
    items = sync.preview(body.site_id, body.direction, **_selection_args(body))
    counts = {
        action: sum(1 for i in items if i.action == action) for action in ("send", "present", "skipped", "conflict")
    }
    return PreviewOut(items=[PlanItemOut(**vars(i)) for i in items], counts=counts)


@endpoint(
    bp,
    "/doc-sync/jobs",
    "POST",
    summary="Start a push or pull; the same idempotency key with the same payload returns the same job",
    roles=OPERATOR,
    body=SyncJobIn,
    response=SyncJobOut,
    status=202,
)
def create_job(body: SyncJobIn):
    job, created = sync.request_job(body.site_id, body.direction, body.idempotency_key, **_selection_args(body))
    db.session.commit()
    return SyncJobOut.model_validate(job), 202 if created else 200


@endpoint(
    bp,
    "/doc-sync/jobs",
    summary="Recent sync jobs, newest first",
    roles=OPERATOR,
    query=SyncJobQuery,
    response=SyncJobList,
)
def list_jobs(query: SyncJobQuery):
    return SyncJobList(jobs=[SyncJobOut.model_validate(j) for j in sync.recent(query.site_id, query.limit)])


@endpoint(
    bp,
    "/doc-sync/jobs/<int:job_id>",
    summary="A sync job with each document's outcome and checksums",
    roles=OPERATOR,
    response=SyncJobDetail,
)
def get_job(job_id: int):
    return SyncJobDetail.model_validate(sync.get(job_id))


@endpoint(
    bp,
    "/doc-sync/jobs/<int:job_id>/replay",
    "POST",
    summary="Re-run the failed (and unfinished) items of a job as a new linked job",
    roles=OPERATOR,
    response=SyncJobOut,
    status=202,
)
def replay_job(job_id: int):
    job, created = sync.replay(job_id)
    db.session.commit()
    return SyncJobOut.model_validate(job), 202 if created else 200
