"""The ECO and workflow-action API: roles, bad input (one error shape, no change),
409s that name what blocks; SQLite and PostgreSQL."""

from datetime import timedelta

from sqlalchemy import func, select

from app.core.timeutil import utcnow
from app.eco.models import Eco, WorkflowRule
from app.extensions import db
from tests.eco import factory

API = "/api/v1"


def error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_viewer_reads_but_cannot_move_or_create(app, client, bearer):
    eco = factory.eco()
    viewer = bearer("viewer")
    listed = client.get(f"{API}/ecos?stage=draft", headers=viewer).get_json()
    assert [e["number"] for e in listed["ecos"]] == [eco.number] and listed["paging"]["total"] == 1
    for method, path, body in [
        ("POST", f"/ecos/{eco.id}/move", {"to_stage": "review"}),
        ("POST", f"/ecos/{eco.id}/apply", {}),
        ("POST", "/ecos", {"title": "x", "item_id": eco.item_id}),
        ("PATCH", f"/ecos/{eco.id}", {"title": "y"}),
        ("POST", "/eco-activities", {"eco_id": eco.id, "name": "a", "stage": "draft"}),
        ("POST", "/workflow-actions/rules", {"name": "r", "phase": "before", "action": "emit_event"}),
    ]:
        response = client.open(f"{API}{path}", method=method, json=body, headers=viewer)
        assert response.status_code == 403, path
        assert error(response)["code"] == "forbidden"
    assert client.get(f"{API}/ecos/{eco.id}", headers=viewer).get_json()["stage"] == "draft"
    engineer = bearer("engineer")
    rule = {"name": "r", "phase": "before", "action": "emit_event"}
    assert client.post(f"{API}/workflow-actions/rules", json=rule, headers=engineer).status_code == 403  # admins only


