"""An operator signs in, opens the queues page, enqueues a demo job and watches
it finish: the status changes arrive over /ws, without reloading the page."""

import json
import os
import re
import time

import redis
from playwright.sync_api import expect
from rq.job import Job

from tests.browser.helpers import fill_sign_in, sign_in
from tests.conftest import wait_for

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_demo_job_status_changes_live(page, live_server):
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))

    page.goto(f"{live_server.url}/queues/")
    expect(page).to_have_url(re.compile(r"/login\?next=/queues/"))
    fill_sign_in(page, *live_server.admin)
    expect(page.locator("h1")).to_have_text("Queues & workers")
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator("#worker-table")).to_contain_text("idle")

    page.evaluate("window.__notReloaded = true")
    finished = page.locator("#queue-table tr[data-queue=default] td[data-status=finished]")
    finished_before = int(finished.inner_text())  # the live server is shared: other tests' jobs count too
    page.fill("input[name=seconds]", "2")
    page.click("#enqueue-demo")  # posted by htmx: the page and its socket stay
    expect(page.locator(".flash-success")).to_contain_text("enqueued on 'default'")

    # by its id: the live server is shared, other browser tests may have left jobs in the list
    short_id = re.search(r"Demo job (\w+) enqueued", page.locator(".flash-success").inner_text()).group(1)
    row = page.locator(f"#recent-jobs tbody tr[data-job^='{short_id}']")
    job_id = row.get_attribute("data-job")
    status = row.locator("[data-role=status]")
    expect(status).to_have_text("started", timeout=10_000)
    expect(page.locator("#queue-table tr[data-queue=default] td[data-status=started]")).to_have_text("1")
    expect(page.locator(f"#recent-jobs tr[data-job='{job_id}'] [data-role=status]")).to_have_text(
        "finished", timeout=15_000
    )
    expect(finished).to_have_text(str(finished_before + 1))

    assert page.evaluate("window.__notReloaded") is True  # updated in place
    pushed = [f["type"] for f in frames if f.get("topic") == "queue:default" and f["data"].get("id") == job_id]
    assert "job_started" in pushed and "job_completed" in pushed
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "queues.png"), full_page=True)

    # the job page shows the finished job with its history
    row.locator("a").click()
    expect(page.locator("#job-status")).to_have_text("finished")
    expect(page.locator("#job-panel")).to_contain_text("Attempts")


def test_a_slow_partial_still_ends_on_the_last_event(page, live_server):
    """An event that comes while the job panel's own request is out is not lost: the first
    panel answer is read while the job runs and delivered only after the job has ended (and
    its last event has reached the page). htmx drops the trigger queued meanwhile with the
    element that answer replaces, so the live script must fetch once more (a page once stayed
    at 'running' this way)."""
    connection = redis.Redis.from_url(live_server.redis_url)
    held: list[str] = []

    def late(route):
        answer = route.fetch()  # the panel as it is now
        if not held:
            held.append(route.request.url)
            wait_for(lambda: Job.fetch(job_id, connection=connection).get_status() == "finished", timeout=20)
            time.sleep(0.5)  # and job_completed has reached the page
        route.fulfill(response=answer)

    sign_in(page, live_server, "/login")
    page.goto(f"{live_server.url}/queues/")
    page.fill("input[name=seconds]", "5")
    page.click("#enqueue-demo")
    short_id = re.search(r"Demo job (\w+) enqueued", page.locator(".flash-success").inner_text()).group(1)
    job_id = page.locator(f"#recent-jobs tbody tr[data-job^='{short_id}']").get_attribute("data-job")
    page.route(re.compile(r"/queues/jobs/[\w-]+/panel$"), late)
    page.goto(f"{live_server.url}/queues/jobs/{job_id}")  # (the shared server's list may be busy re-rendering)
    expect(page.locator("#job-status")).not_to_have_text("finished")  # opened while it runs
    expect(page.locator("#job-status")).to_have_text("finished", timeout=30_000)
    assert held, "the panel was never re-fetched"
    expect(page.locator("#job-panel")).to_contain_text("step 10 of 10")
