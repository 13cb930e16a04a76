"""An admin walks an ECO from draft to done in Chromium: a blocking activity
holds the first move, a warning rule lets another through with a warning, a
create_job rule's run finishes on the worker, and apply releases the BOM. The
page never reloads: every change arrives over /ws (topic eco:<id>)."""

import json
import os
import re

from playwright.sync_api import expect

from tests.browser.helpers import settled, sign_in, wait_until_delivered

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def create_warning_rule(page, live_server) -> None:
    page.goto(f"{live_server.url}/ecos/rules/new")
    page.fill("input[name=name]", "Keep urgent ECOs urgent")
    page.select_option("select[name=phase]", "before")
    page.select_option("select[name=to_stage]", "approved")
    page.select_option("select[name=action]", "set_eco_priority")
    page.fill("input[name=params]", '{"priority": "normal", "never_lower": true}')
    page.select_option("select[name=fail_strategy]", "warn")
    page.fill("input[name=priority]", "1")
    page.click("#save-rule")
    expect(page.locator("tr[data-rule='Keep urgent ECOs urgent']")).to_be_visible()
    # editing it shows its params as saved, and saving the form unchanged keeps them (issue 14 point 2)
    page.locator("tr[data-rule='Keep urgent ECOs urgent'] a", has_text="edit").click()
    params = page.locator("input[name=params]")
    assert json.loads(params.input_value()) == {"priority": "normal", "never_lower": True}
    page.click("#save-rule")
    expect(page.locator("tr[data-rule='Keep urgent ECOs urgent']")).to_be_visible()
    page.locator("tr[data-rule='Keep urgent ECOs urgent'] a", has_text="edit").click()
    assert json.loads(page.locator("input[name=params]").input_value()) == {"priority": "normal", "never_lower": True}


def move(page, stage: str) -> None:
    settled(page)
    page.click(f"#stage-bar button[data-move='{stage}']")


def test_an_eco_goes_from_draft_to_done_live(page, live_server):
    seeded = live_server.flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    questions: list[str] = []  # moves, activity transitions and Apply ask first (yes to each)
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    sign_in(page, live_server)
    create_warning_rule(page, live_server)

    page.goto(f"{live_server.url}/ecos/new")
    page.fill("input[name=title]", "Fan-cooled controller unit")
    page.select_option("select[name=item_id]", label="ASM-1000 · Controller unit")
    page.select_option("select[name=target_bom_id]", label="ASM-1000@B (draft)")
    page.select_option("select[name=priority]", "urgent")
    page.click("#create-eco")
    expect(page.locator("#eco-stage")).to_have_text("draft")
    expect(page.locator("#live-status")).to_have_text("live")
    eco_id = re.search(r"/ecos/(\d+)$", page.url).group(1)
    wait_until_delivered(page, live_server, frames, f"eco:{eco_id}")
    expect(page.locator("#patch")).to_contain_text("add FAN-70")  # the BOM delta it would apply
    page.evaluate("window.__notReloaded = true")

    # a blocking activity on the draft stage holds the move
    page.fill("#activity-form input[name=name]", "Thermal review")
    page.fill("#activity-form input[name=assignee]", "bob")
    page.click("#add-activity")
    row = page.locator("#activity-table tr[data-activity='Thermal review']")
    expect(row.locator("[data-role=status]")).to_have_text("pending")  # arrived live
    move(page, "review")
    expect(page.locator("#flashes .flash-error")).to_contain_text("1 blocking activity is open")
    expect(page.locator("#blockers")).to_contain_text("Thermal review")
    settled(page)
    row.locator("button[data-to=completed]").click()
    expect(row.locator("[data-role=status]")).to_have_text("completed")
    expect(page.locator("#no-blockers")).to_contain_text("Nothing blocks the move to review")

    move(page, "review")
    expect(page.locator("#flashes")).to_contain_text("moved from draft to review")
    expect(page.locator("#eco-stage")).to_have_text("review")
    expect(page.locator("#eco-notices li[data-type=eco_notice]").first).to_contain_text("stage changed")

    # the warning rule fails (it would lower an urgent ECO) and the move goes on
    move(page, "approved")
    expect(page.locator("#flashes .flash-success")).to_contain_text("Warnings: Keep urgent ECOs urgent")
    expect(page.locator("#eco-stage")).to_have_text("approved")
    expect(page.locator("#eco-priority")).to_have_text("urgent")
    warned = page.locator("#eco-runs tr[data-code=WARN]", has_text="Keep urgent ECOs urgent")
    expect(warned).to_contain_text("never lowers it to normal")

    # the create_job rule's run is queued by the move and completed by the worker
    move(page, "implementation")
    expect(page.locator("#eco-stage")).to_have_text("implementation")
    report = page.locator("#eco-runs tr", has_text="BOM delta report for implementation")
    expect(report.locator("[data-role=status]")).to_have_text("completed / OK", timeout=15_000)

    settled(page)
    page.click("#apply-eco")
    expect(page.locator("#flashes .flash-success")).to_contain_text("ASM-1000@B is released")
    expect(page.locator("#eco-stage")).to_have_text("done")
    expect(page.locator("#event-list li[data-kind=apply]")).to_contain_text("ASM-1000@B released")
    number = page.locator("h1").inner_text().split()[0]
    assert f"Move {number} from draft to review? The workflow rules of this move run." in questions
    assert f"Thermal review of {number}: pending → completed? It no longer holds draft." in questions
    assert questions[-1].startswith(f"Apply {number}? This releases BOM ASM-1000@B")

    assert page.evaluate("window.__notReloaded") is True
    pushed = {f["type"] for f in frames if f.get("topic") == f"eco:{eco_id}"}
    assert {"eco_event", "eco_notice", "rule_run"} <= pushed
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "eco.png"), full_page=True)
