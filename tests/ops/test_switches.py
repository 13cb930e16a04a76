"""Ops switches: a paused kind's submissions through their real APIs answer 503 `paused` and write
nothing, jobs already queued still run on a real worker, resume restores; breakers opened and
closed by hand (a success does not close a held one); roles, audit rows, the page and the gauge."""

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.breakages.models import HelpdeskEndpoint
from app.core import breaker
from app.core.audit.models import AuditEntry
from app.core.jobs.models import JobRecord
from app.docsync import sites
from app.docsync.models import SyncJob
from app.extensions import db
from app.items import service as items
from app.items.models import BomExport
from app.ops import switches
from tests.conftest import run_worker
from tests.helpers import assert_error_shape
from tests.items.factory import assembly, item

API = "/api/v1/parallel-ops/switches"
EXPORT = "/api/v1/bom/compare/delta/export?left=A-1@A&right=A-1@B&export_format=csv"
TOKEN = "site-token-123456"


@pytest.fixture
def two_revisions(app):
    for n in ("P-1", "P-2"):
        item(n)
    rev_a = assembly("A-1", [("P-1", 2, 10)], release=True)
    rev_b, _ = items.new_revision(rev_a)
    items.add_line(rev_b.id, {"child": "P-2", "quantity": 1, "find_number": 20})
    db.session.commit()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def pause(client, headers, kind: str, reason: str = "supplier outage"):
    return client.post(f"{API}/intake/{kind}/pause", json={"reason": reason}, headers=headers)


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=1)
def test_a_paused_kind_is_refused_queued_jobs_still_run_and_resume_restores(app, client, bearer, two_revisions):
    admin, engineer = bearer("admin"), bearer("engineer")
    queued = client.get(EXPORT, headers=engineer)
    assert queued.status_code == 202, queued.json

    answer = pause(client, admin, "bom_delta_export")
    assert answer.status_code == 200, answer.json
    assert answer.json["paused"] is True and answer.json["reason"] == "supplier outage"
    assert "admin" in answer.json["paused_by"]
    rows = (count(BomExport), count(JobRecord), count(AuditEntry))

    refused = client.get(EXPORT, headers=engineer)
    assert refused.status_code == 503 and refused.json["error"]["code"] == "paused"
    assert_error_shape(refused)
    details = refused.json["error"]["details"]
    assert details["kind"] == "bom_delta_export" and details["reason"] == "supplier outage"
    assert details["paused_by"] == answer.json["paused_by"] and details["paused_at"]
    assert answer.json["paused_by"] in refused.json["error"]["message"]
    assert "supplier outage" in refused.json["error"]["message"]
    db.session.expire_all()
    assert (count(BomExport), count(JobRecord), count(AuditEntry)) == rows  # nothing written

    run_worker(app, queues=("exports",))  # the job queued before the pause runs
    db.session.expire_all()
    assert db.session.get(BomExport, queued.json["id"]).status == "done"
    assert db.session.get(JobRecord, queued.json["job_id"]).status == "finished"

    resumed = client.post(f"{API}/intake/bom_delta_export/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json["paused"] is False
    assert client.get(EXPORT, headers=engineer).status_code == 202
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "ops_switch").order_by(AuditEntry.id)
    ).all()
    assert actions == ["pause", "resume"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "pause"))
    assert (entry.entity_id, entry.before, entry.after) == (
        "bom_delta_export",
        {"paused": False},
        {"paused": True, "reason": "supplier outage"},
    )


def test_a_paused_doc_sync_push_is_refused_and_a_pull_is_not(app, client, bearer):
    site = sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.commit()
    operator, admin = bearer("operator"), bearer("admin")
    assert pause(client, admin, "doc-sync-push", "remote upgrade").status_code == 200

    def submit(direction: str, key: str):
        body = {"site_id": site.id, "direction": direction, "idempotency_key": key}
        return client.post("/api/v1/doc-sync/jobs", json=body, headers=operator)

    refused = submit("push", "k-push")
    assert refused.status_code == 503 and refused.json["error"]["code"] == "paused"
    db.session.expire_all()
    assert count(SyncJob) == 0 and count(JobRecord) == 0
    assert submit("pull", "k-pull").status_code == 202  # another kind
    client.post(f"{API}/intake/doc-sync-push/resume", headers=admin)
    assert submit("push", "k-push").status_code == 202


def test_work_a_worker_enqueues_is_no_submission(app):
    """Outside a request (the sweeper resuming a sync job, a CLI command) the pause does not refuse."""
    db.session.add(switches.IntakePause(kind="demo", paused_by="root", reason="r"))
    db.session.commit()
    from app.queues import service as queues

    job_id = queues.enqueue_demo(0, False)
    db.session.commit()
    assert db.session.get(JobRecord, job_id).status == "queued"


