import pytest

from app.extensions import db
from app.workorders.models import DocumentLink, WorkOrder
from tests.workorders import factory

API = "/api/v1"


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.fixture
def engineer(bearer):
    return bearer("engineer")


def test_routing_editor_api_add_reorder_remove(app, client, engineer):
    item = factory.item_factory.item("ASM-1", "assembly")
    db.session.commit()
    made = client.post(f"{API}/routings", json={"item_id": item.id, "name": "Standard"}, headers=engineer)
    assert made.status_code == 201 and made.get_json()["is_default"]
    rid = made.get_json()["id"]
    for code in ("CUT", "WELD"):
        assert (
            client.post(
                f"{API}/routings/{rid}/operations", json={"code": code, "name": code.title()}, headers=engineer
            ).status_code
            == 201
        )
    ops = client.get(f"{API}/routings/{rid}", headers=engineer).get_json()["operations"]
    assert [(o["sequence"], o["code"]) for o in ops] == [(10, "CUT"), (20, "WELD")]
    swapped = client.post(
        f"{API}/routings/{rid}/reorder",
        json={
            "order": [{"operation_id": ops[0]["id"], "sequence": 20}, {"operation_id": ops[1]["id"], "sequence": 10}]
        },
        headers=engineer,
    )
    assert [o["code"] for o in swapped.get_json()["operations"]] == ["WELD", "CUT"]
    duplicate = client.post(
        f"{API}/routings/{rid}/reorder",
        json={"order": [{"operation_id": ops[0]["id"], "sequence": 10}]},
        headers=engineer,
    )
    assert duplicate.status_code == 422 and error_of(duplicate)["details"]["field"] == "sequence"
    removed = client.delete(f"{API}/routings/{rid}/operations/{ops[0]['id']}", headers=engineer)
    assert [o["code"] for o in removed.get_json()["operations"]] == ["WELD"]
    other = client.post(f"{API}/routings", json={"item_id": item.id, "name": "Other"}, headers=engineer).get_json()
    foreign = client.delete(f"{API}/routings/{other['id']}/operations/{ops[1]['id']}", headers=engineer)
    assert foreign.status_code == 422 and error_of(foreign)["details"]["field"] == "operation_id"


def test_links_locks_and_their_bad_input(app, client, engineer, bearer):
    routing = factory.routing()
    other = factory.routing("ASM-2")
    drawing, second = factory.doc("DWG-1", versions=2), factory.doc("DWG-2")
    viewer = bearer("viewer")
    refused = client.post(
        f"{API}/workorder-docs/links", json={"routing_id": routing.id, "document_id": drawing.id}, headers=viewer
    )
    assert refused.status_code == 403
    for body, status, field in (
        ({"routing_id": routing.id, "document_id": 999999}, 422, "document_id"),
        (
            {"routing_id": routing.id, "document_id": drawing.id, "operation_id": other.operations[0].id},
            422,
            "operation_id",
        ),
        ({"routing_id": routing.id, "document_id": drawing.id, "operation_id": 999999}, 422, "operation_id"),
    ):
        answer = client.post(f"{API}/workorder-docs/links", json=body, headers=engineer)
        assert answer.status_code == status and error_of(answer)["details"]["field"] == field
    assert db.session.query(DocumentLink).count() == 0
    link = client.post(
        f"{API}/workorder-docs/links", json={"routing_id": routing.id, "document_id": drawing.id}, headers=engineer
    ).get_json()
    assert link["locked_version"] is None and link["latest_version"] == 2
    wrong = client.post(
        f"{API}/workorder-docs/links/{link['id']}/lock", json={"version_id": second.versions[0].id}, headers=engineer
    )
    assert wrong.status_code == 422 and error_of(wrong)["details"]["field"] == "version_id"
    locked = client.post(
        f"{API}/workorder-docs/links/{link['id']}/lock", json={"version_id": drawing.versions[0].id}, headers=engineer
    ).get_json()
    assert (locked["locked_version"], locked["version_lock_source"], locked["stale"]) == (1, "manual", True)
    forward = client.post(f"{API}/workorder-docs/links/{link['id']}/move-forward", headers=engineer).get_json()
    assert (forward["locked_version"], forward["stale"]) == (2, False)
    listed = client.get(
        f"{API}/workorder-docs/links", query_string={"routing_id": routing.id}, headers=viewer
    ).get_json()
    assert [row["document"] for row in listed["links"]] == ["DWG-1"] and listed["paging"]["total"] == 1


