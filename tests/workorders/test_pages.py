"""The pages: routing editor (add, reorder, remove, link), work-order list (filter, paging), the
create form, the detail page (sources, hidden and stale flags, lock moved forward), shop floor."""

import html
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.workorders import service
from app.workorders.models import Routing, WorkOrder
from tests.workorders import factory


def test_routing_editor_adds_reorders_removes_and_links(app, signed_in):
    browser, csrf = signed_in("engineer")
    item = factory.item_factory.item("ASM-1", "assembly")
    drawing = factory.doc("DWG-1")
    factory.doc("DWG-2")
    made = browser.post("/workorders/routings/", data={"csrf_token": csrf, "item_id": item.id, "name": "Standard"})
    assert made.status_code == 302
    routing = db.session.scalar(select(Routing))
    url = made.headers["Location"]
    for code in ("CUT", "WELD", "PAINT"):
        browser.post(
            f"/workorders/routings/{routing.id}/operations",
            data={"csrf_token": csrf, "code": code, "name": code.title()},
        )
    second = browser.post("/workorders/routings/", data={"csrf_token": csrf, "item_id": item.id, "name": "Rework"})
    renamed = browser.post(
        second.headers["Location"] + "/edit",
        data={"csrf_token": csrf, "name": "Rework line", "is_default": "on"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Routing 'Rework line' saved (the item's default)." in html.unescape(renamed)
    db.session.expire_all()
    assert service.default_routing(item.id).name == "Rework line"
    page = browser.get(url).get_data(as_text=True)
    assert 'id="reorder-form"' in page and 'data-operation="PAINT"' in page
    cut, weld, paint = service.get_routing(routing.id).operations
    duplicate = browser.post(
        f"/workorders/routings/{routing.id}/reorder",
        data={"csrf_token": csrf, f"seq-{cut.id}": "10", f"seq-{weld.id}": "10", f"seq-{paint.id}": "30"},
        follow_redirects=True,
    )
    assert "Sequence 10 would be used twice" in duplicate.get_data(as_text=True)
    browser.post(
        f"/workorders/routings/{routing.id}/reorder",
        data={"csrf_token": csrf, f"seq-{cut.id}": "30", f"seq-{weld.id}": "20", f"seq-{paint.id}": "10"},
    )
    db.session.expire_all()
    assert [o.code for o in service.get_routing(routing.id).operations] == ["PAINT", "WELD", "CUT"]
    edited = browser.post(
        f"/workorders/routings/{routing.id}/operations/{paint.id}/edit",
        data={"csrf_token": csrf, "code": "PAINT", "name": "Powder coat", "work_centre": "", "run_minutes": "7.5"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Operation 10 PAINT saved." in edited and "Powder coat" in edited
    db.session.expire_all()
    saved = db.session.get(type(paint), paint.id)
    assert (saved.name, saved.work_centre, saved.run_minutes, saved.sequence) == ("Powder coat", "", 7.5, 10)
    clash = browser.post(
        f"/workorders/routings/{routing.id}/operations/{paint.id}/edit",
        data={"csrf_token": csrf, "code": "CUT", "name": "Paint"},
        follow_redirects=True,
    )
    assert "with code CUT already" in clash.get_data(as_text=True)
    browser.post(f"/workorders/routings/{routing.id}/operations/{weld.id}/remove", data={"csrf_token": csrf})
    linked = browser.post(
        f"/workorders/routings/{routing.id}/links",
        data={
            "csrf_token": csrf,
            "document_id": drawing.id,
            "operation_id": str(cut.id),
            "visible_in_production": "on",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "DWG-1 linked to operation CUT" in linked and 'data-link="DWG-1@CUT"' in linked
    foreign = browser.post(
        f"/workorders/routings/{routing.id}/links",
        data={"csrf_token": csrf, "document_id": "999999"},
        follow_redirects=True,
    )
    assert "No document with id 999999" in foreign.get_data(as_text=True)
    typed = browser.post(
        f"/workorders/routings/{routing.id}/links",
        data={"csrf_token": csrf, "document_number": "DWG-2", "inherit_to_operations": "on"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "DWG-2 linked to the routing" in typed and 'data-link="DWG-2@routing"' in typed
    unknown = browser.post(
        f"/workorders/routings/{routing.id}/links",
        data={"csrf_token": csrf, "document_number": "NOPE-1"},
        follow_redirects=True,
    )
    assert "No document NOPE-1" in unknown.get_data(as_text=True)
    db.session.expire_all()
    assert [o.code for o in service.get_routing(routing.id).operations] == ["PAINT", "CUT"]


def test_viewers_read_but_cannot_edit_routings(app, signed_in):
    browser, csrf = signed_in("viewer")
    routing = factory.routing()
    page = browser.get(f"/workorders/routings/{routing.id}").get_data(as_text=True)
    assert 'data-operation="CUT"' in page and 'id="operation-form"' not in page
    refused = browser.post(
        f"/workorders/routings/{routing.id}/operations", data={"csrf_token": csrf, "code": "X", "name": "X"}
    )
    assert refused.status_code == 403


def test_list_filters_and_pages_work_orders(app, signed_in):
    browser, _ = signed_in("operator")
    routing = factory.routing()
    today = date.today()
    for days in range(30):
        service.create_workorder(routing.item_id, 1, today + timedelta(days=days), routing.id)
    db.session.commit()
    first = browser.get("/workorders/").get_data(as_text=True)
    assert first.count("data-workorder=") == 25 and "Page 1 of 2" in first
    due = (today + timedelta(days=3)).isoformat()
    narrow = browser.get(f"/workorders/?due_to={due}").get_data(as_text=True)
    assert narrow.count("data-workorder=") == 4
    none = browser.get("/workorders/?state=done").get_data(as_text=True)
    assert "No work order matches these filters" in none


def test_create_form_and_detail_with_sources_hidden_and_stale_locks(app, signed_in):
    browser, csrf = signed_in("engineer")
    routing = factory.routing()
    cut = routing.operations[0]
    general, own, hidden = factory.doc("DWG-GEN"), factory.doc("INS-CUT"), factory.doc("DWG-HID")
    service.link_document(routing.id, general.id)
    service.link_document(routing.id, own.id, cut.id)
    service.link_document(routing.id, hidden.id, cut.id, visible_in_production=False)
    db.session.commit()
    refused = browser.post(
        "/workorders/new",
        data={"csrf_token": csrf, "item_id": routing.item_id, "quantity": "0", "due_date": "2027-01-01"},
    )
    assert refused.status_code == 422 and 'data-error-for="quantity"' in refused.get_data(as_text=True)
    saved = browser.post(
        "/workorders/new",
        data={"csrf_token": csrf, "item_id": routing.item_id, "quantity": "4", "due_date": "2027-01-01"},
    )
    assert saved.status_code == 302
    wo = db.session.scalar(select(WorkOrder))
    released = browser.post(
        f"/workorders/{wo.id}/state", data={"csrf_token": csrf, "to_state": "released"}, follow_redirects=True
    )
    page = released.get_data(as_text=True)
    assert f"{wo.number} is released" in page and 'data-lock="release"' in page
    assert 'data-document="DWG-HID" data-source="operation"' in page and 'data-hidden="1"' in page
    assert 'data-document="DWG-GEN" data-source="routing"' in page
    factory.revise(general)
    page = browser.get(f"/workorders/{wo.id}").get_data(as_text=True)
    assert 'data-stale="1"' in page and 'data-forward="DWG-GEN"' in page
    link = next(link for link in service.load_routing(routing.id).links if link.document_id == general.id)
    moved = browser.post(
        f"/workorders/links/{link.id}/forward",
        data={"csrf_token": csrf, "back": f"/workorders/{wo.id}"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "DWG-GEN now shows version 2" in moved and 'data-stale="1"' not in moved
    floor_op = db.session.get(WorkOrder, wo.id).operations[0]
    floor = browser.get(f"/workorders/{wo.id}/floor/{floor_op.id}").get_data(as_text=True)
    assert 'data-document="DWG-GEN" data-version="2"' in floor and "DWG-HID" not in floor and "<iframe" in floor
    hidden_link = next(link for link in service.load_routing(routing.id).links if link.document_id == hidden.id)
    assert browser.get(f"/workorders/{wo.id}/floor/{floor_op.id}/files/{hidden_link.id}").status_code == 404
    shown = next(link for link in service.load_routing(routing.id).links if link.document_id == own.id)
    inline = browser.get(f"/workorders/{wo.id}/floor/{floor_op.id}/files/{shown.id}")
    assert inline.status_code == 200 and inline.mimetype == "application/pdf"
    assert not inline.headers.get("Content-Disposition", "").startswith("attachment")
