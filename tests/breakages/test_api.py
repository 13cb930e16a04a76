"""The breakages API: create, bad input in the one error shape (field named, nothing written),
the flow's 409, the list's filters, exports, and the ECO loopback (one ECO however often)."""

import threading

import pytest
from sqlalchemy import func, select

from app.breakages.models import Incident
from app.eco.models import Eco
from app.extensions import db
from tests.breakages import factory

API = "/api/v1/breakages"


def _body(bom, **fields):
    return {"item_id": bom.item_id, "bom_id": bom.id, "description": "C1 bulged", "severity": "high", **fields}


def test_create_read_edit_and_move(app, client, bearer):
    engineer = bearer("engineer")
    bom = factory.product()
    created = client.post(API, json=_body(bom, component_id=factory.part("C-9").id, customer="Acme"), headers=engineer)
    assert created.status_code == 201, created.json
    incident = created.json
    assert (
        incident["code"] == "BRK-000001"
        and incident["component"] == "C-9"
        and incident["allowed_moves"]
        == [
            "investigating",
            "canceled",
        ]
    )
    edited = client.patch(
        f"{API}/{incident['id']}", json={"root_cause": "lot", "corrective_action": "supplier"}, headers=engineer
    )
    assert edited.status_code == 200 and edited.json["root_cause"] == "lot"
    outside = client.post(f"{API}/{incident['id']}/status", json={"to_status": "closed"}, headers=engineer)
    assert outside.status_code == 409
    assert outside.json["error"]["details"]["allowed"] == ["investigating", "canceled"]
    assert "investigating" in outside.json["error"]["message"]
    for step in ("investigating", "resolved"):
        moved = client.post(f"{API}/{incident['id']}/status", json={"to_status": step, "reason": "r"}, headers=engineer)
        assert moved.status_code == 200, moved.json
    events = client.get(f"{API}/{incident['id']}/events", headers=engineer).json["events"]
    assert [e["kind"] for e in events] == ["status", "status", "edit", "created"]
    assert client.post(API, json=_body(bom), headers=bearer("viewer")).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_id": 987654}, "item_id"),
        ({"component_id": 987654}, "component_id"),
        ({"description": ""}, "description"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"document_ids": [987654]}, "document_ids"),
    ],
)
def test_bad_input_is_422_naming_the_field(app, client, bearer, change, field):
    bom = factory.product()
    answer = client.post(API, json=_body(bom, **change), headers=bearer("engineer"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    named = error["details"].get("field") or error["details"]["fields"][0]["field"]
    assert named.startswith(field)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_component_not_on_the_bom_revision_is_refused(app, client, bearer):
    bom = factory.product()
    answer = client.post(API, json=_body(bom, component_id=factory.part("U-9").id), headers=bearer("engineer"))
    assert answer.status_code == 422 and answer.json["error"]["details"]["field"] == "component_id"


def test_list_filters_and_exports(app, client, bearer):
    viewer = bearer("viewer")
    bom = factory.product()
    factory.incident(bom, severity="low", batch_code="LOT-A", description="=cmd|' /C calc'!A0")
    factory.incident(bom, severity="critical", batch_code="LOT-B", description="pipe | in text")
    listed = client.get(f"{API}?severity=critical", headers=viewer).json
    assert [i["batch_code"] for i in listed["incidents"]] == ["LOT-B"] and listed["paging"]["total"] == 1
    assert client.get(f"{API}?severity=bogus", headers=viewer).status_code == 422
    csv = client.get(f"{API}/export?export_format=csv&sort=code&order=asc", headers=viewer).get_data(as_text=True)
    lines = csv.strip().splitlines()
    assert lines[0].startswith("code,status,severity") and "BRK-000001" in lines[1] and "'=cmd" in lines[1]
    md = client.get(f"{API}/export?export_format=md", headers=viewer).get_data(as_text=True)
    assert md.startswith("| code | status |") and "pipe \\| in text" in md


def test_open_eco_twice_gives_one_eco(app, client, bearer):
    engineer = bearer("engineer")
    made = factory.incident(severity="critical")
    early = client.post(f"{API}/{made.id}/eco", headers=engineer)
    assert early.status_code == 409 and early.json["error"]["details"]["allowed"] == ["resolved", "closed"]
    factory.resolve(made)
    first = client.post(f"{API}/{made.id}/eco", headers=engineer)
    second = client.post(f"{API}/{made.id}/eco", headers=engineer)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["eco_id"] == second.json["eco_id"] and second.json["created"] is False
    eco = db.session.get(Eco, first.json["eco_id"])
    assert eco.priority == "urgent" and made.code in eco.title and made.code in eco.description
    assert eco.stage == "draft" and eco.item_id == made.item_id


@pytest.mark.dialects
def test_concurrent_loopback_yields_one_eco(app, client, bearer, database_url):
    headers = [bearer("engineer") for _ in range(4)]
    incident_id = factory.resolve(factory.incident()).id
    barrier = threading.Barrier(4)
    answers = []

    def open_eco(h):
        c = app.test_client()
        barrier.wait()
        answers.append(c.post(f"{API}/{incident_id}/eco", headers=h))

    threads = [threading.Thread(target=open_eco, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json["eco_id"] for a in answers}) == 1
    assert db.session.scalar(select(func.count()).select_from(Eco)) == 1
