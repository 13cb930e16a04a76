"""An engineer builds a routing in Chromium (operations, a document linked to the routing and
one to an operation), creates a work order on it, releases it, downloads its pack from the
worker and finds the locked versions of both documents in the manifest, each under its
operation; then opens the shop-floor view of the first operation."""

import io
import json
import zipfile

from playwright.sync_api import expect

from tests.browser.helpers import sign_in


def option_value(page, select: str, text: str) -> str:
    return page.locator(f"{select} option", has_text=text).first.get_attribute("value")


def test_link_release_download_and_check_the_manifest(page, live_server):
    seeded = live_server.flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    sign_in(page, live_server, "/workorders/routings/")
    page.select_option("#routing-form select[name=item_id]", option_value(page, "#routing-form select", "ASM-1000"))
    page.fill("#routing-form input[name=name]", "Browser")
    page.click("#routing-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("routing Browser")
    for code, name in (("SAW", "Saw"), ("DRILL", "Drill")):
        page.fill("#operation-form input[name=code]", code)
        page.fill("#operation-form input[name=name]", name)
        page.click("#operation-form button[type=submit]")
        expect(page.locator(f'#operation-table tr[data-operation="{code}"]')).to_be_visible()

    page.select_option("#link-form select[name=document_id]", option_value(page, "#link-form select", "MDL-2001"))
    page.click("#link-form button[type=submit]")
    expect(page.locator('tr[data-link="MDL-2001@routing"]')).to_be_visible()
    page.select_option("#link-form select[name=document_id]", option_value(page, "#link-form select", "DWG-1001"))
    page.select_option(
        "#link-form select[name=operation_id]", option_value(page, "#link-form select[name=operation_id]", "DRILL")
    )
    page.click("#link-form button[type=submit]")
    expect(page.locator('tr[data-link="DWG-1001@DRILL"]')).to_be_visible()

    page.goto(f"{live_server.url}/workorders/new")
    page.select_option("select[name=item_id]", option_value(page, "select[name=item_id]", "ASM-1000"))
    page.select_option("select[name=routing_id]", option_value(page, "select[name=routing_id]", "ASM-1000 · Browser"))
    page.fill("input[name=quantity]", "3")
    page.fill("input[name=due_date]", "2027-03-01")
    page.click("#workorder-form button[type=submit]")
    expect(page.locator("#wo-state")).to_have_text("draft")
    number = page.locator("h1").inner_text().split()[0]
    page.click("#move-released")
    expect(page.locator(".flash-success")).to_contain_text(f"{number} is released")
    drill = page.locator('.operation[data-operation="DRILL"]')
    expect(drill.locator('tr[data-document="DWG-1001"][data-source="operation"] [data-lock="release"]')).to_be_visible()
    expect(drill.locator('tr[data-document="MDL-2001"][data-source="routing"]')).to_be_visible()

    page.click("#download-pack")
    expect(page.locator("#pack-status")).to_have_text("done", timeout=30_000)
    with page.expect_download() as info:
        page.click("#pack-download")
    download = info.value
    assert download.suggested_filename == f"{number}-pack.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["workorder"]["number"] == number
    ops = {op["code"]: op for op in manifest["operations"]}
    assert list(ops) == ["SAW", "DRILL"]
    assert [(d["number"], d["lock_source"]) for d in ops["SAW"]["documents"]] == [("MDL-2001", "release")]
    drill_docs = [(d["number"], d["source"], d["version"]) for d in ops["DRILL"]["documents"]]
    assert drill_docs == [("DWG-1001", "operation", 1), ("MDL-2001", "routing", 1)]
    for op in ops.values():
        for doc in op["documents"]:
            assert doc["path"].startswith(op["folder"] + "/") and len(archive.read(doc["path"])) == doc["size"]

    page.goto(f"{live_server.url}/workorders/?q={number}")
    page.click(f"text={number}")
    page.locator('.operation[data-operation="DRILL"] a', has_text="shop-floor view").click()
    expect(page.locator('section.doc[data-document="DWG-1001"] iframe')).to_be_visible()
    page.set_viewport_size({"width": 800, "height": 1280})  # a tablet, upright
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800, f"the shop-floor view scrolls sideways on a tablet ({width} px)"