def test_engineer_walks_an_eco_through_activities_to_apply(app, client, bearer):
    released, draft = factory.product()
    db.session.commit()
    headers = bearer("engineer")
    created = client.post(
        f"{API}/ecos",
        headers=headers,
        json={"title": "Add the MCU", "item_id": released.item_id, "target_bom_id": draft.id, "priority": "high"},
    )
    assert created.status_code == 201
    eco = created.get_json()
    assert (eco["stage"], eco["target_bom"], eco["owner"]) == ("draft", "PCA-1@B", eco["owner"])
    assert eco["stages"] == ["draft", "review", "approved", "implementation", "done", "canceled"]

    def activity(name, stage, **more):
        response = client.post(
            f"{API}/eco-activities", headers=headers, json={"eco_id": eco["id"], "name": name, "stage": stage, **more}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    drawing = activity("Update drawing", "draft", assignee="bob", due_at="2030-01-01T12:00:00Z")
    check = activity("Check drawing", "draft", depends_on=[drawing["id"]])
    cycle = client.put(
        f"{API}/eco-activities/{drawing['id']}/dependencies", headers=headers, json={"depends_on": [check["id"]]}
    )
    assert cycle.status_code == 409 and error(cycle)["code"] == "dependency_cycle"

    blocked = client.post(f"{API}/ecos/{eco['id']}/move", headers=headers, json={"to_stage": "review"})
    assert blocked.status_code == 409
    assert error(blocked)["code"] == "gate_blocked"
    assert [b["name"] for b in error(blocked)["details"]["blockers"]] == ["Update drawing", "Check drawing"]
    blockers = client.get(f"{API}/ecos/{eco['id']}/blockers?to_stage=review", headers=headers).get_json()
    assert len(blockers["blockers"]) == 2

    early = client.post(
        f"{API}/eco-activities/{check['id']}/transition", headers=headers, json={"to_status": "completed"}
    )
    assert early.status_code == 409 and error(early)["details"]["blockers"][0]["activity_id"] == drawing["id"]
    assert client.get(f"{API}/eco-activities/{check['id']}/blockers", headers=headers).get_json()["blockers"]
    for activity_id in (drawing["id"], check["id"]):
        done = client.post(
            f"{API}/eco-activities/{activity_id}/transition",
            headers=headers,
            json={"to_status": "completed", "reason": "done"},
        )
        assert done.get_json()["status"] == "completed"
    events = client.get(f"{API}/eco-activities/{check['id']}/events", headers=headers).get_json()["events"]
    assert (events[0]["from_value"], events[0]["to_value"], events[0]["reason"]) == ("pending", "completed", "done")

    moved = client.post(f"{API}/ecos/{eco['id']}/move", headers=headers, json={"to_stage": "implementation"})
    assert moved.status_code == 200
    assert (moved.get_json()["from_stage"], moved.get_json()["to_stage"]) == ("draft", "implementation")
    delta = client.get(f"{API}/ecos/{eco['id']}/delta", headers=headers).get_json()
    assert delta["summary"] == {"add": 1, "remove": 0, "update": 1, "total": 2}
    applied = client.post(f"{API}/ecos/{eco['id']}/apply", headers=headers, json={"reason": "ship it"})
    assert applied.status_code == 200 and applied.get_json()["eco"]["stage"] == "done"
    assert applied.get_json()["eco"]["applied_at"] is not None
    kinds = [e["kind"] for e in client.get(f"{API}/ecos/{eco['id']}/events", headers=headers).get_json()["events"]]
    assert kinds[:3] == ["apply", "stage", "stage"]


def test_a_blocking_rule_answers_409_naming_the_rule_and_its_run(app, client, bearer):
    eco = factory.eco(priority="urgent")
    admin = bearer("admin")
    rule = client.post(
        f"{API}/workflow-actions/rules",
        headers=admin,
        json={
            "name": "Keep it calm",
            "phase": "after",
            "from_stage": "draft",
            "to_stage": "any",
            "action": "set_eco_priority",
            "params": {"priority": "normal", "never_lower": True},
            "fail_strategy": "block",
            "priority": 10,
            "timeout_seconds": 2,
        },
    )
    assert rule.status_code == 201, rule.get_json()
    response = client.post(f"{API}/ecos/{eco.id}/move", headers=bearer("engineer"), json={"to_stage": "review"})
    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "rule_blocked" and "Keep it calm" in body["message"]
    assert body["details"]["rule"] == "Keep it calm" and "never lowers" in body["details"]["error"]
    runs = client.get(f"{API}/workflow-actions/runs?result_code=BLOCK", headers=admin).get_json()["runs"]
    assert [(r["id"], r["rule"], r["status"], r["phase"]) for r in runs] == [
        (body["details"]["run_id"], "Keep it calm", "failed", "after")
    ]
    assert client.get(f"{API}/ecos/{eco.id}", headers=admin).get_json()["stage"] == "draft"

    disabled = client.patch(
        f"{API}/workflow-actions/rules/{rule.get_json()['id']}", headers=admin, json={"enabled": False}
    )
    assert disabled.get_json()["enabled"] is False
    assert client.post(f"{API}/ecos/{eco.id}/move", headers=admin, json={"to_stage": "review"}).status_code == 200
    listed = client.get(f"{API}/workflow-actions/rules?enabled=false", headers=admin).get_json()
    assert [r["name"] for r in listed["rules"]] == ["Keep it calm"]


BAD_RULES = [
    ({"name": "r", "phase": "during", "action": "emit_event"}, "phase"),
    ({"name": "r", "phase": "before", "action": "rm_rf"}, "action"),
    ({"name": "r", "phase": "before", "action": "emit_event", "priority": 1001}, "priority"),
    (
        {"name": "r", "phase": "before", "action": "emit_event", "fail_strategy": "retry", "max_retries": 9},
        "max_retries",
    ),
    ({"name": "r", "phase": "before", "action": "set_eco_priority", "params": {"priority": "asap"}}, "priority"),
    ({"name": "r", "phase": "before", "action": "emit_event", "timeout_seconds": 0}, "timeout_seconds"),
    ({"name": "r", "phase": "before", "action": "emit_event", "match": {"priorities": ["soon"]}}, "match"),
]


def test_bad_rules_are_refused_with_the_field_and_nothing_is_saved(app, client, bearer):
    headers = bearer("admin")
    for body, field in BAD_RULES:
        response = client.post(f"{API}/workflow-actions/rules", headers=headers, json=body)
        assert response.status_code == 422, body
        assert field in str(error(response)["details"]), body
    assert db.session.scalar(select(func.count()).select_from(WorkflowRule)) == 0


BAD_ECO_INPUT = [
    ("/ecos", {"title": "", "item_id": 1}, 422),
    ("/ecos", {"title": "x", "item_id": 999999}, 404),
    ("/ecos", {"title": "x", "item_id": "one"}, 422),
    ("/ecos", {"title": "x", "item_id": 1, "eco_type": "secret"}, 422),
    ("/ecos/{eco}/move", {"to_stage": "heaven"}, 422),
    ("/ecos/{eco}/move", {}, 422),
    ("/ecos/{eco}/move", {"to_stage": "review", "extra": 1}, 422),
    ("/ecos/999999/move", {"to_stage": "review"}, 404),
    ("/eco-activities", {"eco_id": "{eco}", "name": "x", "stage": "done"}, 422),
    ("/eco-activities", {"eco_id": "{eco}", "name": "x", "stage": "draft", "due_at": "tomorrow"}, 422),
    ("/eco-activities", {"eco_id": "{eco}", "name": "x", "stage": "draft", "due_at": "2030-01-01T00:00:00"}, 422),
]


def test_bad_eco_input_gets_the_error_shape_and_changes_nothing(app, client, bearer):
    eco = factory.eco()
    headers = bearer("engineer")
    before = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    for path, body, status in BAD_ECO_INPUT:
        body = {k: (eco.id if v == "{eco}" else v) for k, v in body.items()}
        response = client.post(API + path.format(eco=eco.id), headers=headers, json=body)
        assert response.status_code == status, (path, body, response.get_json())
        error(response)
    db.session.expire_all()
    after = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    assert after == before
    assert (db.session.get(Eco, eco.id).stage, db.session.get(Eco, eco.id).version) == ("draft", 1)


def test_due_activities_and_eco_types(app, client, bearer):
    eco = factory.eco()
    factory.activity(eco, "Late", due_at=utcnow() - timedelta(hours=1))
    factory.activity(eco, "Soon", due_at=utcnow() + timedelta(hours=3))
    headers = bearer("viewer")
    due = client.get(f"{API}/eco-activities/due?within_hours=24", headers=headers).get_json()
    assert ([a["name"] for a in due["overdue"]], [a["name"] for a in due["due_soon"]]) == (["Late"], ["Soon"])
    types = client.get(f"{API}/eco-types", headers=headers).get_json()["types"]
    assert {t["name"]: t["stages"][-2] for t in types} == {"standard": "done", "fast_track": "done"}


def test_a_done_eco_refuses_new_activities_and_transitions_with_409(app, client, bearer):
    eco = factory.closed_eco("done")
    activity_id = eco.activities[0].id
    headers = bearer("engineer")
    for path, body in [
        ("/eco-activities", {"eco_id": eco.id, "name": "Late gate", "stage": "draft", "blocking": True}),
        (f"/eco-activities/{activity_id}/transition", {"to_status": "completed"}),
    ]:
        response = client.post(f"{API}{path}", json=body, headers=headers)
        assert response.status_code == 409, path
        assert error(response)["code"] == "closed" and "is done" in error(response)["message"]
    listed = client.get(f"{API}/eco-activities?eco_id={eco.id}", headers=headers).get_json()["activities"]
    assert [(a["name"], a["status"]) for a in listed] == [("Check", "pending"), ("Sign", "pending")]


def test_validation_details_name_the_field_by_path_and_label(app, client, bearer):
    response = client.post(f"{API}/ecos", headers=bearer("engineer"), json={"title": "", "priority": "asap"})
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"] == [
        {"field": "title", "message": "Title is required."},
        {"field": "item_id", "message": "Product is required."},
        {"field": "priority", "message": "Priority must be 'low', 'normal', 'high' or 'urgent'."},
    ]
    assert response.json["error"]["message"].startswith("3 fields need a change: Title is required.")
