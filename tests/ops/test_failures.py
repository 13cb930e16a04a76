"""The failure tables (issue 19 point 4): rows of the window, newest first, filters and their
422s, paging, links, the capability's replay, the page (htmx partial, row ids, empty states)
and the overview's block of counts. Rows made by hand (tests/ops/scene.py), answers counted by hand."""

from datetime import datetime

import pytest

from app.breakages.models import Incident
from app.core.jobs.models import JobRecord
from app.docsync.models import RemoteSite
from app.eco.models import WorkflowRule
from app.extensions import db
from app.items.models import BomExport
from app.workorders.models import Pack
from tests.ops import scene

API = "/api/v1/parallel-ops"
HTMX = {"HX-Request": "true"}


def listed(client, headers, area, query=""):
    answer = client.get(f"{API}/{area}/failures?{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def ids(body):
    return [row["id"] for row in body["failures"]]


def sync_jobs() -> dict[str, int]:
    """Failed and interrupted jobs of two sites (days ago in the names), and jobs that are not failures."""
    alpha = RemoteSite(name="alpha", base_url="https://alpha.example")
    beta = RemoteSite(name="beta", base_url="https://beta.example")
    db.session.add_all([alpha, beta])
    db.session.flush()
    made = {
        "alpha_failed_2": scene.sync_job(alpha, 2, "failed", "push"),
        "beta_failed_3": scene.sync_job(beta, 3, "failed", "pull"),
        "beta_interrupted_1": scene.sync_job(beta, 1, "interrupted", "push"),
        "alpha_failed_10": scene.sync_job(alpha, 10, "failed", "push"),  # in 14 days, not in 7
        "alpha_finished_1": scene.sync_job(alpha, 1, "finished", "push"),
    }
    made["beta_replay"] = scene.sync_job(beta, 0.5, "finished", "pull", replay_of=made["beta_failed_3"])
    made["alpha_failed_2"].rq_job_id, made["alpha_failed_2"].error = "rq-alpha-2", "manifest: 503"
    db.session.add(JobRecord(id="rq-alpha-2", queue="sync", kind="doc_sync", status="failed", attempts=3))
    db.session.commit()
    return {name: job.id for name, job in made.items()}


@pytest.mark.dialects
def test_doc_sync_failures_newest_first_with_replay_state_attempts_and_links(app, client, bearer):
    made = sync_jobs()
    operator = bearer("operator")
    body = listed(client, operator, "doc-sync")
    assert ids(body) == [made["beta_interrupted_1"], made["alpha_failed_2"], made["beta_failed_3"]]
    assert body["paging"] == {"page": 1, "per_page": 20, "total": 3, "pages": 1}
    first, second, third = body["failures"]
    assert (second["site"], second["direction"], second["status"]) == ("alpha", "push", "failed")
    assert second["error"] == "manifest: 503" and second["attempts"] == 3 and not second["replayed"]
    assert second["links"] == {"page": f"/doc-sync/jobs/{made['alpha_failed_2']}", "job": "/queues/jobs/rq-alpha-2"}
    assert third["replayed"] and third["replay_id"] == made["beta_replay"]
    assert first["attempts"] is None and first["links"]["job"] is None  # no RQ job recorded


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dead_letter=true", ["alpha_failed_2"]),  # failed and not replayed; interrupted is no dead letter
        ("site=beta", ["beta_interrupted_1", "beta_failed_3"]),
        ("direction=pull", ["beta_failed_3"]),
        ("site=alpha&direction=push&window_days=14", ["alpha_failed_2", "alpha_failed_10"]),
        ("dead_letter=true&window_days=14", ["alpha_failed_2", "alpha_failed_10"]),
        ("window_days=1", []),
        ("dead_letter=false", ["beta_interrupted_1", "alpha_failed_2", "beta_failed_3"]),
    ],
)
def test_doc_sync_filters(app, client, bearer, query, expected):
    made = sync_jobs()
    assert ids(listed(client, bearer("operator"), "doc-sync", query)) == [made[name] for name in expected]


