"""Consumption pages: dashboard with tolerance colouring and charts, plan and record forms, CSV import, inbox replay."""

import pytest
from sqlalchemy import func, select

from app.consumption import drain, inbox, service
from app.consumption.models import ConsumptionPlan, ConsumptionRecord, InboxEvent
from app.extensions import db
from tests.consumption import factory


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.dialects  # coalesce(sum()) GROUP BY and variance buckets
def test_the_dashboard_colours_variance_by_tolerance_and_draws_both_charts(signed_in):
    client, _ = signed_in("viewer")
    on_target = factory.plan("ON-1", quantity="7")
    factory.record(on_target.id, "7.2", day=1)
    off = factory.plan("OFF-1", quantity="7")
    factory.record(off.id, "9", day=1)
    db.session.commit()
    page = client.get("/consumption/").get_data(as_text=True)
    assert f'data-plan="{on_target.id}"' in page
    assert (
        page.count('data-role="ratio" data-status="ok"') == 1
        and page.count('data-role="ratio" data-status="over"') == 1
    )
    assert 'id="variance-chart"' in page and 'id="burnup-chart"' in page and 'data-live-topic="consumption:all"' in page
    wide = client.get("/consumption/?tolerance=50").get_data(as_text=True)
    assert wide.count('data-role="ratio" data-status="ok"') == 2
    panel = client.get(f"/consumption/panel?item_id={off.item_id}").get_data(as_text=True)
    assert f'data-live-topic="consumption:item-{off.item_id}"' in panel and f'data-plan="{on_target.id}"' not in panel
    csv = client.get("/consumption/export.csv?tolerance=50")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).count("\n") == 3
    detail = client.get(f"/consumption/plans/{off.id}").get_data(as_text=True)
    assert 'data-bucket="2026-12-01"' in detail and "+28.6 %" in detail


def test_create_a_plan_through_the_form_and_see_a_bad_one_again(signed_in):
    client, csrf = signed_in("engineer")
    item = factory.item()
    db.session.commit()
    form = {"csrf_token": csrf, "item_id": item.id, "period_unit": "day", "period_start": "2026-12-07"}
    bad = client.post(
        "/consumption/plans/new", data={**form, "period_end": "2026-12-01", "planned_quantity": "5", "unit": "kg"}
    )
    assert bad.status_code == 422 and 'data-field="period_end"' in bad.get_data(as_text=True)
    good = client.post(
        "/consumption/plans/new", data={**form, "period_end": "2026-12-14", "planned_quantity": "5", "unit": "kg"}
    )
    plan = db.session.scalar(select(ConsumptionPlan))
    assert good.status_code == 302 and good.headers["Location"].endswith(f"/consumption/plans/{plan.id}")
    client.post(f"/consumption/plans/{plan.id}/activate", data={"csrf_token": csrf})
    db.session.expire_all()
    assert db.session.get(ConsumptionPlan, plan.id).state == "active"


def test_record_by_hand_and_import_a_csv_all_or_nothing(signed_in):
    client, csrf = signed_in("operator")
    plan = factory.plan(unit="kg")
    db.session.commit()
    manual = {"csrf_token": csrf, "plan_id": plan.id, "source_type": "scrap", "quantity": "1.5", "unit": "lb"}
    assert client.post("/consumption/records/new", data=manual).status_code == 302
    across = client.post("/consumption/records/new", data={**manual, "unit": "m"})
    assert across.status_code == 422 and 'data-field="unit"' in across.get_data(as_text=True)
    text = f"plan_id,quantity,unit\n{plan.id},2,kg\n{plan.id},abc,kg\n"
    refused = client.post("/consumption/records/import", data={"csrf_token": csrf, "text": text})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'data-line="3"' in body and "must be a number" in body
    assert _count(ConsumptionRecord) == 1
    fixed = client.post("/consumption/records/import", data={"csrf_token": csrf, "text": text.replace("abc", "3")})
    assert fixed.status_code == 302 and _count(ConsumptionRecord) == 3


@pytest.mark.config(CONSUMPTION_RETRY_SECONDS=0)
def test_the_inbox_page_replays_a_dead_event_for_operators_only(signed_in, client, make_user):
    plan = factory.plan()
    inbox.ingest(
        [{"event_id": "e-1", "plan_id": plan.id, "quantity": "1", "unit": "ea", "recorded_at": "2026-12-01T00:00:00Z"}]
    )
    service.deactivate_plan(plan.id)
    db.session.commit()
    for _ in range(drain.MAX_ATTEMPTS):
        drain.drain()
    event = db.session.scalar(select(InboxEvent))
    viewer, _ = signed_in("viewer")
    assert viewer.get("/consumption/inbox").status_code == 403
    client.post("/logout", data={"csrf_token": _})
    operator, csrf = signed_in("operator")
    page = operator.get("/consumption/inbox?state=dead").get_data(as_text=True)
    assert 'data-event="e-1"' in page and 'data-role="replay"' in page and "draft" in page
    operator.post(f"/consumption/inbox/{event.id}/replay", data={"csrf_token": csrf})
    db.session.expire_all()
    assert db.session.get(InboxEvent, event.id).state == "pending"
