"""Documents: the service other capabilities call, the API and the pages."""

import io
from pathlib import Path

import pytest

from app.core.audit.models import AuditEntry
from app.core.errors import Conflict, InvalidInput
from app.docsync import documents
from app.docsync.documents import Metadata
from app.docsync.models import DocumentVersion
from app.docsync.store import ChecksumMismatch, TooLarge
from app.extensions import db
from tests.conftest import csrf_from
from tests.docsync.factory import PDF, make_doc, sha
from tests.items.factory import item

API = "/api/v1/documents"


def store_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


def test_versions_are_content_addressed_sniffed_and_never_duplicated(app, document_store):
    doc = make_doc()
    v1 = doc.latest
    assert (v1.version, v1.sha256, v1.size, v1.content_type) == (1, sha(PDF), len(PDF), "application/pdf")
    assert Path(document_store, sha(PDF)[:2], sha(PDF)[2:4], sha(PDF)).read_bytes() == PDF

    same, created = documents.add_version(doc, io.BytesIO(PDF), "again.pdf")
    assert (created, same.version) == (False, 1)
    v2, created = documents.add_version(doc, io.BytesIO(b"solid part\n facet normal 0 0 1\n"), "part.stl")
    db.session.commit()
    assert (created, v2.version, v2.content_type) == (True, 2, "model/stl")
    # another document with the same bytes shares the one file
    make_doc("DWG-2")
    assert len(store_files(document_store)) == 2
    actions = [e.action for e in db.session.query(AuditEntry).filter_by(entity="document")]
    assert actions.count("add_version") == 3 and actions.count("create") == 2


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"%PDF-1.4", "application/pdf"),
        (b"\x89PNG\r\n\x1a\nxx", "image/png"),
        (b"ISO-10303-21;\nHEADER;", "model/step"),
        (b"PK\x03\x04zip", "application/zip"),
        (b"plain notes \xc3\xa9", "text/plain"),
        (b"\x00\x01\x02\xff", "application/octet-stream"),
    ],
)
def test_content_type_is_sniffed_from_the_bytes(head, expected):
    from app.docsync.store import sniff

    assert sniff(head) == expected


def test_checksum_mismatch_and_oversize_store_nothing(app, document_store):
    doc = make_doc(data=None)
    with pytest.raises(ChecksumMismatch) as mismatch:
        documents.add_version(doc, io.BytesIO(PDF), expected_sha256="0" * 64)
    assert mismatch.value.status == 422 and mismatch.value.details["actual"] == sha(PDF)
    app.config["DOCUMENT_MAX_BYTES"] = 100
    from flask import current_app

    current_app.config["DOCUMENT_MAX_BYTES"] = 100
    with pytest.raises(TooLarge):
        documents.add_version(doc, io.BytesIO(b"x" * 101))
    db.session.rollback()
    assert store_files(document_store) == []  # no partial file, not even in tmp/
    assert db.session.query(DocumentVersion).count() == 0


def test_receive_refuses_to_overwrite_a_change_made_here(app):
    doc = make_doc()
    other = b"%PDF-1.7 changed at the other site"
    with pytest.raises(Conflict):
        documents.receive(
            "DWG-1",
            Metadata("Bracket"),
            sha(other),
            stream=io.BytesIO(other),
            filename=None,
            base_sha256=None,
            origin="plant-b",
        )
    version, created = documents.receive(
        "DWG-1",
        Metadata("Bracket rev B", "drawing"),
        sha(other),
        stream=io.BytesIO(other),
        filename="b.pdf",
        base_sha256=sha(PDF),
        origin="plant-b",
    )
    db.session.commit()
    assert (created, version.version, version.origin, doc.title) == (True, 2, "plant-b", "Bracket rev B")
    # the same version again, without bytes: nothing changes
    again, created = documents.receive(
        "DWG-1",
        Metadata("Bracket rev B"),
        sha(other),
        stream=None,
        filename=None,
        base_sha256=sha(PDF),
        origin="plant-b",
    )
    assert (created, again.id) == (False, version.id)


def test_bad_metadata_is_refused(app):
    with pytest.raises(InvalidInput):
        documents.create("no spaces", Metadata("t"))
    with pytest.raises(InvalidInput):
        documents.create("D-1", Metadata("t", doc_type="poem"))
    make_doc()
    with pytest.raises(Conflict):
        make_doc()


