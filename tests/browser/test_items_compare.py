"""An engineer opens the compare page, picks two revisions of the demo
assembly, sees the delta coloured per operation and exports it as CSV."""

import csv
import io
import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.helpers import expand, fill_sign_in, sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
GREEN, RED, AMBER = "rgb(230, 246, 236)", "rgb(253, 232, 230)", "rgb(255, 244, 220)"


def test_compare_two_revisions_and_export_the_delta(page, live_server):
    seeded = live_server.flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr

    page.goto(f"{live_server.url}/items/compare")
    expect(page).to_have_url(re.compile(r"/login"))
    fill_sign_in(page, *live_server.admin)
    expect(page.locator("h1")).to_have_text("Compare BOMs")

    page.fill("#compare-left", "ASM-1000@A")
    page.fill("#compare-right", "ASM-1000@B")
    page.select_option("select[name=mode]", "by_position")
    page.click("#compare-go")

    table = page.locator("#side-by-side")
    expect(table).to_be_visible()
    for status, colour in (("added", GREEN), ("removed", RED), ("changed", AMBER)):
        row = table.locator(f"tr[data-status={status}]").first
        expect(row).to_be_visible()
        assert row.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor") == colour
    expect(table.locator("tr[data-status=unchanged]").first).to_be_hidden()
    page.check("#show-unchanged")
    expect(table.locator("tr[data-status=unchanged]").first).to_be_visible()

    patch = page.locator("#patch ol.patch li")
    expect(patch).to_have_count(7)
    expect(page.locator("#patch li[data-op=update]", has_text="GREASE-80")).to_contain_text("unit G → ML")
    expect(page.locator("#compare-summary [data-count=added]")).to_have_text("2 added")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "bom-compare.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename == "bom-delta_ASM-1000-A_vs_ASM-1000-B_by_position_L1.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [r["op"] for r in rows] == ["update", "remove", "update", "update", "remove", "add", "add"]
    grease = next(r for r in rows if r["child"] == "GREASE-80")
    assert (grease["before_unit"], grease["after_unit"], grease["severity"]) == ("G", "ML", "major")


def test_multi_level_view_expands_and_collapses(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    sign_in(page, live_server, "/items/?q=ASM-2000")  # waits for the sign-in to land before going on
    page.click("#item-table a:has-text('ASM-2000')")
    page.click("text=Multi-level view")

    tree = page.locator("#bom-tree")
    frame = tree.locator("tr[data-child=FRAME-300]")
    expand(frame)  # level 2, fetched by htmx; waits until its rows' own buttons are set up
    panel = tree.locator("tr[data-child=PANEL-350]")
    expect(panel).to_be_visible()
    expand(panel)  # level 3
    label = tree.locator("tr[data-level='3'][data-child=LABEL-60]")
    expect(label.locator("[data-role=total]")).to_have_text("1")
    pca = tree.locator("tr[data-level='1'][data-child=PCA-200]")
    expand(pca)
    expect(tree.locator("tr[data-level='2'][data-child=R-10K] [data-role=total]")).to_have_text("8")  # 4 × 2 boards

    frame.locator("button.toggle").click()  # collapse hides levels 2 and 3 below the frame only
    expect(panel).to_be_hidden()
    expect(label).to_be_hidden()
    expect(tree.locator("tr[data-child=R-10K]")).to_be_visible()
    frame.locator("button.toggle").click()
    expect(label).to_be_visible()
