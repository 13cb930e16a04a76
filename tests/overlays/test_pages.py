"""The pages: the model list and its upload form (a bad file redisplayed with the field, nothing
written), the 3D page (tree with unmapped parts, import map of the vendored three.js, the live
topic on the panel), the engineer's overlay actions, a viewer's view of a draft; the demo seed."""

import io

from sqlalchemy import func, select

from app.breakages import demo as breakages_demo
from app.docsync import documents
from app.docsync.models import DocumentVersion
from app.extensions import db
from app.items import demo as items_demo
from app.overlays import demo, lookup, service
from app.overlays.modelgen import glb
from app.overlays.models import Overlay
from tests.overlays import factory


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(DocumentVersion))


def test_upload_form_and_the_3d_page(app, signed_in):
    browser, csrf = signed_in("engineer")
    factory.items()
    assert "No 3D models yet" in browser.get("/cad-3d/").get_data(as_text=True)
    refused = browser.post(
        "/cad-3d/upload",
        data={"csrf_token": csrf, "number": "MDL-9", "title": "Board", "file": (io.BytesIO(b"nope"), "b.glb")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and 'data-error-for="file"' in refused.get_data(as_text=True)
    assert _versions() == 0
    saved = browser.post(
        "/cad-3d/upload",
        data={
            "csrf_token": csrf,
            "number": "MDL-9",
            "title": "Board",
            "file": (io.BytesIO(glb(factory.BOARD)), "b.glb"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    page = browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'data-ref="R-8~2"' in page and 'id="create-overlay"' in page
    assert "vendor/three/build/three.module.min.js" in page and 'type="importmap"' in page
    doc_id = int(saved.headers["Location"].split("/cad-3d/")[1].split("?")[0])
    created = browser.post(f"/cad-3d/{doc_id}/overlay", data={"csrf_token": csrf, "version": "1"})
    assert created.status_code == 302
    page = browser.get(created.headers["Location"]).get_data(as_text=True)
    overlay = db.session.scalar(select(Overlay))
    assert f'data-live-topic="overlay:{overlay.id}"' in page
    assert 'class="unmapped"' in page and page.count('class="mapped') == 6
    browser.post(f"/cad-3d/{doc_id}/status", data={"csrf_token": csrf, "version": "1", "to_status": "published"})
    db.session.expire_all()
    assert db.session.get(Overlay, overlay.id).status == "published"
    listed = browser.get("/cad-3d/?q=mdl-9").get_data(as_text=True)
    assert "MDL-9" in listed and "overlay-published" in listed


def test_a_viewer_sees_no_draft_and_cannot_write(app, signed_in):
    doc, overlay = factory.overlay()
    browser, csrf = signed_in("viewer")
    page = browser.get(f"/cad-3d/{doc.id}").get_data(as_text=True)
    assert 'id="no-overlay"' in page and "data-live-topic" not in page and 'class="unmapped' in page
    assert (
        browser.post(f"/cad-3d/{doc.id}/status", data={"csrf_token": csrf, "to_status": "published"}).status_code == 403
    )
    assert browser.post("/cad-3d/upload", data={"csrf_token": csrf}).status_code == 403


def test_a_document_version_that_is_no_model(app, signed_in):
    doc = factory.document()
    documents.add_version(doc, io.BytesIO(b"%PDF-1.7\n"), "drawing.pdf")
    db.session.commit()
    browser, _ = signed_in("engineer")
    page = browser.get(f"/cad-3d/{doc.id}").get_data(as_text=True)
    assert 'id="not-a-model"' in page
    assert browser.get("/cad-3d/987654").status_code == 404


def test_the_demo_seed(app):
    items_demo.seed()
    breakages_demo.seed()
    said = demo.seed()
    db.session.commit()
    assert "MDL-3001" in said and demo.seed() is None
    overlay = db.session.scalar(select(Overlay))
    assert overlay.status == "published"
    assert service.unmapped(overlay) == ["BOSS-M3"]
    c10 = lookup.compute(overlay, ["C-10U"], "viewer")["C-10U"]
    assert [f["key"] for f in c10["fields"]] == ["Polarity"] and c10["incidents"]