@pytest.mark.dialects  # lower() LIKE search, JSON item_refs
def test_api_upload_download_and_roles(app, client, bearer):
    engineer, viewer = bearer("engineer"), bearer("viewer")
    item("A-1")
    db.session.commit()
    body = {"number": "SPEC-9", "title": "Weld spec", "doc_type": "specification", "item_refs": ["A-1"]}
    assert client.post(API, json=body, headers=viewer).status_code == 403
    created = client.post(API, json=body, headers=engineer)
    assert created.status_code == 201, created.json
    doc_id = created.json["id"]
    assert client.post(API, json=body, headers=engineer).status_code == 409

    url = f"{API}/{doc_id}/versions?filename=weld.pdf"
    first = client.post(url, data=PDF, headers=engineer, content_type="application/octet-stream")
    assert first.status_code == 201 and first.json["version"]["sha256"] == sha(PDF)
    again = client.post(url, data=PDF, headers=engineer)
    assert again.status_code == 200 and again.json["created"] is False
    wrong = client.post(f"{url}&sha256={'a' * 64}", data=b"other", headers=engineer)
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "checksum_mismatch"

    download = client.get(f"{API}/{doc_id}/versions/1/content", headers=viewer)
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["X-Content-SHA256"] == sha(PDF) and download.mimetype == "application/pdf"
    assert client.get(f"{API}/{doc_id}/versions/2/content", headers=viewer).status_code == 404

    listed = client.get(f"{API}?q=weld", headers=viewer).json
    assert [d["number"] for d in listed["documents"]] == ["SPEC-9"] and listed["paging"]["total"] == 1
    detail = client.get(f"{API}/{doc_id}", headers=viewer).json
    assert detail["latest"]["version"] == 1 and detail["item_refs"] == ["A-1"]
    patched = client.patch(f"{API}/{doc_id}", json={"title": "Weld spec B", "doc_type": "procedure"}, headers=engineer)
    assert patched.status_code == 200 and patched.json["doc_type"] == "procedure"
    assert client.patch(f"{API}/{doc_id}", json={"title": ""}, headers=engineer).status_code == 422


@pytest.mark.config(DOCUMENT_MAX_BYTES=64)
def test_api_refuses_an_oversize_upload(app, client, bearer):
    engineer = bearer("engineer")
    doc_id = client.post(API, json={"number": "BIG-1", "title": "Big"}, headers=engineer).json["id"]
    response = client.post(f"{API}/{doc_id}/versions", data=b"x" * 65, headers=engineer)
    assert response.status_code == 422 and response.json["error"]["code"] == "too_large"
    assert client.get(f"{API}/{doc_id}", headers=engineer).json["versions"] == []


def test_pages_list_create_and_upload(app, signed_in):
    client, csrf = signed_in("engineer")
    item("A-1"), item("A-2")
    db.session.commit()
    assert "No documents yet" in client.get("/documents/").get_data(as_text=True)
    made = client.post(
        "/documents/",
        data={
            "number": "PRC-3",
            "title": "Torque procedure",
            "doc_type": "procedure",
            "item_refs": "A-1, A-2",
            "csrf_token": csrf,
        },
    )
    assert made.status_code == 302 and "/documents/" in made.location
    page = client.get(made.location).get_data(as_text=True)
    assert "Torque procedure" in page and "No file yet" in page
    uploaded = client.post(
        made.location + "/versions",
        data={"file": (io.BytesIO(PDF), "torque.pdf"), "csrf_token": csrf},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    text = uploaded.get_data(as_text=True)
    assert "Version 1 added (application/pdf" in text and sha(PDF) in text
    bad = client.post(
        "/documents/", data={"number": "bad number", "title": "x", "csrf_token": csrf}, follow_redirects=True
    )
    assert "A document number is" in bad.get_data(as_text=True)
    assert "PRC-3" in client.get("/documents/?q=torque").get_data(as_text=True)


def test_viewers_read_but_cannot_write_documents(app, signed_in):
    client, csrf = signed_in("viewer")
    assert client.get("/documents/").status_code == 200
    assert client.post("/documents/", data={"number": "X-1", "title": "x", "csrf_token": csrf}).status_code == 403
    assert csrf_from(client)


def test_demo_seed_can_run_again_and_refers_to_demo_items(app):
    from app.docsync import demo
    from app.items import demo as items_demo
    from app.items import service as item_service

    items_demo.seed()  # seeded first, as `flask seed-demo` does (CAPABILITIES order)
    assert demo.seed() == "3 demo document(s) created"
    db.session.commit()
    assert demo.seed() is None
    assert documents.get_by_number("MDL-2001").latest.content_type == "model/step"
    refs = [ref for doc in documents.search(per_page=50).items for ref in doc.item_refs]
    assert refs and item_service.unknown_numbers(refs) == []


def test_unknown_item_refs_are_refused_by_name(app, client, bearer, signed_in):
    item("BRKT-10")
    db.session.commit()
    engineer = bearer("engineer")
    body = {"number": "DWG-9", "title": "Bracket", "item_refs": ["BRKT-10", "P-100", "P-101"]}
    refused = client.post(API, json=body, headers=engineer)
    assert refused.status_code == 422, refused.json
    error = refused.json["error"]
    assert error["code"] == "unknown_items" and error["details"]["unknown"] == ["P-100", "P-101"]
    assert "P-100, P-101" in error["message"] and "BRKT-10" not in error["message"]
    assert documents.find("DWG-9") is None

    doc_id = client.post(API, json={**body, "item_refs": ["BRKT-10"]}, headers=engineer).json["id"]
    patched = client.patch(f"{API}/{doc_id}", json={"title": "Bracket", "item_refs": ["P-100"]}, headers=engineer)
    assert patched.status_code == 422 and patched.json["error"]["details"]["unknown"] == ["P-100"]
    assert client.get(f"{API}/{doc_id}", headers=engineer).json["item_refs"] == ["BRKT-10"]

    browser, csrf = signed_in("engineer")
    form = {"number": "DWG-10", "title": "Bracket", "item_refs": "BRKT-10, NOPE-1", "csrf_token": csrf}
    page = browser.post("/documents/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "unknown: NOPE-1" in page and documents.find("DWG-10") is None
