"""The consumption API: plans with paging and errors, actuals with idempotency keys, variance, dashboard, export."""

import pytest
from sqlalchemy import func, select

from app.consumption.models import ConsumptionPlan, ConsumptionRecord
from app.extensions import db
from tests.consumption import factory
from tests.helpers import assert_error_shape

API = "/api/v1/consumption"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def item(app):
    made = factory.item()
    db.session.commit()
    return made


def _plan_body(item, **change):
    return {"item_id": item.id, **factory.WEEK, "planned_quantity": "700", "unit": "ea", **change}


def test_create_list_and_patch_plans(client, bearer, item):
    engineer = bearer("engineer")
    created = client.post(f"{API}/plans", json=_plan_body(item, template_key="weekly-PCB-200"), headers=engineer)
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert (plan["state"], plan["template_key"], plan["version"], plan["planned_quantity"]) == (
        "draft",
        "weekly-PCB-200",
        1,
        "700",
    )
    for n in range(3):
        client.post(f"{API}/plans", json=_plan_body(item, planned_quantity=str(10 + n)), headers=engineer)
    listed = client.get(f"{API}/plans?per_page=2&sort=planned_quantity", headers=engineer).get_json()
    assert listed["paging"] == {"page": 1, "per_page": 2, "total": 4, "pages": 2}
    assert [p["planned_quantity"] for p in listed["plans"]] == ["10", "11"]
    patched = client.patch(f"{API}/plans/{plan['id']}", json={"planned_quantity": "650.5"}, headers=engineer)
    assert patched.get_json()["planned_quantity"] == "650.5"
    assert client.get(f"{API}/plans?template_key=weekly-PCB-200", headers=engineer).get_json()["paging"]["total"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_id": 4242}, "item_id"),
        ({"planned_quantity": "-3"}, "body.planned_quantity"),
        ({"planned_quantity": "NaN"}, "body.planned_quantity"),
        ({"period_end": "2026-11-01"}, "period_end"),
        ({"unit": "furlong"}, "unit"),
    ],
)
def test_bad_plans_get_the_error_shape_naming_the_field(client, bearer, item, change, field):
    response = client.post(f"{API}/plans", json=_plan_body(item, **change), headers=bearer("engineer"))
    assert response.status_code == 422
    assert_error_shape(response)
    details = response.get_json()["error"]["details"]
    assert details.get("field") == field or field.removeprefix("body.") in str(details)
    assert _count(ConsumptionPlan) == 0


def test_writes_need_their_roles(client, bearer, item):
    viewer = bearer("viewer")
    assert client.post(f"{API}/plans", json=_plan_body(item), headers=viewer).status_code == 403
    assert client.post(f"{API}/mes-inbox", json={"events": [{}]}, headers=bearer("engineer")).status_code == 403
    assert client.post(f"{API}/records", json={"plan_id": 1, "quantity": "1"}, headers=viewer).status_code == 403
    assert client.get(f"{API}/plans").status_code == 401


def test_a_record_is_idempotent_by_key_and_conflicts_on_another_payload(client, bearer, item):
    plan = factory.plan()
    db.session.commit()
    operator = bearer("operator")
    body = {
        "plan_id": plan.id,
        "quantity": "2",
        "unit": "dozen",
        "recorded_at": "2026-12-01T08:00:00Z",
        "idempotency_key": "wo-7",
    }
    first = client.post(f"{API}/records", json=body, headers=operator)
    assert first.status_code == 201 and first.get_json()["plan_quantity"] == 24 and first.get_json()["factor"] == 12
    again = client.post(f"{API}/records", json=body, headers=operator)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    other = client.post(f"{API}/records", json={**body, "quantity": "3"}, headers=operator)
    assert other.status_code == 409 and other.get_json()["error"]["details"]["field"] == "idempotency_key"
    across = client.post(f"{API}/records", json={**body, "unit": "kg", "idempotency_key": "wo-8"}, headers=operator)
    assert across.status_code == 422
    assert "kg" in across.get_json()["error"]["message"] and "ea" in across.get_json()["error"]["message"]
    naive = client.post(
        f"{API}/records", json={**body, "recorded_at": "2026-12-01T08:00:00", "idempotency_key": "x"}, headers=operator
    )
    assert naive.status_code == 422
    assert _count(ConsumptionRecord) == 1


def test_variance_dashboard_and_export(client, bearer, item):
    plan = factory.plan(quantity="7")
    factory.record(plan.id, "8", day=1)
    db.session.commit()
    viewer = bearer("viewer")
    result = client.get(f"{API}/plans/{plan.id}/variance", headers=viewer).get_json()
    assert (result["planned"], result["actual"], result["delta"], result["status"]) == (7, 8, 1, "over")
    assert result["delta_ratio"] == pytest.approx(1 / 7)
    assert [b["actual"] for b in result["buckets"]] == [0, 8, 0, 0, 0, 0, 0]
    assert client.get(f"{API}/plans/{plan.id}/variance?tolerance=20", headers=viewer).get_json()["status"] == "ok"
    board = client.get(f"{API}/dashboard?item_id={item.id}", headers=viewer).get_json()
    assert [(r["plan"]["id"], r["actual"]) for r in board["rows"]] == [(plan.id, 8)]
    csv = client.get(f"{API}/dashboard/export", headers=viewer)
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("plan_id,item") and lines[1].split(",")[-1] == "over"


def test_template_impact_preview(client, bearer, item):
    factory.plan(quantity="700", template_key="t")
    v2 = factory.plan(quantity="770", active=False, template_key="t")
    db.session.commit()
    impact = client.get(f"{API}/plans/{v2.id}/impact", headers=bearer("viewer")).get_json()
    assert (impact["active_planned_quantity"], impact["delta"]) == ("700", "70")
    assert impact["delta_ratio"] == pytest.approx(0.1)
    template = client.get(f"{API}/templates/t", headers=bearer("viewer")).get_json()
    assert template["active_version"] == 1 and [v["version"] for v in template["versions"]] == [1, 2]
    assert client.post(f"{API}/plans/{v2.id}/activate", headers=bearer("engineer")).status_code == 200
    assert client.get(f"{API}/templates/t", headers=bearer("viewer")).get_json()["active_version"] == 2