@pytest.mark.dialects
def test_the_dead_letter_filter_agrees_with_the_summary(app, client, bearer):
    sync_jobs()
    operator = bearer("operator")
    for days in (7, 14, 90):
        dead = listed(client, operator, "doc-sync", f"dead_letter=true&window_days={days}")["paging"]["total"]
        assert dead == client.get(f"{API}/summary?window_days={days}", headers=operator).json["doc_sync"]["dead_letter"]


def test_paging_is_on_the_server(app, client, bearer):
    made = sync_jobs()
    operator = bearer("operator")
    second = listed(client, operator, "doc-sync", "per_page=2&page=2")
    assert ids(second) == [made["beta_failed_3"]] and second["paging"] == {
        "page": 2,
        "per_page": 2,
        "total": 3,
        "pages": 2,
    }
    assert listed(client, operator, "doc-sync", "per_page=200")["paging"]["per_page"] == 200


@pytest.mark.parametrize(
    ("area", "query", "named"),
    [
        ("doc-sync", "per_page=0", "per_page"),
        ("doc-sync", "per_page=201", "per_page"),
        ("workflow", "per_page=201", "per_page"),
        ("doc-sync", "window_days=5", "window_days"),
        ("exports", "window_days=abc", "window_days"),
        ("doc-sync", "direction=sideways", "direction"),
        ("doc-sync", "site=nowhere", "site"),
        ("doc-sync", "dead_letter=maybe", "dead_letter"),
        ("workflow", "phase=during", "phase"),
        ("workflow", "rule=999", "rule"),
        ("workflow", "rule=x", "rule"),
        ("helpdesk", "status=sent", "status"),
        ("exports", "kind=zip", "kind"),
        ("exports", "sort=oldest", "sort"),
    ],
)
def test_bad_input_is_422_naming_the_parameter(app, client, bearer, area, query, named):
    answer = client.get(f"{API}/{area}/failures?{query}", headers=bearer("operator"))
    assert answer.status_code == 422, answer.json
    details = answer.json["error"]["details"]
    assert (details.get("field") or details["fields"][0]["field"]) == named


def test_operators_and_admins_read_the_tables_others_do_not(app, client, bearer):
    for area in ("doc-sync", "workflow", "helpdesk", "exports"):
        assert client.get(f"{API}/{area}/failures").status_code == 401
        for role, status in (("viewer", 403), ("engineer", 403), ("operator", 200), ("admin", 200)):
            assert client.get(f"{API}/{area}/failures", headers=bearer(role)).status_code == status, (area, role)


def test_workflow_failures_by_rule_and_phase(app, client, bearer):
    scene.workflow_runs()  # failed: BLOCK 4.5 days ago, RETRY_EXHAUSTED 5.5, BLOCK 20 (outside 7 days)
    operator = bearer("operator")
    body = listed(client, operator, "workflow")
    assert [r["result_code"] for r in body["failures"]] == ["BLOCK", "RETRY_EXHAUSTED"]
    run = body["failures"][0]
    assert run["rule"] == "Notify" and run["phase"] == "before" and run["eco"].startswith("ECO-")
    assert run["links"] == {"page": f"/ecos/{run['eco_id']}", "job": None}
    rule = db.session.scalar(db.select(WorkflowRule.id))
    assert listed(client, operator, "workflow", f"rule={rule}&phase=before&window_days=30")["paging"]["total"] == 3
    assert listed(client, operator, "workflow", "phase=after")["failures"] == []


def test_helpdesk_failures_are_failed_and_dead_sends_of_the_window(app, client, bearer):
    scene.incidents()  # failed: the one of 1 day ago; dead: the resolved one of 4 days ago
    operator = bearer("operator")
    body = listed(client, operator, "helpdesk")
    assert [(r["helpdesk_status"]) for r in body["failures"]] == ["failed", "dead"]
    assert body["failures"][0]["links"]["page"] == f"/breakages/{body['failures'][0]['id']}"
    assert [r["helpdesk_status"] for r in listed(client, operator, "helpdesk", "status=dead")["failures"]] == ["dead"]


