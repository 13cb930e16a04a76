"""Pack exports on a real RQ worker: the zip's manifest, csv and files, byte-identical
re-exports, the cache by manifest hash, a failed export leaving no file, progress and download
on the pages, the metrics and the live "pack ready" event; SQLite and PostgreSQL."""

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.docsync.store import store
from app.extensions import db
from app.workorders import packs, service
from app.workorders.models import Pack
from tests.conftest import run_worker
from tests.helpers import next_event, send, until_live
from tests.workorders import factory

pytestmark = pytest.mark.dialects
API = "/api/v1"


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def released_order():
    """ASM-1 with CUT/WELD/PAINT: a routing-level drawing (inherited), an own instruction on CUT,
    a hidden one on WELD, an order-level spec; released (so every link is locked)."""
    routing = factory.routing()
    cut, weld, _ = routing.operations
    general, own = factory.doc("DWG-GEN", size=4096), factory.doc("INS-CUT", size=2048)
    hidden, spec = factory.doc("DWG-HID"), factory.doc("SPEC-ORD")
    service.link_document(routing.id, general.id)
    service.link_document(routing.id, own.id, cut.id)
    service.link_document(routing.id, hidden.id, weld.id, visible_in_production=False)
    service.link_document(routing.id, spec.id, inherit_to_operations=False)
    wo = factory.workorder(routing)
    service.move(wo.id, "released")
    db.session.commit()
    return wo


def export(client, headers, wo, **body) -> dict:
    started = client.post(f"{API}/workorder-docs/{wo.id}/pack", json=body, headers=headers)
    assert started.status_code == 202, started.get_json()
    run_worker(client.application, ["exports"])
    return client.get(f"{API}/workorder-docs/packs/{started.get_json()['id']}", headers=headers).get_json()


def download(client, headers, pack: dict) -> bytes:
    answer = client.get(f"{API}/workorder-docs/packs/{pack['id']}/download", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    return answer.get_data()


def test_the_pack_holds_manifest_csv_and_the_files_under_their_operations(app, client, bearer):
    headers = bearer("engineer")
    wo = released_order()
    pack = export(client, headers, wo, require_locked=True)
    assert (pack["status"], pack["cached"], pack["documents"]) == ("done", False, 5)
    archive = zipfile.ZipFile(io.BytesIO(download(client, headers, pack)))
    names = archive.namelist()
    assert names[:2] == ["manifest.json", "documents.csv"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["workorder"]["number"] == wo.number
    assert [op["folder"] for op in manifest["operations"]] == ["ops/010-CUT", "ops/020-WELD", "ops/030-PAINT"]
    cut = manifest["operations"][0]["documents"]
    assert [(d["number"], d["version"], d["lock_source"], d["source"]) for d in cut] == [
        ("DWG-GEN", 1, "release", "routing"),
        ("INS-CUT", 1, "release", "operation"),
    ]
    assert [d["number"] for d in manifest["operations"][1]["documents"]] == ["DWG-GEN"]  # the hidden one is left out
    assert manifest["hidden"] == [{"operation": "WELD", "number": "DWG-HID", "version": 1}]  # but named
    assert [d["path"] for d in manifest["order_documents"]] == ["order/SPEC-ORD-v1-SPEC-ORD.pdf"]
    for _, doc in packs.rows_of(manifest):
        data = archive.read(doc["path"])
        assert hashlib.sha256(data).hexdigest() == doc["sha256"] and len(data) == doc["size"]
    rows = list(csv.DictReader(io.StringIO(archive.read("documents.csv").decode())))
    assert len(rows) == 5 and rows[1]["operation_code"] == "CUT" and rows[1]["number"] == "DWG-GEN"
    assert {info.date_time for info in archive.infolist()} == {packs.EPOCH}


def test_same_inputs_same_bytes_an_unchanged_pack_is_reused_and_a_change_rebuilds(app, client, bearer):
    headers = bearer("engineer")
    wo = released_order()
    first = export(client, headers, wo)
    first_bytes = download(client, headers, first)
    packs.pack_path(first["manifest_sha256"]).unlink()  # written again from scratch
    again = export(client, headers, wo)
    assert again["cached"] is False
    assert hashlib.sha256(download(client, headers, again)).hexdigest() == hashlib.sha256(first_bytes).hexdigest()
    reused = counter("workorder_pack_exports_total", status="cached")
    cached = export(client, headers, wo)
    assert cached["cached"] is True and cached["manifest_sha256"] == first["manifest_sha256"]
    assert cached["job_id"] is None and cached["status"] == "done"  # done at the request: nothing queued
    assert counter("workorder_pack_exports_total", status="cached") == reused + 1
    general = service.load_routing(wo.routing_id).links[0]
    factory.revise(general.document)
    assert export(client, headers, wo)["manifest_sha256"] == first["manifest_sha256"]  # locked: v1 still
    service.move_lock_forward(general.id)
    db.session.commit()
    moved = export(client, headers, wo)
    assert moved["manifest_sha256"] != first["manifest_sha256"] and moved["cached"] is False


def test_a_failed_export_leaves_no_file_and_is_counted(app, client, bearer):
    headers = bearer("engineer")
    wo = released_order()
    _, ops = service.workorder_documents(wo)
    store().path(ops[0].documents[1].version.sha256).unlink()  # INS-CUT's file is gone
    failed = counter("workorder_pack_exports_total", status="failed")
    pack = export(client, headers, wo)
    assert pack["status"] == "failed" and "INS-CUT" in pack["error"]
    assert counter("workorder_pack_exports_total", status="failed") == failed + 1
    packs_dir = Path(app.config["DOCUMENT_STORE"]) / "packs"
    assert not list(packs_dir.glob("*.zip")) and not list((packs_dir / "tmp").iterdir())
    answer = client.get(f"{API}/workorder-docs/packs/{pack['id']}/download", headers=headers)
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "not_ready"


def test_pack_page_progress_download_and_the_live_ready_event(app, signed_in, connect):
    browser, csrf = signed_in("operator")
    wo = released_order()
    ws = connect()
    send(ws, "subscribe", f"workorder:{wo.id}")
    until_live(ws, f"workorder:{wo.id}")
    started = browser.post(
        f"/workorders/{wo.id}/pack", data={"csrf_token": csrf, "operation_id": str(wo.operations[0].id)}
    )
    assert started.status_code == 302 and "/workorders/packs/" in started.headers["Location"]
    waiting = browser.get(started.headers["Location"]).get_data(as_text=True)
    assert 'id="pack-status">queued' in waiting and "<progress" in waiting and 'data-live-topic="job:' in waiting
    seconds = counter("workorder_pack_export_seconds_count")
    run_worker(app, ["exports"])
    event = next_event(ws)
    pack = db.session.query(Pack).one()
    assert (event["type"], event["data"]["pack"], event["data"]["documents"]) == ("pack_ready", pack.id, 2)
    assert counter("workorder_pack_export_seconds_count") == seconds + 1
    done = browser.get(started.headers["Location"]).get_data(as_text=True)
    assert 'id="pack-download"' in done
    zipped = browser.get(f"/workorders/packs/{pack.id}/download")
    assert zipped.status_code == 200 and zipped.headers["Content-Disposition"].endswith(
        f"{wo.number}-op010-CUT-pack.zip"
    )
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(zipped.get_data())).read("manifest.json"))
    assert manifest["scope"] == "operation" and [op["code"] for op in manifest["operations"]] == ["CUT"]