def test_pause_and_resume_errors(app, client, bearer):
    admin = bearer("admin")
    unknown = pause(client, admin, "nope")
    assert unknown.status_code == 422 and unknown.json["error"]["details"]["field"] == "kind"
    for reason in ("", "   ", "x" * 301):
        answer = pause(client, admin, "demo", reason)
        assert answer.status_code == 422 and answer.json["error"]["details"]["fields"][0]["field"] == "reason"
    assert client.post(f"{API}/intake/demo/pause", headers=admin).status_code == 422  # no body
    assert pause(client, admin, "demo").status_code == 200
    again = pause(client, admin, "demo")
    assert again.status_code == 409 and again.json["error"]["code"] == "already_paused"
    assert client.post(f"{API}/intake/demo/resume", headers=admin).status_code == 200
    not_paused = client.post(f"{API}/intake/demo/resume", headers=admin)
    assert not_paused.status_code == 409 and not_paused.json["error"]["code"] == "not_paused"


def test_only_admins_switch_operators_read(app, client, bearer):
    site = sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.commit()
    assert client.get(API).status_code == 401
    for role in ("viewer", "engineer", "operator"):
        headers = bearer(role)
        assert pause(client, headers, "demo").status_code == 403, role
        assert client.post(f"{API}/intake/demo/resume", headers=headers).status_code == 403, role
        opened = client.post(f"{API}/sites/{site.id}/breaker/open", json={"reason": "r"}, headers=headers)
        assert opened.status_code == 403, role
        assert client.post(f"{API}/helpdesk/breaker/close", headers=headers).status_code == 403, role
    assert client.get(API, headers=bearer("viewer")).status_code == 403
    listed = client.get(API, headers=bearer("operator"))
    assert listed.status_code == 200
    assert [s["kind"] for s in listed.json["intake"]] == list(switches.KINDS)
    assert not any(s["paused"] for s in listed.json["intake"])
    assert [(b["target"], b["name"], b["open"]) for b in listed.json["breakers"]] == [("site", "plant-b", False)]
    switched = select(func.count()).where(AuditEntry.entity.in_(("ops_switch", "remote_site", "helpdesk_endpoint")))
    assert db.session.scalar(switched) == 1  # the site's creation only: no refused switch left a trace


def test_a_site_breaker_opened_by_hand_stays_open_until_closed_by_hand(app, client, bearer):
    site = sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.commit()
    admin = bearer("admin")
    opened = client.post(f"{API}/sites/{site.id}/breaker/open", json={"reason": "firewall change"}, headers=admin)
    assert opened.status_code == 200, opened.json
    body = opened.json
    assert (body["open"], body["held"], body["reason"]) == (True, True, "firewall change")
    assert "admin" in body["held_by"] and body["held_at"]

    preview = client.post(
        "/api/v1/doc-sync/jobs/preview", json={"site_id": site.id, "direction": "push"}, headers=admin
    )
    assert preview.status_code == 503 and preview.json["error"]["code"] == "circuit_open"
    assert preview.json["error"]["details"]["reason"] == "firewall change"
    assert "by hand" in preview.json["error"]["message"]

    db.session.expire_all()
    site = sites.get(site.id)
    sites.record_success(site)  # a health probe that answers: the automatic breaker closes, a held one stays
    db.session.commit()
    assert breaker.is_open(site) and site.failures == 0
    again = client.post(f"{API}/sites/{site.id}/breaker/open", json={"reason": "again"}, headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_open"

    closed = client.post(f"{API}/sites/{site.id}/breaker/close", headers=admin)
    assert closed.status_code == 200 and (closed.json["open"], closed.json["held"]) == (False, False)
    assert closed.json["held_by"] is None and closed.json["reason"] is None
    shut = client.post(f"{API}/sites/{site.id}/breaker/close", headers=admin)
    assert shut.status_code == 409 and shut.json["error"]["code"] == "not_open"
    assert client.post(f"{API}/sites/999/breaker/close", headers=admin).status_code == 404

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "remote_site", AuditEntry.action.like("breaker_%"))
    ).all()
    assert [e.action for e in entries] == ["breaker_open", "breaker_close"]
    assert entries[0].before["held"] is False and entries[0].after["held"] is True
    assert entries[0].after["reason"] == "firewall change" and entries[1].after["open"] is False


def test_closing_by_hand_a_breaker_opened_by_failures(app, client, bearer):
    site = sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    for _ in range(3):
        sites.record_failure(site, "timed out")
    db.session.commit()
    assert breaker.is_open(site) and not breaker.is_held(site)
    closed = client.post(f"{API}/sites/{site.id}/breaker/close", headers=bearer("admin")).json
    assert (closed["open"], closed["failures"], closed["open_until"]) == (False, 0, None)


