"""An operator starts the slow-consumer demo flow and watches its run page:
the slow routine's input bar fills and turns from green to high/critical as
the fast source outruns it, then the run completes, all without a reload."""

import json
import os
import re

from playwright.sync_api import expect

from tests.browser.helpers import fill_sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_queue_bars_change_colour_live(page, live_server):
    seeded = live_server.flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))

    page.goto(f"{live_server.url}/flows/")
    fill_sign_in(page, *live_server.admin)
    page.click("#flow-table >> text=slow-consumer")
    expect(page.locator("h1")).to_have_text("slow-consumer")
    page.click("#start-run")
    expect(page).to_have_url(re.compile(r"/flows/runs/\w+$"))
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")

    bar = page.locator('[data-slot="slow.in"]')
    expect(bar).to_have_class(re.compile(r"pressure-(high|critical)"), timeout=15_000)
    expect(page.locator('[data-routine="slow"]')).to_have_class(re.compile(r"status-running|active"))
    expect(page.locator("#run-status")).to_have_text("running")
    expect(page.locator("#run-pause")).to_be_visible()  # what a running run offers, shown as it started
    expect(page.locator("#run-resume")).to_be_hidden()
    expect(page.locator("#trace-body tr").first).not_to_have_class("empty-row")
    assert page.evaluate("window.__notReloaded") is True  # coloured by live events, in place
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "flow-run.png"), full_page=True)

    expect(page.locator("#run-status")).to_have_text("completed", timeout=30_000)
    # the final panel, from the database, replaces the live one: it polls no more
    expect(page.locator("#run-panel")).not_to_have_attribute("hx-trigger", re.compile("every"))
    expect(page.locator("#run-controls")).to_be_hidden()  # an ended run offers no controls
    expect(bar).to_have_class(re.compile(r"pressure-low"))
    expect(page.locator('[data-routine-row="archive"] .r-items')).to_have_text("30")
    # the trace as the server renders it for an ended run shows item counts, not a method's repr (point 1)
    page.reload()
    trace = page.locator("#trace-body")
    expect(trace.locator("tr").first).not_to_have_class("empty-row")
    assert "built-in method" not in trace.inner_text()
    expect(trace.locator("tr").first.locator("td").nth(3)).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator('[data-routine-row="archive"] .r-items')).to_have_text("30")
    pushed = {f["type"] for f in frames if f.get("topic", "").startswith("flow-run:")}
    assert {"slot_queue_update", "routine_completed", "job_completed"} <= pushed

    # the routine panel follows the graph
    page.click('[data-routine="slow"]')
    expect(page.locator('[data-routine-info="slow"]')).to_be_visible()
    expect(page.locator('[data-routine-info="slow"] .policy-type')).to_have_text("batch_size")
