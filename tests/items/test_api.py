"""The items API: auth and roles, bad input in the one error shape, compare,
delta preview and export (small at once, large through a real RQ worker)."""

import csv
import io

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from app.core.jobs.models import JobRecord
from app.extensions import db
from app.items.models import Bom, BomExport, BomLine, Item
from tests.conftest import run_worker
from tests.helpers import assert_error_shape
from tests.items.factory import assembly, item

API = "/api/v1"


@pytest.fixture
def demo_boms(app):
    for n in ("P-1", "P-2", "P-3"):
        item(n)
    assembly("A-1", [("P-1", 2, 10), ("P-2", 1, 20)], release=True)
    db.session.commit()


def test_reads_need_sign_in_and_writes_need_an_engineer(client, bearer, demo_boms):
    assert client.get(f"{API}/items").status_code == 401
    viewer, engineer = bearer("viewer"), bearer("engineer")
    assert client.get(f"{API}/items?q=P-", headers=viewer).json["paging"]["total"] == 3
    body = {"number": "P-9", "name": "Spring"}
    denied = client.post(f"{API}/items", json=body, headers=viewer)
    assert denied.status_code == 403 and denied.json["error"]["code"] == "forbidden"
    created = client.post(f"{API}/items", json=body, headers=engineer)
    assert created.status_code == 201 and created.json["revision"] == "A"
    again = client.post(f"{API}/items", json=body, headers=engineer)
    assert again.status_code == 409
    assert_error_shape(again)
    patched = client.patch(f"{API}/items/{created.json['id']}", json={"lifecycle": "released"}, headers=engineer)
    assert patched.json["lifecycle"] == "released"
    assert client.get(f"{API}/items/999999", headers=viewer).status_code == 404


BAD_LINES = [
    ({"child": "P-1", "quantity": 0}, "quantity"),
    ({"child": "P-1", "quantity": "-1"}, "quantity"),
    ({"child": "P-1", "quantity": "1.0000001"}, "quantity"),
    ({"child": "P-1"}, "quantity"),
    ({"quantity": 1}, "child"),
    ({"child": "P-1", "quantity": 1, "colour": "red"}, "colour"),
]


def test_bad_lines_get_field_errors_and_change_nothing(client, bearer, demo_boms):
    bom_id, headers = db.session.scalar(select(Bom.id)), bearer("engineer")
    for body, field in BAD_LINES:
        response = client.post(f"{API}/boms/{bom_id}/lines", json=body, headers=headers)
        assert response.status_code == 422, body
        assert_error_shape(response)
        assert field in [f["field"] for f in response.json["error"]["details"]["fields"]]
    assert db.session.scalar(select(func.count()).select_from(Bom)) == 1


def test_line_edits_on_a_released_bom_land_on_a_new_revision(client, bearer, demo_boms):
    headers = bearer("engineer")
    bom = client.get(f"{API}/boms/{db.session.scalar(select(Bom.id))}", headers=headers).json
    assert bom["state"] == "released" and [line["quantity"] for line in bom["lines"]] == ["2", "1"]
    added = client.post(f"{API}/boms/{bom['id']}/lines", json={"child": "P-3", "quantity": "0.25"}, headers=headers)
    assert added.status_code == 201
    assert added.json["bom"]["ref"] == "A-1@B" and added.json["bom"]["state"] == "draft"
    assert added.json["line"]["quantity"] == "0.25"
    loop = client.post(
        f"{API}/boms/{added.json['bom']['id']}/lines", json={"child": "A-1", "quantity": 1}, headers=headers
    )
    assert loop.status_code == 422 and loop.json["error"]["details"]["loop"] == ["A-1", "A-1"]
    released = client.post(f"{API}/boms/{added.json['bom']['id']}/release", headers=headers)
    assert released.json["state"] == "released"
    revisions = client.get(f"{API}/items/{bom_item_id()}/boms", headers=headers).json
    assert [(b["ref"], b["state"]) for b in revisions["boms"]] == [("A-1@A", "superseded"), ("A-1@B", "released")]
    line_id = added.json["line"]["id"]
    revised = client.patch(f"{API}/bom-lines/{line_id}", json={"quantity": 3}, headers=headers)
    assert revised.json["bom"]["ref"] == "A-1@C"
    removed = client.delete(f"{API}/bom-lines/{revised.json['line']['id']}", headers=headers)
    assert removed.json["line_count"] == 2


def bom_item_id() -> int:
    return db.session.scalar(select(Item.id).where(Item.number == "A-1"))


def test_structure_rolls_up_quantities(client, bearer, demo_boms):
    assembly("T-1", [("A-1", 3, 10)])
    db.session.commit()
    top = db.session.scalar(select(Bom.id).join(Item).where(Item.number == "T-1"))
    lines = client.get(f"{API}/boms/{top}/structure?max_levels=2", headers=bearer("viewer")).json["lines"]
    assert [(line["path"], line["child"], line["extended_quantity"]) for line in lines] == [
        ("", "A-1", "3"),
        ("A-1", "P-1", "6"),
        ("A-1", "P-2", "3"),
    ]


