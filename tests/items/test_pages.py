"""The items pages, through the test client: forms, roles, the tree, CSV import
and export, the compare page and a background export."""

import io
import re
import time

import pytest
from sqlalchemy import func, select

from app.core.audit.models import AuditEntry
from app.extensions import db
from app.items import demo, service
from app.items.models import Bom, BomExport, BomLine, Item
from app.items.views import BOM_LINES_PER_PAGE
from tests.bigdata import big_bom
from tests.conftest import run_worker, sign_in
from tests.items.factory import assembly, item


@pytest.fixture
def product(app):
    for n in ("P-1", "P-2", "P-3"):
        item(n)
    assembly("S-1", [("P-1", 2, 10)], release=True)
    top = assembly("T-1", [("S-1", 3, 10), ("P-2", 1, 20, "R1")], release=True)
    db.session.commit()
    return top


def post(client, path, csrf, **data):
    return client.post(path, data={"csrf_token": csrf, **data})


@pytest.mark.dialects  # ILIKE search
def test_item_list_searches_filters_and_pages(signed_in, product):
    client, _ = signed_in("viewer")
    page = client.get("/items/?q=P-&item_type=part").get_data(as_text=True)
    assert 'data-item="P-1"' in page and 'data-item="S-1"' not in page
    assert 'data-item="S-1"' in client.get("/items/?item_type=assembly").get_data(as_text=True)
    assert "No item matches" in client.get("/items/?q=zzz").get_data(as_text=True)
    assert 'id="new-item"' not in page  # viewers do not get the button


def test_item_forms_need_an_engineer_and_keep_input_on_error(signed_in, app, make_user):
    viewer = app.test_client()
    make_user("watcher", "viewer")
    sign_in(viewer, "watcher")
    assert viewer.get("/items/new").status_code == 403
    client, csrf = signed_in("engineer")
    bad = post(client, "/items/new", csrf, number="bad number", name="Thing", item_type="part")
    assert bad.status_code == 422 and 'value="bad number"' in bad.get_data(as_text=True)
    created = post(
        client,
        "/items/new",
        csrf,
        number="N-1",
        name="Thing",
        item_type="assembly",
        uom="EA",
        revision="A",
        lifecycle="draft",
    )
    assert created.status_code == 302
    item_id = db.session.scalar(select(Item.id).where(Item.number == "N-1"))
    edited = post(
        client,
        f"/items/{item_id}/edit",
        csrf,
        number="N-1",
        name="Renamed",
        item_type="assembly",
        uom="EA",
        revision="A",
        lifecycle="released",
    )
    assert edited.status_code == 302
    assert "Renamed" in client.get(f"/items/{item_id}").get_data(as_text=True)


def test_adding_a_line_to_a_released_bom_opens_a_draft_revision(signed_in, product):
    client, csrf = signed_in("engineer")
    response = post(client, f"/items/boms/{product.id}/lines", csrf, child="P-3", quantity="2.5", find_number="30")
    assert response.status_code == 302 and response.location.endswith("rev=B")
    page = client.get(response.location).get_data(as_text=True)
    assert "T-1@B added" not in page  # the flash names the child
    assert "P-3 added to T-1@B." in page and 'data-child="P-3"' in page
    busy = post(client, f"/items/boms/{product.id}/lines", csrf, child="P-1", quantity="1")
    assert "T-1 revision B is already a draft" in client.get(busy.location).get_data(as_text=True)
    draft = service.resolve_bom("T-1@B")
    loop = post(client, f"/items/boms/{draft.id}/lines", csrf, child="T-1", quantity="1")
    assert "that makes a loop T-1 → T-1" in client.get(loop.location).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Bom)) == 3  # S-1@A, T-1@A, T-1@B


def test_tree_expands_with_rolled_up_quantities(signed_in, product):
    client, _ = signed_in("viewer")
    page = client.get(f"/items/boms/{product.id}/tree").get_data(as_text=True)
    url = re.search(r'hx-get="([^"]+tree/children[^"]+)"', page).group(1).replace("&amp;", "&")
    rows = client.get(url).get_data(as_text=True)
    assert 'data-child="P-1"' in rows and 'data-level="2"' in rows
    assert re.search(r'data-role="total">6<', rows)  # 2 per S-1 × 3 S-1


