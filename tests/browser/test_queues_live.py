"""An operator signs in, opens the queues page, enqueues a demo job and watches
it finish: the status changes arrive over /ws, without reloading the page."""

import json
import os
import re

from playwright.sync_api import expect

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_demo_job_status_changes_live(page, live_server):
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))

    page.goto(f"{live_server.url}/queues/")
    expect(page).to_have_url(re.compile(r"/login\?next=/queues/"))
    page.fill("input[name=username]", live_server.admin[0])
    page.fill("input[name=password]", live_server.admin[1])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Queues & workers")
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator("#worker-table")).to_contain_text("idle")

    page.evaluate("window.__notReloaded = true")
    page.fill("input[name=seconds]", "2")
    page.click("#enqueue-demo")  # posted by htmx: the page and its socket stay
    expect(page.locator(".flash-success")).to_contain_text("enqueued on 'default'")

    # the newest job on 'default' (the live server is shared: other tests' jobs may be listed already)
    row = page.locator("#recent-jobs tbody tr", has_text="default").first
    job_id = row.get_attribute("data-job")
    status = row.locator("[data-role=status]")
    expect(status).to_have_text("started", timeout=10_000)
    expect(page.locator("#queue-table tr[data-queue=default] td[data-status=started]")).to_have_text("1")
    expect(page.locator("#recent-jobs tr[data-job='%s'] [data-role=status]" % job_id)).to_have_text(
        "finished", timeout=15_000)
    expect(page.locator("#queue-table tr[data-queue=default] td[data-status=finished]")).to_have_text("1")

    assert page.evaluate("window.__notReloaded") is True  # updated in place
    pushed = [f["type"] for f in frames if f.get("topic") == "queue:default" and f["data"].get("id") == job_id]
    assert "job_started" in pushed and "job_completed" in pushed
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "queues.png"), full_page=True)

    # the job page shows the finished job with its history
    row.locator("a").click()
    expect(page.locator("#job-status")).to_have_text("finished")
    expect(page.locator("#job-panel")).to_contain_text("Attempts")
