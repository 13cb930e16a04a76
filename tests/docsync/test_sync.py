"""Sync jobs against a real remote Forgeline over HTTP, run by a real RQ worker."""

import io

import pytest
from prometheus_client import REGISTRY

from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.docsync import documents, runner, sites, sync
from app.docsync.documents import Metadata
from app.docsync.models import SyncJob
from app.docsync.remote import Unreachable
from app.extensions import db
from tests.conftest import run_worker
from tests.docsync.factory import PDF, make_doc, sha
from tests.items.factory import item

API = "/api/v1/doc-sync/jobs"


@pytest.fixture
def site(app, remote):
    made = sites.create("plant-b", remote.url, remote.token)
    db.session.commit()
    return made


def push(site, key, **selection):
    job, _ = sync.request_job(site.id, "push", key, **selection)
    db.session.commit()
    return job


def run(app, job) -> SyncJob:
    run_worker(app, ["sync"])
    db.session.expire_all()
    return db.session.get(SyncJob, job.id)


def jobs_total(direction: str, status: str) -> float:
    return REGISTRY.get_sample_value("doc_sync_jobs_total", {"direction": direction, "status": status}) or 0.0


def outcomes(job) -> dict[str, str]:
    return {i.number: i.outcome for i in job.items}


def bytes_pushed() -> float:
    return REGISTRY.get_sample_value("doc_sync_bytes_total", {"direction": "push"}) or 0.0


@pytest.mark.dialects
def test_same_key_same_payload_is_the_same_job_and_another_payload_is_refused(app, client, bearer, site):
    operator = bearer("operator")
    make_doc()
    body = {"site_id": site.id, "direction": "push", "numbers": ["DWG-1"], "idempotency_key": "nightly-1"}
    first = client.post(API, json=body, headers=operator)
    again = client.post(API, json=body, headers=operator)
    assert (first.status_code, again.status_code) == (202, 200) and first.json["id"] == again.json["id"]
    other = client.post(API, json={**body, "direction": "pull"}, headers=operator)
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_mismatch"
    assert db.session.query(SyncJob).count() == 1
    assert db.session.query(JobRecord).filter_by(queue="sync").count() == 1


def test_push_transfers_verified_bytes_once_then_the_checkpoint_leaves_nothing_to_do(app, site, remote):
    make_doc("DWG-1")
    make_doc("DWG-2", b"%PDF-1.7 second drawing")
    before = bytes_pushed()
    assert {p.number: p.action for p in sync.preview(site.id, "push")} == {"DWG-1": "send", "DWG-2": "send"}

    finished_before = jobs_total("push", "finished")
    job = run(app, push(site, "first"))
    assert job.status == "finished" and outcomes(job) == {"DWG-1": "transferred", "DWG-2": "transferred"}
    assert job.bytes == len(PDF) + len(b"%PDF-1.7 second drawing") == bytes_pushed() - before
    assert jobs_total("push", "finished") == finished_before + 1
    assert remote.latest("DWG-1") == (sha(PDF), 1, PDF)
    assert all(i.target_sha256 == i.source_sha256 for i in job.items)

    assert sync.preview(site.id, "push") == []  # the checkpoint: nothing changed since
    second = run(app, push(site, "second"))
    assert (second.status, second.total, second.sent, second.bytes) == ("finished", 0, 0, 0)
    named = run(app, push(site, "third", numbers=["DWG-1", "DWG-2"]))
    assert outcomes(named) == {"DWG-1": "present", "DWG-2": "present"} and named.bytes == 0
    assert remote.version_count() == 2

    audit = (
        db.session.query(AuditEntry).filter_by(entity="doc_sync_job", entity_id=str(job.id), action="finished").one()
    )
    assert audit.after["sent"] == 2 and audit.after["bytes"] == job.bytes
    assert audit.after["checksums"] == {"DWG-1": sha(PDF), "DWG-2": sha(b"%PDF-1.7 second drawing")}
    assert audit.after["idempotency_key"] == "first"


def test_a_filtered_job_leaves_the_checkpoint_where_it_was(app, site, remote):
    make_doc("DWG-1")
    documents.create("SPEC-1", Metadata("Spec", "specification"))
    db.session.commit()
    documents.add_version(documents.get_by_number("SPEC-1"), io.BytesIO(b"spec"), None)
    db.session.commit()
    assert outcomes(run(app, push(site, "specs", doc_type="specification"))) == {"SPEC-1": "transferred"}
    assert [p.number for p in sync.preview(site.id, "push")] == ["DWG-1", "SPEC-1"]  # the drawing still waits


