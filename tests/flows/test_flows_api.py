"""Flows as data through the API and the pages: create, validate, list, view, delete."""

import pytest

from app.core.audit.models import AuditEntry
from app.engine.builtins import ROUTINE_TYPES
from app.extensions import db
from app.flows.demo import EXAMPLE, SLOW_CONSUMER, seed
from app.flows.models import FlowDefinition

API = "/api/v1"


def create(client, headers, document=EXAMPLE):
    return client.post(f"{API}/flows", json={"document": document}, headers=headers)


def test_create_view_list_and_delete_a_flow(app, client, bearer):
    engineer = bearer("engineer")
    response = create(client, engineer)
    assert response.status_code == 201
    flow = response.json
    assert flow["name"] == "scrap-report" and flow["document"] == EXAMPLE
    assert [r["id"] for r in flow["routines"]] == ["records", "big", "weigh", "total", "report"]
    assert flow["connections"][0] == {"source": "records", "event": "out", "target": "big", "slot": "in"}

    viewer = bearer("viewer")
    listed = client.get(f"{API}/flows", headers=viewer).json
    assert [f["name"] for f in listed["flows"]] == ["scrap-report"] and listed["paging"]["total"] == 1
    assert client.get(f"{API}/flows/{flow['id']}", headers=viewer).json["name"] == "scrap-report"

    assert client.delete(f"{API}/flows/{flow['id']}", headers=viewer).status_code == 403
    assert client.delete(f"{API}/flows/{flow['id']}", headers=engineer).status_code == 204
    assert client.get(f"{API}/flows/{flow['id']}", headers=viewer).status_code == 404
    db.session.expire_all()
    actions = [
        (e.entity, e.action) for e in db.session.query(AuditEntry).filter_by(entity="flow").order_by(AuditEntry.id)
    ]
    assert actions == [("flow", "create"), ("flow", "delete")]


def test_routine_info_shows_policy_config_slots_and_events(app, client, bearer):
    headers = bearer("engineer")
    flow_id = create(client, headers, SLOW_CONSUMER).json["id"]
    info = client.get(f"{API}/flows/{flow_id}/routines/slow/info", headers=headers).json
    assert info["policy"]["type"] == "batch_size" and info["policy"]["config"] == {"min_batch_size": 1}
    assert "at least 1" in info["policy"]["description"]
    assert info["slots"] == [{"name": "in", "max_queue_length": 40, "watermark": 0.8}]
    assert info["events"] == [{"name": "out", "targets": ["batches.in"]}]
    assert info["config"] == {"seconds": 0.02}
    missing = client.get(f"{API}/flows/{flow_id}/routines/nope/info", headers=headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert client.get(f"{API}/flows/999/routines/slow/info", headers=headers).status_code == 404


def test_invalid_documents_are_refused_with_field_and_line_and_change_nothing(app, client, bearer):
    headers = bearer("engineer")
    bad = EXAMPLE.replace("type: mapper", "type: mapperx")
    for path in ("/flows", "/flows/validate"):
        response = client.post(f"{API}{path}", json={"document": bad}, headers=headers)
        assert response.status_code == 422
        [error] = response.json["error"]["details"]["errors"]
        assert error["field"] == "routines[2].type" and error["line"] == 17
    assert db.session.query(FlowDefinition).count() == 0
    ok = client.post(f"{API}/flows/validate", json={"document": EXAMPLE}, headers=headers).json
    assert ok == {"valid": True, "name": "scrap-report", "routines": 5, "connections": 4}
    assert db.session.query(FlowDefinition).count() == 0  # validating stores nothing


def test_duplicate_names_conflict(app, client, bearer):
    headers = bearer("engineer")
    assert create(client, headers).status_code == 201
    again = create(client, headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert create(client, bearer("operator")).status_code == 403


def test_demo_seed_is_idempotent(app):
    assert "scrap-report" in seed()
    assert seed() is None
    assert db.session.query(FlowDefinition).count() == 3


def test_pages_list_check_create_and_show_a_flow(app, signed_in):
    client, token = signed_in("engineer")
    page = client.get("/flows/").get_data(as_text=True)
    assert "No flows yet" in page and "scrap-report" in page  # the example fills the editor
    checked = client.post(
        "/flows/validate",
        data={"document": EXAMPLE.replace("{condition", "{conditio"), "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert "line 15" in checked.get_data(as_text=True) and "routines[1].config" in checked.get_data(as_text=True)
    created = client.post("/flows/", data={"document": EXAMPLE, "csrf_token": token})
    assert created.status_code == 302
    detail = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "<svg" in detail and 'data-routine="weigh"' in detail and "Keeps count, sum" not in detail
    assert "batch_size" not in detail and "immediate" in detail
    failed = client.post("/flows/", data={"document": "name: [", "csrf_token": token})
    assert failed.status_code == 422 and "not valid YAML" in failed.get_data(as_text=True)


@pytest.mark.config(FLOW_ROUTINE_CLASSES="tests.engine.helpers:Doubler")
def test_routine_classes_named_in_the_config_are_usable(app, client, bearer):
    document = EXAMPLE.replace(
        'type: mapper\n    config: {expression: "int(qty) * 0.25"}', 'type: "tests.engine.helpers:Doubler"'
    )
    try:
        response = create(client, bearer("engineer"), document)
        assert response.status_code == 201
        assert response.json["routines"][2]["type"] == "tests.engine.helpers:Doubler"
    finally:
        ROUTINE_TYPES.pop("tests.engine.helpers:Doubler", None)
