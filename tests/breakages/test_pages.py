"""The pages: list with filters, the create form (error redisplayed with the field), detail with
its flow, timeline and loopback, the metrics page's SVG charts, failures, the helpdesk endpoint."""

from sqlalchemy import func, select

from app.breakages.models import Incident
from app.extensions import db
from tests.breakages import factory


def test_list_create_and_detail(app, signed_in):
    browser, csrf = signed_in("engineer")
    bom = factory.product()
    factory.incident(bom, batch_code="LOT-OLD", severity="low")
    listed = browser.get("/breakages/?severity=low").get_data(as_text=True)
    assert "LOT-OLD" not in listed or "BRK-000001" in listed
    assert 'data-live-topic="breakage:list"' in listed
    assert "<td>not sent</td>" in listed and "not_sent" not in listed  # stored names read as words
    assert '<option value="occurred_at" selected>occurred at</option>' in listed
    refused = browser.post(
        "/breakages/new", data={"csrf_token": csrf, "item_id": bom.item_id, "severity": "high", "description": ""}
    )
    assert refused.status_code == 422 and "description" in refused.get_data(as_text=True)
    saved = browser.post(
        "/breakages/new",
        data={
            "csrf_token": csrf,
            "item_id": bom.item_id,
            "bom_line_id": str(bom.lines[0].id),
            "severity": "high",
            "responsibility": "supplier",
            "description": "Cracked housing",
            "occurred_at": "2026-11-30T08:15",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    made = db.session.scalar(select(Incident).where(Incident.description == "Cracked housing"))
    assert made.component_id == bom.lines[0].child_id and made.occurred_at.hour == 8
    page = browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert made.code in page and 'id="move-form"' in page and "breakage:" in page


def test_moves_timeline_and_loopback_from_the_page(app, signed_in):
    browser, csrf = signed_in("engineer")
    made = factory.incident()
    blocked = browser.post(
        f"/breakages/{made.id}/status", data={"csrf_token": csrf, "to_status": "resolved"}, follow_redirects=True
    )
    assert "can move to investigating, canceled" in blocked.get_data(as_text=True)
    factory.resolve(made)
    opened = browser.post(f"/breakages/{made.id}/eco", data={"csrf_token": csrf})
    assert opened.status_code == 302 and "/ecos/" in opened.headers["Location"]
    eco_page = browser.get(opened.headers["Location"]).get_data(as_text=True)
    assert 'id="eco-sources"' in eco_page and made.code in eco_page
    db.session.refresh(made)
    detail = browser.get(f"/breakages/{made.id}").get_data(as_text=True)
    assert 'id="eco-stage"' in detail and f"eco:{made.eco_id}" in detail
    assert detail.count("<li data-kind=") >= 5


def test_metrics_page_draws_both_charts(app, signed_in):
    browser, _ = signed_in("viewer")
    bom = factory.product()
    for days, component in ((3, "C-9"), (10, "C-9"), (20, "R-9")):
        factory.incident(bom, days_ago=days, component=component)
    page = browser.get("/breakages/metrics?days=90").get_data(as_text=True)
    assert 'id="pareto-chart"' in page and page.count('class="bar"') >= 2 and 'class="cumulative"' in page
    assert 'id="trend-chart"' in page and 'class="incidents"' in page
    assert browser.get("/breakages/metrics?days=-4").status_code == 200  # a bad window shows the default


def test_helpdesk_page_keeps_secrets_hidden_and_failures_page(app, signed_in):
    browser, csrf = signed_in("operator")
    bad = browser.post("/breakages/helpdesk", data={"csrf_token": csrf, "name": "hd", "base_url": "ftp://x"})
    assert bad.status_code == 422 and "base_url" in bad.get_data(as_text=True)
    ok = browser.post(
        "/breakages/helpdesk",
        data={
            "csrf_token": csrf,
            "name": "hd",
            "base_url": "http://127.0.0.1:9",
            "token": "tok-secret-1",
            "webhook_secret": "hook-secret-1",
        },
    )
    assert ok.status_code == 302
    page = browser.get("/breakages/helpdesk").get_data(as_text=True)
    assert "tok-secret-1" not in page and "hook-secret-1" not in page and "set" in page
    assert browser.get("/breakages/helpdesk/failures").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_the_edit_form_changes_fields_and_names_a_bad_one(app, signed_in):
    browser, csrf = signed_in("engineer")
    made = factory.incident(customer="Acme")
    form = browser.get(f"/breakages/{made.id}/edit").get_data(as_text=True)
    assert 'id="incident-form"' in form and "Acme" in form
    changed = browser.post(
        f"/breakages/{made.id}/edit",
        data={
            "csrf_token": csrf,
            "item_id": made.item_id,
            "description": "Cracked",
            "customer": "",
            "root_cause": "lot 7",
        },
    )
    assert changed.status_code == 302
    db.session.refresh(made)
    assert (made.description, made.customer, made.root_cause) == ("Cracked", "", "lot 7")
    bad = browser.post(
        f"/breakages/{made.id}/edit", data={"csrf_token": csrf, "item_id": made.item_id, "severity": "huge"}
    )
    assert bad.status_code == 422 and "severity" in bad.get_data(as_text=True)