@pytest.mark.dialects
def test_export_failures_of_both_kinds_newest_first(app, client, bearer):
    scene.exports()  # failed: BOM delta 2 and 10 days ago, pack 6 days ago
    operator = bearer("operator")
    body = listed(client, operator, "exports")
    bom = db.session.scalar(
        db.select(BomExport.id).where(BomExport.status == "failed").order_by(BomExport.created_at.desc())
    )
    pack = db.session.scalar(db.select(Pack.id).where(Pack.status == "failed"))
    assert [(r["kind"], r["id"]) for r in body["failures"]] == [("bom_delta", bom), ("workorder_pack", pack)]
    assert [r["links"]["page"] for r in body["failures"]] == [f"/items/exports/{bom}", f"/workorders/packs/{pack}"]
    assert [r["kind"] for r in listed(client, operator, "exports", "kind=workorder_pack")["failures"]] == [
        "workorder_pack"
    ]
    assert listed(client, operator, "exports", "window_days=14&kind=bom_delta")["paging"]["total"] == 2


def test_the_rows_read_their_fields_from_the_records(app, client, bearer):
    """The helpdesk and export rows name some fields otherwise than the records (schemas' aliases)."""
    scene.incidents()
    scene.exports()
    failed = db.session.scalar(db.select(Incident).where(Incident.helpdesk_status == "failed"))
    failed.helpdesk_error, failed.helpdesk_error_category, failed.helpdesk_attempts = "HTTP 422", "refused", 2
    pack = db.session.scalar(db.select(Pack).where(Pack.status == "failed"))
    pack.error = "lock broken"
    db.session.commit()
    operator = bearer("operator")
    [row] = [r for r in listed(client, operator, "helpdesk")["failures"] if r["id"] == failed.id]
    assert (row["code"], row["error"], row["error_category"], row["attempts"]) == (
        failed.code,
        "HTTP 422",
        "refused",
        2,
    )
    assert datetime.fromisoformat(row["occurred_at"]).replace(tzinfo=None) == failed.occurred_at.replace(tzinfo=None)
    [row] = listed(client, operator, "exports", "kind=workorder_pack")["failures"]
    assert (row["id"], row["error"]) == (pack.id, "lock broken")
    assert datetime.fromisoformat(row["created_at"]).replace(tzinfo=None) == pack.created_at.replace(tzinfo=None)


# --- the pages -------------------------------------------------------------------------------------


def test_the_page_has_the_filters_the_rows_with_their_ids_and_links(app, signed_in):
    made = sync_jobs()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/doc-sync/failures").get_data(as_text=True)
    for name in ("beta_interrupted_1", "alpha_failed_2", "beta_failed_3"):
        assert f'id="failure-doc-sync-{made[name]}"' in html
    assert f'id="failure-doc-sync-{made["alpha_failed_10"]}"' not in html
    assert '<select name="site"><option value="">all</option>' in html and '<option value="beta" >beta</option>' in html
    assert 'hx-push-url="true"' in html and 'href="/queues/jobs/rq-alpha-2"' in html
    assert f'action="/doc-sync/jobs/{made["alpha_failed_2"]}/replay"' in html
    assert f'action="/doc-sync/jobs/{made["beta_failed_3"]}/replay"' not in html  # replayed already
    assert 'data-role="replayed"' in html


def test_filters_are_kept_in_the_url_and_htmx_gets_the_table_alone(app, signed_in):
    made = sync_jobs()
    client, _ = signed_in("operator")
    page = client.get("/parallel-ops/doc-sync/failures?site=beta&direction=&window_days=14").get_data(as_text=True)
    assert '<option value="beta" selected>beta</option>' in page and '<option value="14" selected>14 d</option>' in page
    answer = client.get("/parallel-ops/doc-sync/failures?dead_letter=true", headers=HTMX)
    assert "HX-Request" in answer.headers["Vary"]
    table = answer.get_data(as_text=True)
    assert table.lstrip().startswith('<div id="failures-table"') and "<html" not in table
    assert f'id="failure-doc-sync-{made["alpha_failed_2"]}"' in table
    assert 'hx-get="/parallel-ops/doc-sync/failures?page=1&amp;dead_letter=true"' in table
    month = client.get("/parallel-ops/doc-sync/failures?window_days=30", headers=HTMX).get_data(as_text=True)
    assert (
        "In the last 30 days" in month and 'href="/parallel-ops/?window_days=30"' in month
    )  # the window swaps with it


