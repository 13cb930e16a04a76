"""The items pages, through the test client: forms, roles, the tree, CSV import
and export, the compare page and a background export."""

import io
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.items import demo, service
from app.items.models import Bom, BomExport, BomLine, Item
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
    text = "child,quantity,find_number\nP-1,1,10\nNOPE,1,20\nP-2,0,30\nT-1,1,40\n"
    for extra in ({}, {"commit": "1"}):
        response = post(client, f"/items/boms/{product.id}/import", csrf, text=text, **extra)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="import-commit"' not in page
        rows = re.findall(r'data-line="(\d+)">(.*?)</tr>', page, re.DOTALL)
        errors = {n: m.group(1) for n, row in rows if (m := re.search(r'data-role="error">([^<]+)<', row))}
        assert set(errors) == {"3", "4", "5"}
        assert "NOPE" in errors["3"] and "greater than 0" in errors["4"] and "loop" in errors["5"]
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