def test_demo_seed_makes_a_routing_and_orders_once(app):
    from app.docsync import demo as docs_demo
    from app.items import demo as items_demo
    from app.workorders import demo
    from app.workorders.models import WorkOrder

    items_demo.seed()
    docs_demo.seed()
    db.session.commit()
    assert demo.seed() is not None
    db.session.commit()
    assert demo.seed() is None
    states = sorted(wo.state for wo in db.session.query(WorkOrder))
    assert states == ["draft", "released"]


def test_the_sweep_deletes_pack_files_nobody_asked_for_lately_and_stale_temporary_files(app, client, bearer):
    import os
    import time
    from datetime import timedelta

    from app.core.timeutil import utcnow

    headers = bearer("engineer")
    wo = released_order()
    old = export(client, headers, wo)
    path = packs.pack_path(old["manifest_sha256"])
    tmp = path.parent / "tmp" / "left-by-a-killed-worker.zip"
    tmp.write_bytes(b"PK partial")
    long_ago = time.time() - 8 * 24 * 3600
    for each in (path, tmp):
        os.utime(each, (long_ago, long_ago))
    assert packs.prune_files() == 1 and path.is_file() and not tmp.exists()  # asked for just now: kept
    db.session.get(Pack, old["id"]).created_at = utcnow() - timedelta(days=8)
    db.session.commit()
    assert packs.sweep() == 1 and not path.exists()
    gone = client.get(f"{API}/workorder-docs/packs/{old['id']}/download", headers=headers)
    assert gone.status_code == 409 and gone.get_json()["error"]["code"] == "file_missing"
    assert export(client, headers, wo)["cached"] is False and path.is_file()  # written anew


def test_the_sweep_fails_a_pack_whose_job_ended_without_saying_so(app, client, bearer):
    from app.core.jobs.models import JobRecord, JobState
    from app.core.timeutil import utcnow

    headers = bearer("engineer")
    wo = released_order()
    started = client.post(f"{API}/workorder-docs/{wo.id}/pack", json={}, headers=headers).get_json()
    record = db.session.get(JobRecord, started["job_id"])
    record.status, record.ended_at, record.error = JobState.failed, utcnow(), "work horse killed"
    db.session.commit()
    assert packs.sweep() == 1
    db.session.commit()
    pack = db.session.get(Pack, started["id"])
    assert pack.status == "failed" and "work horse killed" in pack.error
    assert not list((Path(app.config["DOCUMENT_STORE"]) / "packs").glob("*.zip"))


def test_a_state_move_is_published_on_the_order_once_committed(app, connect):
    routing = factory.routing()
    wo = factory.workorder(routing)
    ws = connect()
    send(ws, "subscribe", f"workorder:{wo.id}")
    until_live(ws, f"workorder:{wo.id}")
    service.move(wo.id, "canceled")
    db.session.rollback()  # not committed: nothing published
    service.move(wo.id, "released")
    db.session.commit()
    event = next_event(ws)
    assert (event["type"], event["data"]["from"], event["data"]["to"]) == ("workorder_state", "draft", "released")