def test_the_helpdesk_breaker_by_hand(app, client, bearer):
    admin = bearer("admin")
    missing = client.post(f"{API}/helpdesk/breaker/open", json={"reason": "r"}, headers=admin)
    assert missing.status_code == 409 and missing.json["error"]["code"] == "no_endpoint"
    db.session.add(HelpdeskEndpoint(name="desk", base_url="https://desk.example"))
    db.session.commit()
    opened = client.post(f"{API}/helpdesk/breaker/open", json={"reason": "vendor maintenance"}, headers=admin)
    assert opened.status_code == 200 and opened.json["held"] is True and opened.json["target"] == "helpdesk"
    listed = client.get(API, headers=bearer("operator")).json["breakers"]
    assert [(b["target"], b["open"], b["reason"]) for b in listed] == [("helpdesk", True, "vendor maintenance")]
    assert client.post(f"{API}/helpdesk/breaker/close", headers=admin).json["open"] is False
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "helpdesk_endpoint")).all()
    assert actions == ["breaker_open", "breaker_close"]


def test_the_page_shows_the_switches_to_operators_without_forms(app, signed_in, client):
    sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.add(switches.IntakePause(kind="flow_run", paused_by="root", reason="migrating flows"))
    db.session.commit()
    signed_in("operator", "olga")
    page = client.get("/parallel-ops/").get_data(as_text=True)
    shown = page[page.index('id="switches"') :]
    assert 'data-kind="flow_run"' in shown and "migrating flows" in shown and "root" in shown
    assert "/parallel-ops/switches/" not in page  # no form for an operator


def test_an_admin_switches_from_the_page(app, signed_in):
    sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.add(switches.IntakePause(kind="flow_run", paused_by="root", reason="migrating flows"))
    db.session.commit()
    browser, csrf = signed_in("admin", "ada")
    page = browser.get("/parallel-ops/").get_data(as_text=True)
    assert 'action="/parallel-ops/switches/intake/flow_run/resume"' in page
    assert 'action="/parallel-ops/switches/intake/demo/pause"' in page and 'name="csrf_token"' in page
    done = browser.post(
        "/parallel-ops/switches/intake/demo/pause",
        data={"reason": "demo off", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "New demo jobs are paused." in done.get_data(as_text=True)
    assert db.session.get(switches.IntakePause, "demo").reason == "demo off"
    empty = browser.post(
        "/parallel-ops/switches/intake/flow_run/resume", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "New flow_run jobs are taken again." in empty.get_data(as_text=True)
    refused = browser.post("/parallel-ops/switches/intake/demo/resume", data={}, follow_redirects=False)
    assert refused.status_code == 400  # no CSRF token
    site_id = sites.all_sites()[0].id
    no_reason = browser.post(
        f"/parallel-ops/switches/sites/{site_id}/breaker/open", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Reason" in no_reason.get_data(as_text=True) and not breaker.is_open(sites.get(site_id))


def test_operators_cannot_post_the_switch_forms(app, signed_in):
    browser, csrf = signed_in("operator")
    answer = browser.post("/parallel-ops/switches/intake/demo/pause", data={"reason": "r", "csrf_token": csrf})
    assert answer.status_code == 403 and db.session.get(switches.IntakePause, "demo") is None


def test_the_gauge_has_one_row_per_known_kind(app, client):
    db.session.add(switches.IntakePause(kind="workorder_pack", paused_by="root", reason="r"))
    db.session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    rows = dict(re.findall(r'^ops_switch_paused\{kind="([^"]+)"\} (\S+)$', text, re.M))
    assert rows == {kind: "1.0" if kind == "workorder_pack" else "0.0" for kind in switches.KINDS}


def _enqueued_kinds() -> set[str]:
    """The first argument of every enqueue() call in app/: literal kinds, f-strings as patterns,
    names resolved in their module."""
    found: set[str] = set()
    for path in Path("app").rglob("*.py"):
        tree = ast.parse(path.read_text())
        module = ".".join(path.with_suffix("").parts)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            owner = getattr(node.func, "value", None)
            if name != "enqueue" or (owner is not None and getattr(owner, "id", None) != "jobs"):
                continue
            kind = node.args[0]
            if isinstance(kind, ast.Constant):
                found.add(kind.value)
            elif isinstance(kind, ast.JoinedStr):
                found.add(
                    "".join(re.escape(p.value) if isinstance(p, ast.Constant) else ".+" for p in kind.values) + "$"
                )
            elif isinstance(kind, ast.Name):
                found.add(getattr(__import__(module, fromlist=["x"]), kind.id))
    return found


def test_every_kind_enqueued_in_the_app_is_a_known_kind(app):
    kinds = _enqueued_kinds()
    patterns = {k for k in kinds if k.endswith("$")}
    assert kinds - patterns <= set(switches.KINDS)
    for pattern in patterns:
        assert any(re.fullmatch(pattern[:-1], k) for k in switches.KINDS), pattern
    from app.eco.actions import JOB_KINDS

    assert {f"eco.{job}" for job in JOB_KINDS} | {"doc-sync-push", "doc-sync-pull"} <= set(switches.KINDS)
    assert len(kinds - patterns) + 2 + len(JOB_KINDS) == len(switches.KINDS)  # nothing listed that is never enqueued
