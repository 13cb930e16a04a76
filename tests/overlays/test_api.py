"""The overlays API: model upload (a bad file is a 422 naming the field, nothing written),
overlay CRUD and its status flow, who sees a draft, the component lookup (item, BOM lines,
ECOs in progress, open incidents, role-filtered fields), the batch, the shared cache with its
counters (invalidated on write), and the audit rows of writes."""

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from app.core.audit.models import AuditEntry
from app.docsync.models import DocumentVersion
from app.eco import service as eco_service
from app.extensions import db
from app.items.models import Item
from app.overlays.modelgen import Box, glb
from app.overlays.models import ModelPart, Overlay
from tests.breakages import factory as breakage_factory
from tests.overlays import factory

API = "/api/v1/cad-3d"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _cache(result: str) -> float:
    return REGISTRY.get_sample_value("overlay_cache_requests_total", {"result": result}) or 0.0


def _upload(client, headers, doc_id, data, filename="board.glb"):
    return client.post(
        f"{API}/models/{doc_id}?filename={filename}",
        data=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )


def test_upload_reads_the_parts_and_refuses_bad_files(app, client, bearer):
    engineer = bearer("engineer")
    factory.items()
    doc = factory.document()
    made = _upload(client, engineer, doc.id, glb(factory.BOARD))
    assert made.status_code == 201, made.json
    assert made.json["model"]["part_count"] == 7 and made.json["created"] is True
    assert _upload(client, engineer, doc.id, glb(factory.BOARD)).status_code == 200
    truncated = glb(factory.BOARD)[:-40]
    for data, filename, code in (
        (b"not a model at all, just text", "board.glb", "invalid_model"),
        (truncated, "board.glb", "invalid_model"),
        (glb(factory.BOARD), "board.step", "invalid_model"),
        (b"", "board.glb", "invalid_model"),
    ):
        refused = _upload(client, engineer, doc.id, data, filename)
        assert refused.status_code == 422, refused.json
        assert refused.json["error"]["code"] == code and refused.json["error"]["details"]["field"] == "file"
    assert _upload(client, bearer("viewer"), doc.id, glb(factory.BOARD)).status_code == 403
    assert _count(DocumentVersion) == 1 and _count(ModelPart) == 7
    listed = client.get(f"{API}/models", headers=engineer).json
    assert listed["paging"]["total"] == 1 and listed["models"][0]["document"] == "MDL-8"


@pytest.mark.config(OVERLAY_MODEL_MAX_BYTES=2000)
def test_a_model_over_the_limit_is_refused(app, client, bearer):
    doc = factory.document()
    refused = _upload(client, bearer("engineer"), doc.id, glb(factory.BOARD))
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "too_large" and refused.json["error"]["details"]["field"] == "file"
    assert _count(DocumentVersion) == 0


def test_overlay_crud_status_and_who_sees_a_draft(app, client, bearer):
    engineer, viewer = bearer("engineer"), bearer("viewer")
    doc, model = factory.model()
    created = client.post(f"{API}/overlays/{doc.id}", json={}, headers=engineer)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "draft" and len(created.json["unmapped"]) == 7
    assert client.post(f"{API}/overlays/{doc.id}", json={}, headers=engineer).status_code == 409
    assert client.get(f"{API}/overlays/{doc.id}", headers=viewer).status_code == 404
    mapped = client.post(f"{API}/overlays/{doc.id}/map-by-name", headers=engineer)
    assert mapped.json["added"] == 6 and mapped.json["overlay"]["unmapped"] == ["BOSS-8"]
    body = {"entries": [{"ref": "U-8", "item": "U-8", "fields": [{"key": "Note", "value": "n", "roles": ["viewer"]}]}]}
    saved = client.put(f"{API}/overlays/{doc.id}/entries", json={**body, "replace": False}, headers=engineer)
    assert saved.status_code == 200, saved.json
    assert client.put(f"{API}/overlays/{doc.id}/entries", json=body, headers=viewer).status_code == 403
    published = client.post(f"{API}/overlays/{doc.id}/status", json={"to_status": "published"}, headers=engineer)
    assert published.json["status"] == "published" and published.json["allowed_moves"] == ["draft", "archived"]
    seen = client.get(f"{API}/overlays/{doc.id}", headers=viewer).json
    assert seen["allowed_moves"] == [] and [f["key"] for e in seen["entries"] for f in e["fields"]] == ["Note"]
    archived = client.post(f"{API}/overlays/{doc.id}/status", json={"to_status": "archived"}, headers=engineer)
    assert archived.status_code == 200
    blocked = client.post(f"{API}/overlays/{doc.id}/status", json={"to_status": "published"}, headers=engineer)
    assert blocked.status_code == 409 and blocked.json["error"]["details"]["allowed"] == ["draft"]
    assert client.put(f"{API}/overlays/{doc.id}/entries", json=body, headers=engineer).status_code == 409
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "overlay")).all()
    assert actions.count("move") == 2 and "create" in actions and "save_entries" in actions