@pytest.fixture
def two_revisions(client, bearer, demo_boms):
    headers = bearer("engineer")
    bom_id = db.session.scalar(select(Bom.id))
    lines = client.get(f"{API}/boms/{bom_id}", headers=headers).json["lines"]
    draft = client.patch(f"{API}/bom-lines/{lines[0]['id']}", json={"quantity": 5}, headers=headers).json["bom"]
    busy = client.post(f"{API}/boms/{bom_id}/lines", json={"child": "P-3", "quantity": 1}, headers=headers)
    assert busy.status_code == 409 and busy.json["error"]["details"]["draft"] == "A-1@B"
    client.post(
        f"{API}/boms/{draft['id']}/lines", json={"child": "P-3", "quantity": 1, "find_number": 30}, headers=headers
    )
    return headers


def compares_timed(mode: str) -> float:
    return REGISTRY.get_sample_value("bom_compare_seconds_count", {"mode": mode}) or 0


def test_compare_and_delta_preview(client, two_revisions):
    query = "left=A-1@A&right=A-1@B&mode=by_position"
    timed = compares_timed("by_position")
    compared = client.get(f"{API}/bom/compare?{query}", headers=two_revisions).json
    assert compares_timed("by_position") == timed + 1
    assert compared["summary"]["changed_major"] == 1 and compared["summary"]["added"] == 1
    preview = client.get(f"{API}/bom/compare/delta/preview?{query}", headers=two_revisions)
    assert preview.status_code == 200
    assert [(op["op"], op["key"]) for op in preview.json["operations"]] == [
        ("update", "P-1 find_number=10"),
        ("add", "P-3 find_number=30"),
    ]
    assert preview.json["operations"][0]["changes"] == [
        {"field": "quantity", "before": "2", "after": "5", "severity": "major"}
    ]
    assert preview.json["summary"] == {"add": 1, "remove": 0, "update": 1, "total": 2}


BAD_COMPARES = [
    ("left=A-1@A&right=NOPE", 404),
    ("left=A-1@A&right=A-1@Q", 404),
    ("left=A-1", 422),
    ("left=A-1&right=A-1&mode=sideways", 422),
    ("left=A-1&right=A-1&max_levels=0", 422),
    ("left=A-1&right=A-1&export_format=xml", 422),
]


def test_compare_bad_input_uses_the_error_shape(client, bearer, demo_boms):
    headers = bearer("viewer")
    for query, status in BAD_COMPARES:
        paths = ["/bom/compare/delta/export"] + ([] if "export_format" in query else ["/bom/compare/delta/preview"])
        for path in paths:
            response = client.get(f"{API}{path}?{query}", headers=headers)
            assert response.status_code == status, (path, query)
            assert_error_shape(response)


def test_small_exports_are_files_with_the_same_bytes_each_time(client, two_revisions):
    url = f"{API}/bom/compare/delta/export?left=A-1@A&right=A-1@B&export_format=csv"
    first, second = client.get(url, headers=two_revisions), client.get(url, headers=two_revisions)
    assert first.status_code == 200 and first.mimetype == "text/csv"
    assert "attachment" in first.headers["Content-Disposition"] and ".csv" in first.headers["Content-Disposition"]
    assert first.data == second.data
    rows = list(csv.DictReader(io.StringIO(first.data.decode())))
    assert [(r["op"], r["child"]) for r in rows] == [("update", "P-1"), ("add", "P-3")]
    as_json = client.get(url.replace("csv", "json"), headers=two_revisions)
    assert as_json.mimetype == "application/json" and as_json.json["summary"]["total"] == 2


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=3)
def test_large_exports_run_as_a_job_on_the_exports_queue(app, client, two_revisions):
    url = f"{API}/bom/compare/delta/export?left=A-1@A&right=A-1@B&export_format=csv"
    started = client.get(url, headers=two_revisions)
    assert started.status_code == 202
    export = started.json
    assert export["status"] == "queued" and export["download_url"] is None and export["line_count"] == 5
    assert db.session.get(JobRecord, export["job_id"]).queue == "exports"
    not_yet = client.get(f"{API}/bom/exports/{export['id']}/download", headers=two_revisions)
    assert not_yet.status_code == 409

    run_worker(app, queues=("exports",))
    done = client.get(f"{API}/bom/exports/{export['id']}", headers=two_revisions).json
    assert (done["status"], done["progress"]) == ("done", 1.0)
    db.session.expire_all()
    assert db.session.get(JobRecord, export["job_id"]).status == "finished"
    file = client.get(done["download_url"], headers=two_revisions)
    assert file.status_code == 200 and file.mimetype == "text/csv"
    # the same bytes as the direct export of the same input
    app.config["BOM_EXPORT_SYNC_MAX_LINES"] = 1000
    assert client.get(url, headers=two_revisions).data == file.data


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=3)
def test_a_failed_export_job_says_why(app, client, two_revisions):
    started = client.get(f"{API}/bom/compare/delta/export?left=A-1@A&right=A-1@B", headers=two_revisions).json
    # the revision disappears before the worker gets to it
    bom = db.session.scalar(select(Bom).where(Bom.revision == "B"))
    db.session.execute(BomLine.__table__.delete().where(BomLine.bom_id == bom.id))
    db.session.delete(bom)
    db.session.commit()
    run_worker(app, queues=("exports",))
    failed = client.get(f"{API}/bom/exports/{started['id']}", headers=two_revisions).json
    assert failed["status"] == "failed" and "no BOM revision" in failed["error"]
    db.session.expire_all()
    assert db.session.get(JobRecord, started["job_id"]).status == "failed"
    assert db.session.get(BomExport, started["id"]).content is None