def test_bytes_move_only_when_the_remote_lacks_them(app, site, remote):
    remote.add_document("THEIRS-1", PDF)
    make_doc("DWG-1")  # the same bytes under another number
    job = run(app, push(site, "k"))
    item = job.items[0]
    assert (item.outcome, item.bytes) == ("transferred", 0)
    assert remote.latest("DWG-1")[:2] == (sha(PDF), 1)


@pytest.mark.dialects  # latest versions by GROUP BY max()
def test_a_change_on_both_sides_is_a_conflict_and_is_not_overwritten(app, site, remote):
    doc = make_doc("DWG-1")
    run(app, push(site, "first"))
    documents.add_version(doc, io.BytesIO(b"%PDF-1.7 changed here"), "a.pdf")
    db.session.commit()
    assert [p.action for p in sync.preview(site.id, "push")] == ["send"]  # only this side changed

    remote.add_document("DWG-1", b"%PDF-1.7 changed there")
    plan = sync.preview(site.id, "push")
    assert [(p.action, p.reason) for p in plan] == [("conflict", "changed on both sides")]
    job = run(app, push(site, "second"))
    assert outcomes(job) == {"DWG-1": "conflict"} and job.status == "finished" and job.conflicts == 1
    assert remote.latest("DWG-1")[2] == b"%PDF-1.7 changed there"


def test_pull_brings_remote_documents_with_matching_checksums(app, site, remote):
    remote.add_document("R-1", b"%PDF-1.7 from plant b", title="Pump housing")
    remote.add_document("R-2", b"ISO-10303-21; model")
    job, _ = sync.request_job(site.id, "pull", "pull-1")
    db.session.commit()
    job = run(app, job)
    assert job.status == "finished" and outcomes(job) == {"R-1": "transferred", "R-2": "transferred"}
    local = documents.get_by_number("R-1")
    assert (local.title, local.latest.sha256, local.latest.origin) == (
        "Pump housing",
        sha(b"%PDF-1.7 from plant b"),
        "plant-b",
    )
    assert documents.get_by_number("R-2").latest.content_type == "model/step"
    again, _ = sync.request_job(site.id, "pull", "pull-2")
    db.session.commit()
    assert run(app, again).total == 0


@pytest.mark.config(DOCSYNC_RETRY_DELAYS=[0.01])
def test_replay_reruns_only_the_failed_items_as_a_linked_job(app, client, bearer, site, remote):
    make_doc("OK-1", b"%PDF small")
    make_doc("BIG-1", b"%PDF " + b"x" * 5000)
    remote.app.config["DOCUMENT_MAX_BYTES"] = 1000  # the remote refuses the big one
    try:
        job = run(app, push(site, "with-a-failure"))
    finally:
        remote.app.config["DOCUMENT_MAX_BYTES"] = 100 * 1024 * 1024
    assert job.status == "failed" and outcomes(job) == {"OK-1": "transferred", "BIG-1": "failed"}
    assert "too_large" in job.items[1].error or "larger" in next(i.error for i in job.items if i.number == "BIG-1")

    operator = bearer("operator")
    replayed = client.post(f"{API}/{job.id}/replay", headers=operator)
    assert replayed.status_code == 202 and replayed.json["replay_of_id"] == job.id
    assert replayed.json["selection"] == {"numbers": ["BIG-1"]}
    assert client.post(f"{API}/{job.id}/replay", headers=operator).json["id"] == replayed.json["id"]
    replay = run(app, db.session.get(SyncJob, replayed.json["id"]))
    assert replay.status == "finished" and outcomes(replay) == {"BIG-1": "transferred"}
    assert remote.version_count() == 2
    detail = client.get(f"{API}/{replay.id}", headers=operator).json
    assert detail["items"][0]["source_sha256"] == sha(b"%PDF " + b"x" * 5000)
    finished = client.post(f"{API}/{replay.id}/replay", headers=operator)
    assert finished.status_code == 409


def test_a_wrong_token_fails_the_job_and_shows_on_the_site(app, site, remote, signed_in):
    make_doc()
    sites.set_token(site, "fl_this-is-not-the-token")
    db.session.commit()
    job = run(app, push(site, "k"))
    assert job.status == "failed" and "401" in job.error
    db.session.expire_all()
    assert sites.get(site.id).status == "unauthorized"
    browser, _ = signed_in("operator")
    page = browser.get(f"/doc-sync/sites/{site.id}").get_data(as_text=True)
    assert "unauthorized" in page and "401 from" in page


