"""Documents, versions and files: the service other capabilities call.

A document is identified by its number on every site; each version points at
a file in the content-addressed store by its sha256. Adding a version whose
bytes equal the latest one changes nothing, so a repeated upload or sync
never duplicates a version.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, select

from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.paging import Page, containing, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.core.validation import invalid, not_one_of
from app.docsync.models import Document, DocumentVersion
from app.docsync.store import check_sha256, sniff, store
from app.extensions import db
from app.items import service as item_service

NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DOC_TYPES = ("drawing", "specification", "procedure", "model", "report", "other")
MAX_ITEM_REFS = 50


@dataclass
class Metadata:
    title: str
    doc_type: str = "other"
    item_refs: tuple[str, ...] = ()

    def checked(self) -> "Metadata":
        title = self.title.strip()
        if not 1 <= len(title) <= 200:
            raise InvalidInput("A title of 1 to 200 characters is required.", {"field": "title"})
        if self.doc_type not in DOC_TYPES:
            raise not_one_of("doc_type", "Document type", self.doc_type, DOC_TYPES)
        refs = tuple(dict.fromkeys(r.strip() for r in self.item_refs if r.strip()))
        if len(refs) > MAX_ITEM_REFS or any(len(r) > 64 for r in refs):
            raise InvalidInput(f"At most {MAX_ITEM_REFS} item numbers of up to 64 characters.", {"field": "item_refs"})
        return Metadata(title, self.doc_type, refs)

    def with_known_items(self) -> "Metadata":
        """`checked()`, and every item ref names an existing item. Documents typed in here are checked;
        a version received from another site keeps its refs (each site has its own item master)."""
        meta = self.checked()
        unknown = item_service.unknown_numbers(meta.item_refs)
        if unknown:
            refused = invalid("item_refs", f"Items must be existing item numbers; unknown: {', '.join(unknown)}.")
            refused.code, refused.details["unknown"] = "unknown_items", unknown
            raise refused
        return meta


def _snapshot(doc: Document) -> dict:
    return {"number": doc.number, "title": doc.title, "doc_type": doc.doc_type, "item_refs": list(doc.item_refs)}


def check_number(number: str) -> str:
    if not NUMBER.fullmatch(number or ""):
        raise InvalidInput(
            "A document number is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            {"field": "number"},
        )
    return number


def create(number: str, meta: Metadata, *, received: bool = False) -> Document:
    """`received`: sent by another site, whose item refs are not checked against the items here."""
    check_number(number)
    meta = meta.checked() if received else meta.with_known_items()
    if find(number) is not None:
        raise Conflict(f"Document {number} exists already.", {"field": "number"})
    doc = Document(
        number=number,
        title=meta.title,
        doc_type=meta.doc_type,
        item_refs=list(meta.item_refs),
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    db.session.add(doc)
    db.session.flush()
    audit.record("document", doc.id, "create", after=_snapshot(doc))
    return doc


def update(doc: Document, meta: Metadata, *, received: bool = False) -> Document:
    meta = meta.checked() if received else meta.with_known_items()
    before = _snapshot(doc)
    doc.title, doc.doc_type, doc.item_refs = meta.title, meta.doc_type, list(meta.item_refs)
    if _snapshot(doc) != before:
        doc.updated_at = utcnow()
        audit.record("document", doc.id, "update", before=before, after=_snapshot(doc))
    return doc


def get(document_id: int) -> Document:
    return get_or_404(Document, document_id, "document")


def find(number: str) -> Document | None:
    return db.session.scalar(select(Document).where(Document.number == number))


def get_by_number(number: str) -> Document:
    doc = find(check_number(number))
    if doc is None:
        raise NotFound(f"No document {number}.")
    return doc


def search(q: str | None = None, doc_type: str | None = None, page: int = 1, per_page: int = 25) -> Page:
    query = select(Document).order_by(Document.updated_at.desc(), Document.id.desc())
    if q:
        query = query.where(containing(q, Document.number, Document.title))
    if doc_type:
        query = query.where(Document.doc_type == doc_type)
    return paginate(query, page, per_page)


def get_version(doc: Document, version: int) -> DocumentVersion:
    for each in doc.versions:
        if each.version == version:
            return each
    raise NotFound(f"Document {doc.number} has no version {version}.")


def _filename(name: str | None, doc: Document) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    return name or doc.number


def add_version(
    doc: Document,
    stream: BinaryIO,
    filename: str | None = None,
    *,
    expected_sha256: str | None = None,
    origin: str | None = None,
) -> tuple[DocumentVersion, bool]:
    """Store the bytes and add them as the next version; (version, False) when they equal the latest."""
    sha256, size, head = store().put(
        stream, max_bytes=current_app.config["DOCUMENT_MAX_BYTES"], expected_sha256=expected_sha256
    )
    return _append(doc, sha256, size, sniff(head), _filename(filename, doc), origin)


def add_stored_version(
    doc: Document, sha256: str, filename: str | None = None, *, origin: str | None = None
) -> tuple[DocumentVersion, bool]:
    """A version whose bytes are already in the store (the same file in another document)."""
    files = store()
    if not files.exists(sha256):
        raise NotFound(f"No file {sha256} in the document store.", code="file_missing")
    with files.open(sha256) as handle:
        head = handle.read(2048)
    return _append(doc, sha256, files.path(sha256).stat().st_size, sniff(head), _filename(filename, doc), origin)


def _append(
    doc: Document, sha256: str, size: int, content_type: str, filename: str, origin: str | None
) -> tuple[DocumentVersion, bool]:
    latest = doc.latest
    if latest is not None and latest.sha256 == sha256:
        return latest, False
    version = DocumentVersion(
        document=doc,
        version=(latest.version + 1) if latest else 1,
        sha256=sha256,
        size=size,
        content_type=content_type,
        filename=filename,
        origin=origin,
        created_by=audit.current_actor(),
        created_at=utcnow(),
    )
    db.session.add(version)
    doc.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "document",
        doc.id,
        "add_version",
        after={
            "number": doc.number,
            "version": version.version,
            "sha256": sha256,
            "size": size,
            "content_type": content_type,
            "origin": origin,
        },
    )
    return version, True


def missing_files(sha256s: list[str]) -> list[str]:
    files = store()
    return [sha for sha in dict.fromkeys(sha256s) if not files.exists(check_sha256(sha))]


def version_with_file(sha256: str) -> DocumentVersion:
    """A version whose file has this sha256: files are served only as part of a document."""
    version = db.session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.sha256 == check_sha256(sha256))
        .order_by(DocumentVersion.id)
        .limit(1)
    )
    if version is None:
        raise NotFound(f"No document version has the file {sha256}.")
    return version


def latest_versions(
    numbers: list[str] | None = None,
    changed_since: datetime | None = None,
    doc_type: str | None = None,
    limit: int = 5000,
) -> list[tuple[Document, DocumentVersion]]:
    """Documents with their latest version, oldest change first: what a site tells another."""
    newest = (
        select(DocumentVersion.document_id, func.max(DocumentVersion.version).label("version"))
        .group_by(DocumentVersion.document_id)
        .subquery()
    )
    query = (
        select(Document, DocumentVersion)
        .join(newest, newest.c.document_id == Document.id)
        .join(
            DocumentVersion,
            (DocumentVersion.document_id == Document.id) & (DocumentVersion.version == newest.c.version),
        )
        .order_by(Document.updated_at, Document.id)
        .limit(limit)
    )
    if numbers is not None:
        query = query.where(Document.number.in_(numbers))
    if changed_since is not None:
        query = query.where(Document.updated_at > changed_since)
    if doc_type is not None:
        query = query.where(Document.doc_type == doc_type)
    return [(doc, version) for doc, version in db.session.execute(query)]


def receive(
    number: str,
    meta: Metadata,
    sha256: str,
    *,
    stream: BinaryIO | None,
    filename: str | None,
    base_sha256: str | None,
    origin: str | None,
) -> tuple[DocumentVersion, bool]:
    """Take a document version from another site.

    Creates the document when it is new. When `base_sha256` is given, the
    latest version here must still be that one (the sender's view of this
    site), else 409: a change made here since the last sync is never
    overwritten. Without `stream` the file must already be in the store.
    """
    check_sha256(sha256)
    doc = find(check_number(number))
    if doc is None:
        doc = create(number, meta, received=True)
    else:
        latest = doc.latest
        if latest is not None and latest.sha256 == sha256:
            return latest, False
        if latest is not None and base_sha256 != latest.sha256:
            raise Conflict(
                f"Document {number} changed here since the last sync.",
                {"number": number, "sha256": latest.sha256},
                code="sync_conflict",
            )
        update(doc, meta, received=True)
    if stream is None:
        return add_stored_version(doc, sha256, filename, origin=origin)
    return add_version(doc, stream, filename, expected_sha256=sha256, origin=origin)