def test_empty_states_say_what_is_empty(app, signed_in):
    client, _ = signed_in("operator")
    for area, words in (
        ("doc-sync", "No sync job failed"),
        ("workflow", "No workflow action run failed"),
        ("helpdesk", "No helpdesk send failed"),
        ("exports", "No export failed"),
    ):
        html = client.get(f"/parallel-ops/{area}/failures?window_days=30").get_data(as_text=True)
        assert f"{words} in the last 30 days." in html, area
    filtered = client.get("/parallel-ops/exports/failures?kind=bom_delta").get_data(as_text=True)
    assert "No export failed in the last 7 days with these filters." in filtered


def test_a_bad_filter_on_the_page_is_422_with_the_reason(app, signed_in):
    client, _ = signed_in("operator")
    answer = client.get("/parallel-ops/doc-sync/failures?site=nowhere")
    assert answer.status_code == 422 and "No remote site is named" in answer.get_data(as_text=True)
    assert client.get("/parallel-ops/other/failures").status_code == 404


def test_replay_from_the_table_marks_the_row_replayed_and_it_leaves_the_dead_letters(app, signed_in):
    made = sync_jobs()
    client, csrf = signed_in("operator")
    dead = made["alpha_failed_2"]
    answer = client.post(
        f"/doc-sync/jobs/{dead}/replay", data={"csrf_token": csrf}, headers={**HTMX, "HX-Target": "flashes"}
    )
    assert answer.status_code == 200 and f"Replay of job {dead}" in answer.get_data(as_text=True)
    table = client.get("/parallel-ops/doc-sync/failures", headers=HTMX).get_data(as_text=True)
    row = table.split(f'id="failure-doc-sync-{dead}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-role="replayed"' in row and f'action="/doc-sync/jobs/{dead}/replay"' not in row
    dead_letters = client.get("/parallel-ops/doc-sync/failures?dead_letter=true", headers=HTMX).get_data(as_text=True)
    assert f'id="failure-doc-sync-{dead}"' not in dead_letters and "No sync job failed" in dead_letters


@pytest.mark.parametrize(("role", "offered"), [("operator", False), ("admin", True)])
def test_helpdesk_re_send_is_offered_to_those_the_capability_lets_re_send(app, signed_in, role, offered):
    scene.incidents()
    client, _ = signed_in(role)
    html = client.get("/parallel-ops/helpdesk/failures").get_data(as_text=True)
    assert ('name="replay" value="1"' in html) is offered
    assert ("engineers re-send" in html) is not offered


def test_export_rows_offer_the_capability_s_own_start_again(app, signed_in):
    scene.exports()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/exports/failures").get_data(as_text=True)
    assert 'action="/items/compare/export"' in html and 'name="left" value="A@A"' in html
    pack = db.session.scalar(db.select(Pack).where(Pack.status == "failed"))
    assert f'action="/workorders/{pack.workorder_id}/pack"' in html


def test_the_overview_links_the_four_tables_with_their_counts(app, signed_in):
    sync_jobs()
    scene.incidents()
    scene.exports()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/?window_days=14").get_data(as_text=True)
    assert 'href="/parallel-ops/doc-sync/failures?window_days=14"' in html
    assert '<span data-figure="doc-sync-failed">4</span>' in html  # 3 failed + 1 interrupted in 14 days
    assert '<span data-figure="dead-letter">2</span>' in html
    assert '<span data-figure="helpdesk-failed">2</span>' in html
    assert '<span data-figure="exports-failed">3</span>' in html
    assert '<span data-figure="workflow-failed">0</span>' in html


def test_the_workflow_page_links_each_run_to_its_eco_and_rule(app, signed_in):
    scene.workflow_runs()
    client, _ = signed_in("operator")
    html = client.get("/parallel-ops/workflow/failures").get_data(as_text=True)
    rule = db.session.scalar(db.select(WorkflowRule))
    assert html.count('<tr id="failure-workflow-') == 2 and "RETRY_EXHAUSTED" in html
    assert f'<option value="{rule.id}" >Notify</option>' in html and 'href="/ecos/rules"' in html
    assert 'data-role="replay"' not in html  # the ECO capability has no replay of a run