@pytest.mark.dialects  # bulk INSERT of the job's items (insertmanyvalues)
@pytest.mark.config(DOCSYNC_RETRY_DELAYS=[0.01], DOCSYNC_BREAKER_THRESHOLD=1)
def test_a_dead_site_opens_the_breaker_and_later_jobs_do_not_call_it(app, site, remote):
    from tests.conftest import free_port

    make_doc("A-1")
    make_doc("A-2", b"%PDF two")
    job = run(app, push(site, "ok"))
    documents.add_version(documents.get_by_number("A-1"), io.BytesIO(b"%PDF new"), None)
    documents.add_version(documents.get_by_number("A-2"), io.BytesIO(b"%PDF new 2"), None)
    db.session.commit()
    sites.update(site, base_url=f"http://127.0.0.1:{free_port()}")
    sites.set_token(site, remote.token)  # a new URL drops the token
    db.session.commit()
    with pytest.raises(Unreachable):  # the manifest call fails after its retries: RQ would retry the job
        runner.Runner(push(site, "dead")).run()
    db.session.rollback()
    assert sites.breaker_open(sites.get(site.id))
    blocked = run(app, push(site, "blocked"))
    assert blocked.status == "failed" and "calls pause" in blocked.error
    assert job.sent == 2


def test_sync_api_roles_and_bad_input(app, client, bearer, site):
    assert client.post(API, json={}, headers=bearer("engineer")).status_code == 403
    operator = bearer("operator")
    for body in (
        {"site_id": site.id, "direction": "sideways", "idempotency_key": "k"},
        {"site_id": site.id, "direction": "push", "idempotency_key": "bad key!"},
        {"site_id": site.id, "direction": "push", "document_ids": [999], "idempotency_key": "k"},
        {"site_id": site.id, "direction": "pull", "document_ids": [1], "idempotency_key": "k"},
        {"site_id": site.id, "direction": "push", "numbers": ["no spaces"], "idempotency_key": "k"},
    ):
        response = client.post(API, json=body, headers=operator)
        assert response.status_code == 422, body
    assert (
        client.post(
            API, json={"site_id": 999, "direction": "push", "idempotency_key": "k"}, headers=operator
        ).status_code
        == 404
    )
    assert db.session.query(SyncJob).count() == 0
    preview = client.post(f"{API}/preview", json={"site_id": site.id, "direction": "push"}, headers=operator)
    assert preview.status_code == 200 and preview.json == {
        "items": [],
        "counts": {"send": 0, "present": 0, "skipped": 0, "conflict": 0},
    }


def test_job_page_shows_outcomes_and_the_site_page_previews(app, site, remote, signed_in):
    make_doc()
    job = run(app, push(site, "page"))
    browser, csrf = signed_in("operator")
    page = browser.get(f"/doc-sync/jobs/{job.id}").get_data(as_text=True)
    assert f'data-live-topic="doc-sync:{job.id}"' in page and "transferred" in page and sha(PDF)[:12] in page
    make_doc("DWG-9", b"%PDF nine")
    preview = browser.post(f"/doc-sync/sites/{site.id}/preview", data={"direction": "push", "csrf_token": csrf})
    assert "1 to send" in preview.get_data(as_text=True)
    started = browser.post(
        f"/doc-sync/sites/{site.id}/jobs", data={"direction": "push", "idempotency_key": "form-1", "csrf_token": csrf}
    )
    assert started.status_code == 302 and "/doc-sync/jobs/" in started.location
    twice = browser.post(
        f"/doc-sync/sites/{site.id}/jobs", data={"direction": "push", "idempotency_key": "form-1", "csrf_token": csrf}
    )
    assert twice.location == started.location


def test_documents_metadata_travels_with_a_push(app, site, remote):
    """The remote site has no item P-1: a received document keeps its origin's refs."""
    item("P-1")
    documents.create("SPEC-1", Metadata("Paint spec", "specification", ("P-1",)))
    documents.add_version(documents.get_by_number("SPEC-1"), io.BytesIO(b"spec text"), "spec.txt")
    db.session.commit()
    run(app, push(site, "meta"))
    with remote.context():
        there = documents.get_by_number("SPEC-1")
        assert (there.title, there.doc_type, there.item_refs, there.latest.filename, there.latest.origin) == (
            "Paint spec",
            "specification",
            ["P-1"],
            "spec.txt",
            "forgeline",
        )


def test_an_interrupted_job_has_a_replay_button_with_a_confirmation(app, site, remote, signed_in):
    make_doc("INT-1", b"%PDF interrupted")
    job = push(site, "interrupted-1")
    job.status = "interrupted"
    job.ended_at = job.created_at
    db.session.commit()
    browser, csrf = signed_in("operator")
    page = browser.get(f"/doc-sync/jobs/{job.id}").get_data(as_text=True)
    assert 'id="replay"' in page and f'hx-confirm="Replay sync job #{job.id}?' in page
    replayed = browser.post(f"/doc-sync/jobs/{job.id}/replay", data={"csrf_token": csrf})
    assert replayed.status_code in (302, 303)
    assert db.session.query(SyncJob).filter_by(replay_of_id=job.id).count() == 1
