"""The parallel-ops overview in Chromium: a job that ends (run by the live server's real worker)
changes the job-history card without a reload (topic ops:jobs), and the window and bucket chosen
in the page land in the URL and survive a reload."""

import json
import os
import re

from playwright.sync_api import expect

from tests.browser.helpers import api, settled, sign_in, wait_until_delivered

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def _failed(page) -> int:
    row = page.locator("#card-job-history tr[data-queue=default] td").nth(2)
    return int(row.inner_text()) if row.count() else 0


def test_a_failing_job_changes_the_card_live_and_the_range_is_kept_in_the_url(page, live_server):
    made = live_server.flask("tokens", "create", live_server.admin.username, "--name", "ops-live")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    sign_in(page, live_server)

    page.goto(f"{live_server.url}/parallel-ops/")
    page.select_option("#window-days", "14")
    page.select_option("#bucket-days", "7")
    page.click("#range-show")
    expect(page).to_have_url(re.compile(r"/parallel-ops/\?window_days=14&bucket_days=7$"))
    expect(page.locator("h1")).to_contain_text("last 14 days")
    page.reload()
    expect(page.locator("#window-days")).to_have_value("14")
    expect(page.locator("#bucket-days")).to_have_value("7")
    expect(page.locator("#trends h2")).to_contain_text("buckets of 7 days")
    assert page.locator("#trend-doc_sync g.bucket").count() == 2

    page.goto(f"{live_server.url}/parallel-ops/?window_days=1&bucket_days=1")
    expect(page.locator("#live-status")).to_have_text("live")
    wait_until_delivered(page, live_server, frames, "ops:jobs")
    settled(page)
    page.evaluate("window.__notReloaded = true")
    before = _failed(page)  # the live server is shared: other tests' jobs count too
    api(live_server, token, "POST", "/jobs/demo", {"seconds": 0, "fail": True})
    expect(page.locator("#card-job-history tr[data-queue=default] td").nth(2)).to_have_text(
        str(before + 1), timeout=20_000
    )
    assert page.evaluate("window.__notReloaded") is True
    assert any(f.get("topic") == "ops:jobs" and f["type"] == "job_ended" for f in frames)
    assert page.url.endswith("?window_days=1&bucket_days=1")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "ops.png"), full_page=True)