def test_workorders_api_states_documents_and_the_pack_refusals(app, client, engineer):
    routing = factory.routing()
    cut = routing.operations[0]
    general, own = factory.doc("DWG-GEN"), factory.doc("INS-CUT")
    hidden = factory.doc("DWG-HID")
    for body in (
        {"document_id": general.id},
        {"document_id": own.id, "operation_id": cut.id},
        {"document_id": hidden.id, "operation_id": cut.id, "visible_in_production": False},
    ):
        assert (
            client.post(
                f"{API}/workorder-docs/links", json={"routing_id": routing.id, **body}, headers=engineer
            ).status_code
            == 201
        )
    made = client.post(
        f"{API}/workorders",
        json={"item_id": routing.item_id, "quantity": 5, "due_date": "2027-01-15"},
        headers=engineer,
    )
    assert made.status_code == 201
    wo = made.get_json()
    assert (wo["state"], wo["routing_id"], wo["allowed_moves"]) == ("draft", routing.id, ["released", "canceled"])
    unlocked = client.post(f"{API}/workorder-docs/{wo['id']}/pack", json={"require_locked": True}, headers=engineer)
    assert unlocked.status_code == 409
    problem = error_of(unlocked)
    assert problem["code"] == "unlocked_links" and {row["document"] for row in problem["details"]["unlocked"]} == {
        "DWG-GEN",
        "INS-CUT",
    }
    jump = client.post(f"{API}/workorders/{wo['id']}/state", json={"to_state": "done"}, headers=engineer)
    assert jump.status_code == 409 and error_of(jump)["details"]["allowed"] == ["released", "canceled"]
    released = client.post(
        f"{API}/workorders/{wo['id']}/state", json={"to_state": "released"}, headers=engineer
    ).get_json()
    assert [op["code"] for op in released["operations"]] == ["CUT", "WELD", "PAINT"]
    docs = client.get(f"{API}/workorder-docs/{wo['id']}/documents", headers=engineer).get_json()
    first = docs["operations"][0]
    assert [(d["number"], d["source"], d["hidden"], d["lock_source"]) for d in first["documents"]] == [
        ("DWG-GEN", "routing", False, "release"),
        ("DWG-HID", "operation", True, "release"),
        ("INS-CUT", "operation", False, "release"),
    ]
    floor = client.get(f"{API}/workorder-docs/{wo['id']}/documents?production=true", headers=engineer).get_json()
    assert "DWG-HID" not in [d["number"] for d in floor["operations"][0]["documents"]]
    foreign_op = client.post(f"{API}/workorder-docs/{wo['id']}/pack", json={"operation_id": 999999}, headers=engineer)
    assert foreign_op.status_code == 422 and error_of(foreign_op)["details"]["field"] == "operation_id"
    client.post(f"{API}/workorders/{wo['id']}/state", json={"to_state": "canceled"}, headers=engineer)
    canceled = client.post(f"{API}/workorder-docs/{wo['id']}/pack", json={}, headers=engineer)
    assert canceled.status_code == 409 and error_of(canceled)["details"]["field"] == "workorder_id"
    listed = client.get(f"{API}/workorders", query_string={"state": "canceled"}, headers=engineer).get_json()
    assert [w["number"] for w in listed["workorders"]] == [wo["number"]]
    bad = client.get(f"{API}/workorders", query_string={"state": "lost"}, headers=engineer)
    assert bad.status_code == 422 and error_of(bad)["details"]["fields"][0]["field"] == "state"
    assert db.session.query(WorkOrder).count() == 1


def test_release_of_a_routing_without_operations_is_refused_naming_the_field(app, client, engineer):
    empty = factory.routing("ASM-3", ops=())
    wo = factory.workorder(empty)
    answer = client.post(f"{API}/workorders/{wo.id}/state", json={"to_state": "released"}, headers=engineer)
    assert answer.status_code == 422 and error_of(answer)["details"]["field"] == "routing_id"
    db.session.expire_all()
    assert db.session.get(WorkOrder, wo.id).state == "draft"


def test_applying_an_eco_through_the_api_moves_the_locks_and_a_blocked_apply_moves_none(app, client, engineer):
    from app.workorders.models import LockSource
    from tests.eco import factory as eco_factory

    eco = eco_factory.eco(number="ASM-1")
    blocked = eco_factory.eco(number="ASM-2")
    routing, other = factory.routing("ASM-1"), factory.routing("ASM-2")
    drawing = factory.doc("DWG-1")
    link = factory.service.link_document(routing.id, drawing.id)
    kept = factory.service.link_document(other.id, drawing.id)
    for each in (link, kept):
        factory.service.lock(each.id)
    eco_factory.rule(
        "refuse",
        "set_eco_priority",
        phase="after",
        params={"priority": "low", "never_lower": True},
        fail_strategy="block",
        match={"item_ids": [other.item_id]},
    )
    db.session.commit()
    factory.revise(drawing)
    blocked_apply = client.post(f"{API}/ecos/{blocked.id}/apply", json={}, headers=engineer)
    assert blocked_apply.status_code == 409 and error_of(blocked_apply)["code"] == "rule_blocked"
    still = client.get(f"{API}/workorder-docs/links/{kept.id}", headers=engineer).get_json()
    assert (still["locked_version"], still["stale"]) == (1, True)  # the refused apply moved nothing
    applied = client.post(f"{API}/ecos/{eco.id}/apply", json={"reason": "go"}, headers=engineer)
    assert applied.status_code == 200, applied.get_json()
    answer = client.get(f"{API}/workorder-docs/links/{link.id}", headers=engineer).get_json()
    assert (answer["locked_version"], answer["version_lock_source"], answer["stale"]) == (
        2,
        LockSource.eco_apply,
        False,
    )