@pytest.mark.parametrize(
    ("entries", "field", "code"),
    [
        ([{"ref": "NOT-THERE", "item": "U-8"}, {"ref": "NOR-THIS", "item": "U-8"}], "entries", "unknown_refs"),
        (
            [{"ref": "U-8", "item": "U-8", "fields": [{"key": "k", "roles": ["boss"]}]}],
            "entries.0.fields.0.roles",
            "unknown_role",
        ),
        ([{"ref": "U-8", "item": "NO-ITEM"}], "entries", "unknown_items"),
    ],
)
def test_bad_entries_are_refused_naming_the_field_and_write_nothing(app, client, bearer, entries, field, code):
    doc, overlay = factory.overlay()
    revision = overlay.revision
    refused = client.put(f"{API}/overlays/{doc.id}/entries", json={"entries": entries}, headers=bearer("engineer"))
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["code"] == code and refused.json["error"]["details"]["field"] == field
    if code == "unknown_refs":
        assert refused.json["error"]["details"]["refs"] == ["NOT-THERE", "NOR-THIS"]
    db.session.expire_all()
    assert db.session.get(Overlay, overlay.id).revision == revision


def test_the_lookup_answers_item_lines_ecos_incidents_and_the_roles_fields(app, client, bearer):
    doc, overlay = factory.overlay(publish=True)
    bom = factory.items()
    u8 = db.session.scalar(select(Item).where(Item.number == "U-8"))
    eco_service.create_eco(title="Swap U-8", item_id=u8.id)
    breakage_factory.incident(bom, component="U-8", commit=False)
    db.session.commit()
    for role, keys in factory.SEES.items():
        found = client.get(f"{API}/overlays/{doc.id}/components/U-8", headers=bearer(role))
        assert found.status_code == 200, found.json
        assert [f["key"] for f in found.json["fields"]] == keys, role
    found = found.json
    assert found["item"]["number"] == "U-8" and found["mapped"] is True
    assert [line["bom"] for line in found["bom_lines"]] == ["PCA-8@A"]
    assert [e["title"] for e in found["ecos"]] == ["Swap U-8"]
    assert len(found["incidents"]) == 1 and found["incidents"][0]["status"] == "open"
    boss = client.get(f"{API}/overlays/{doc.id}/components/BOSS-8", headers=bearer("viewer")).json
    assert boss["mapped"] is False and boss["item"] is None
    missing = client.get(f"{API}/overlays/{doc.id}/components/NOPE", headers=bearer("viewer"))
    assert missing.status_code == 404 and missing.json["error"]["details"]["field"] == "ref"


def test_the_batch_and_the_shared_cache(app, client, bearer):
    doc, overlay = factory.overlay(publish=True)
    viewer, engineer = bearer("viewer"), bearer("engineer")
    hits, misses = _cache("hit"), _cache("miss")
    first = client.post(f"{API}/overlays/{doc.id}/components", json={"refs": factory.REFS}, headers=viewer)
    assert first.status_code == 200, first.json
    assert [c["ref"] for c in first.json["components"]] == factory.REFS
    assert (_cache("hit") - hits, _cache("miss") - misses) == (0, 7)
    again = client.post(f"{API}/overlays/{doc.id}/components", json={"refs": factory.REFS}, headers=viewer)
    assert again.json == first.json and _cache("hit") - hits == 7
    # a write drops the cache: the next lookup sees it
    body = {"entries": [{"ref": "BOSS-8", "item": "U-8"}], "replace": False}
    assert client.put(f"{API}/overlays/{doc.id}/entries", json=body, headers=engineer).status_code == 200
    boss = client.get(f"{API}/overlays/{doc.id}/components/BOSS-8", headers=viewer).json
    assert boss["mapped"] is True and _cache("miss") - misses == 8
    too_many = client.post(f"{API}/overlays/{doc.id}/components", json={"refs": ["U-8"] * 1001}, headers=viewer)
    assert too_many.status_code == 422 and too_many.json["error"]["details"]["fields"][0]["field"] == "refs"
    unknown = client.post(f"{API}/overlays/{doc.id}/components", json={"refs": ["U-8", "X-1", "X-2"]}, headers=viewer)
    assert unknown.status_code == 422 and unknown.json["error"]["details"]["refs"] == ["X-1", "X-2"]


def test_a_batch_of_a_thousand_refs(app, client, bearer):
    boxes = [Box("ROOT", colour=None)] + [Box(f"U-8~{i}" if i else "U-8", parent=0) for i in range(1000)]
    doc, _ = factory.model(boxes=boxes)
    client.post(f"{API}/overlays/{doc.id}", json={}, headers=bearer("engineer"))
    refs = [b.name for b in boxes[1:]]
    found = client.post(f"{API}/overlays/{doc.id}/components", json={"refs": refs}, headers=bearer("engineer"))
    assert found.status_code == 200 and len(found.json["components"]) == 1000