def test_csv_export_and_import_round_trip(signed_in, product):
    client, csrf = signed_in("engineer")
    exported = client.get(f"/items/boms/{product.id}/export.csv")
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.splitlines() == ["child,quantity,unit,find_number,refdes,note", "S-1,3,EA,10,,", "P-2,1,EA,20,R1,"]
    changed = text + "P-3,4,EA,30,,new\n"
    upload = {"file": (io.BytesIO(changed.encode()), "bom.csv")}
    preview = client.post(
        f"/items/boms/{product.id}/import", data={"csrf_token": csrf, **upload}, content_type="multipart/form-data"
    )
    assert preview.status_code == 200 and 'id="import-commit"' in preview.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BomLine)) == 3  # a preview writes nothing
    committed = post(client, f"/items/boms/{product.id}/import", csrf, text=changed, commit="1")
    assert committed.status_code == 302 and committed.location.endswith("rev=B")
    lines = service.resolve_bom("T-1@B").lines
    assert [(line.child.number, str(line.quantity.normalize())) for line in lines] == [
        ("S-1", "3"),
        ("P-2", "1"),
        ("P-3", "4"),
    ]


def test_a_bad_import_row_is_named_and_nothing_is_written(signed_in, product):
    client, csrf = signed_in("engineer")
    text = "child,quantity,find_number\nP-1,1,10\nNO PE,1,20\nP-2,0,30\nT-1,1,40\n"  # NO PE: not a valid number
    for extra in ({}, {"commit": "1"}):
        response = post(client, f"/items/boms/{product.id}/import", csrf, text=text, **extra)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="import-commit"' not in page
        rows = re.findall(r'data-line="(\d+)">(.*?)</tr>', page, re.DOTALL)
        errors = {n: m.group(1) for n, row in rows if (m := re.search(r'data-role="error">([^<]+)<', row))}
        assert set(errors) == {"3", "4", "5"}
        assert "NO PE" in errors["3"] and "greater than 0" in errors["4"] and "loop" in errors["5"]
    assert db.session.scalar(select(func.count()).select_from(Bom)) == 2
    header = post(client, f"/items/boms/{product.id}/import", csrf, text="part,qty\nP-1,1\n")
    assert header.status_code == 422 and "missing: child, quantity" in header.get_data(as_text=True)


