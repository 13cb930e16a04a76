"""Test data of the documents capability."""

import hashlib
import io

from app.docsync import documents
from app.docsync.documents import Metadata
from app.extensions import db


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PDF = b"%PDF-1.7\n" + b"drawing " * 64


def make_doc(number="DWG-1", data: bytes | None = PDF, **meta):
    doc = documents.create(
        number,
        Metadata(meta.get("title", "Bracket"), meta.get("doc_type", "drawing"), tuple(meta.get("item_refs", ()))),
    )
    if data is not None:
        documents.add_version(doc, io.BytesIO(data), "bracket.pdf")
    db.session.commit()
    return doc