def test_compare_page_colours_each_operation(signed_in, app):
    demo.seed()
    db.session.commit()
    client, csrf = signed_in("viewer")
    page = client.get("/items/compare?left=ASM-1000@A&right=ASM-1000@B&mode=by_position").get_data(as_text=True)
    statuses = re.findall(r'<tr class="(op-\w+|unchanged)"\s+data-status="(\w+)"', page)
    assert {s for s, _ in statuses} == {"op-add", "op-remove", "op-update", "unchanged"}
    assert {o for o in re.findall(r'data-op="(\w+)"', page)} == {"add", "remove", "update"}
    assert "unit G → ML" in page and "note front → rear" in page
    # a line flagged minor for its note shows the note on both sides, marked as the difference
    headings = re.findall(r"<th>([^<]+)</th>", page.split('id="side-by-side"')[1].split("</thead>")[0])
    assert headings == ["Qty", "Unit", "Find", "Ref. des.", "Note"] * 2
    noted = re.search(r'<tr class="op-update"[^>]*>(?:(?!</tr>).)*?minor(?:(?!</tr>).)*</tr>', page, re.S).group(0)
    assert '<td class="diff">front</td>' in noted and '<td class="diff">rear</td>' in noted
    assert client.get("/items/compare?left=NOPE&right=ASM-1000").status_code == 422
    exported = post(
        client,
        "/items/compare/export",
        csrf,
        left="ASM-1000@A",
        right="ASM-1000@B",
        mode="by_position",
        max_levels="1",
        export_format="csv",
    )
    assert exported.mimetype == "text/csv" and exported.data.startswith(b"op,path,key")
    assert demo.seed() is None  # seeding again leaves the data as it is


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=2)
def test_a_large_compare_export_follows_its_job(signed_in, app, product):
    client, csrf = signed_in("viewer")
    response = post(
        client,
        "/items/compare/export",
        csrf,
        left="T-1",
        right="S-1",
        mode="by_item",
        max_levels="2",
        export_format="json",
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    export = db.session.scalar(select(BomExport))
    assert f'data-live-topic="job:{export.job_id}"' in page and "queued" in page
    run_worker(app, queues=("exports",))
    panel = client.get(f"/items/exports/{export.id}/panel").get_data(as_text=True)
    assert 'id="export-download"' in panel and "data-live-topic" not in panel
    download = client.get(f"/items/exports/{export.id}/download")
    assert download.mimetype == "application/json" and download.json["left"] == "T-1@A"


def test_an_unknown_revision_is_a_404(signed_in, product):
    client, _ = signed_in("viewer")
    assert client.get(f"/items/{product.item_id}?rev=Z").status_code == 404
    assert client.get(f"/items/{product.item_id}?rev=A").status_code == 200


def test_a_released_bom_with_a_draft_points_to_the_draft(signed_in, product):
    client, csrf = signed_in("engineer")
    post(client, f"/items/boms/{product.id}/lines", csrf, child="P-3", quantity="1")
    released = client.get(f"/items/{product.item_id}?rev=A").get_data(as_text=True)
    assert "is the draft being edited" in released and 'id="add-line"' not in released
    assert 'id="add-line"' in client.get(f"/items/{product.item_id}?rev=B").get_data(as_text=True)


@pytest.mark.dialects  # bulk INSERTs with RETURNING, INSERT ... SELECT of a new revision
def test_a_bom_import_creates_the_missing_part_items_it_previews(signed_in, product):
    client, csrf = signed_in("engineer")
    text = "child,quantity,unit,name\nP-1,2,,\nNEW-1,1,KG,Bracket\nNEW-2,3,,\nNEW-1,1,KG,Bracket\n"
    preview = post(client, f"/items/boms/{product.id}/import", csrf, text=text)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="import-new-items"' in page
    assert "Creates 2 new part item(s): <code>NEW-1</code>, <code>NEW-2</code>" in " ".join(page.split())
    assert "creating 2 item(s)" in page  # the commit button says it too
    assert db.session.scalar(select(func.count()).where(Item.number.like("NEW-%"))) == 0  # a preview writes nothing
    committed = post(client, f"/items/boms/{product.id}/import", csrf, text=text, commit="1")
    assert committed.status_code == 302
    new = {i.number: i for i in db.session.scalars(select(Item).where(Item.number.like("NEW-%")))}
    assert (new["NEW-1"].name, new["NEW-1"].uom, new["NEW-1"].item_type) == ("Bracket", "KG", "part")
    assert (new["NEW-2"].name, new["NEW-2"].uom) == ("NEW-2", "EA")
    lines = service.resolve_bom("T-1@B").lines
    assert [line.child.number for line in lines] == ["P-1", "NEW-1", "NEW-2", "NEW-1"]
    created = db.session.scalars(
        select(AuditEntry.entity_id).where(AuditEntry.entity == "item", AuditEntry.action == "create")
    )
    assert {str(new["NEW-1"].id), str(new["NEW-2"].id)} <= set(created)


def items_csv(rows: int, start: int = 0) -> str:
    return "number,name,item_type,uom\n" + "".join(
        f"IMP-{i:05d},Imported {i},part,EA\n" for i in range(start, start + rows)
    )


def test_the_items_import_names_bad_rows_and_writes_nothing_until_all_are_good(signed_in, product, app, make_user):
    client, csrf = signed_in("engineer")
    text = "number,name,item_type\nOK-1,Good,part\nP-1,Taken,part\nOK-1,Twice,part\nOK-2,,part\nOK-3,Bad,widget\n"
    for extra in ({}, {"commit": "1"}):
        response = post(client, "/items/import", csrf, text=text, **extra)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="import-commit"' not in page
        rows = re.findall(r'data-line="(\d+)">(.*?)</tr>', page, re.DOTALL)
        errors = {n: m.group(1) for n, row in rows if (m := re.search(r'data-role="error">([^<]+)<', row))}
        assert set(errors) == {"3", "4", "5", "6"}
        assert "already used" in errors["3"] and "also on line 2" in errors["4"]
        assert "Name is required" in errors["5"] and "widget" in errors["6"]
    assert db.session.scalar(select(func.count()).where(Item.number.like("OK-%"))) == 0
    assert post(client, "/items/import", csrf, text="code,name\nX,Y\n").status_code == 422
    viewer = app.test_client()
    make_user("watcher", "viewer")
    sign_in(viewer, "watcher")
    assert viewer.get("/items/import").status_code == 403


@pytest.mark.dialects  # the import's bulk INSERT (executemany) and its audit rows
def test_3000_items_import_at_once_and_are_audited(signed_in, app):
    client, csrf = signed_in("engineer")
    text = items_csv(3000)
    started = time.perf_counter()
    preview = post(client, "/items/import", csrf, text=text)
    checked = time.perf_counter() - started
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Import 3000 item(s)" in page
    assert len(preview.data) < 50 * 1024  # 100 rows listed; the file is kept server-side, not sent back
    upload = re.search(r'name="upload" value="([^"]+)"', page).group(1)
    expired = post(client, "/items/import", csrf, upload="no-such-token", commit="1")
    assert expired.status_code == 422 and "expired" in expired.get_data(as_text=True)
    started = time.perf_counter()
    committed = post(client, "/items/import", csrf, upload=upload, commit="1")
    imported = time.perf_counter() - started
    assert committed.status_code == 302 and committed.location.endswith("/items/")
    assert db.session.scalar(select(func.count()).where(Item.number.like("IMP-%"))) == 3000
    audited = select(func.count()).where(AuditEntry.entity == "item", AuditEntry.action == "create")
    assert db.session.scalar(audited) == 3000
    assert checked < 3 and imported < 5, (checked, imported)
    print(f"3000 items: preview {checked:.2f} s, import {imported:.2f} s")


PAGE_BUDGET = 300 * 1024  # bytes of HTML any page may send, whatever the data (issue 14 point 8)


def test_a_10000_line_bom_page_stays_small_and_pages_its_lines(signed_in, app):
    item_id, bom_id = big_bom(db.session.connection())
    db.session.commit()
    client, csrf = signed_in("engineer")
    started = time.perf_counter()
    first = client.get(f"/items/{item_id}")
    elapsed = time.perf_counter() - started
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and len(first.data) < PAGE_BUDGET, len(first.data)
    assert elapsed < 1.0, elapsed
    assert html.count('<tr data-child="') == BOM_LINES_PER_PAGE and 'data-total="10000"' in html
    assert f"/items/boms/{bom_id}/lines/rows?page=2" in html  # the htmx "show more" row
    more = client.get(f"/items/boms/{bom_id}/lines/rows?page={10000 // BOM_LINES_PER_PAGE}").get_data(as_text=True)
    assert more.count('<tr data-child="') == BOM_LINES_PER_PAGE and 'data-role="more-rows"' not in more
    assert 'data-child="BIG-ASM-P09999"' in more  # the last page ends with the last line
    assert len(client.get(f"/items/{item_id}?page=50").data) < PAGE_BUDGET
    # Release and New revision land back on this page: fast with it (the copy is one INSERT ... SELECT)
    for action in ("release", "revise"):
        started = time.perf_counter()
        landed = client.post(f"/items/boms/{bom_id}/{action}", data={"csrf_token": csrf}, follow_redirects=True)
        assert landed.status_code == 200 and len(landed.data) < PAGE_BUDGET
        assert time.perf_counter() - started < 3, action
    draft = service.resolve_bom("BIG-ASM@B")
    assert db.session.scalar(select(func.count()).where(BomLine.bom_id == draft.id)) == 10_000
    last = db.session.scalar(select(BomLine).where(BomLine.bom_id == bom_id).order_by(BomLine.id.desc()).limit(1))
    copied = db.session.scalar(select(BomLine).where(BomLine.bom_id == draft.id).order_by(BomLine.id.desc()).limit(1))
    assert (copied.child_id, copied.refdes, copied.find_number) == (last.child_id, last.refdes, last.find_number)


@pytest.mark.config(BOM_EXPORT_SYNC_MAX_LINES=2)
def test_a_double_submit_of_a_large_compare_export_queues_one_export(signed_in, app, product):
    client, csrf = signed_in("viewer")
    page = client.get("/items/compare?left=T-1&right=S-1&mode=by_item&max_levels=2").get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', page.split('id="export-form"')[1]).group(1)
    fields = dict(left="T-1", right="S-1", mode="by_item", max_levels="2", export_format="json", form_token=token)
    first = post(client, "/items/compare/export", csrf, **fields)
    second = post(client, "/items/compare/export", csrf, **fields)
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert db.session.scalar(select(func.count(BomExport.id))) == 1
    assert "already sent" in client.get(second.location).get_data(as_text=True)


def test_both_csv_imports_share_one_form_and_one_preview_partial(app):
    """The items import and the BOM-lines import carry no copy of the upload form or the preview table:
    each includes the same two partials, so a change to one import's form or preview reaches both."""
    for name in ("items/import_items.html", "items/import.html"):
        source, _, _ = app.jinja_env.loader.get_source(app.jinja_env, name)
        assert '{% include "items/_import_form.html" %}' in source, name
        assert '{% include "items/_import_check.html" %}' in source, name
        assert "<form" not in source and "<table" not in source, name
