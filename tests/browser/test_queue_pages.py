"""The per-queue page and the worker page follow jobs live (the `queue:<name>` topic), without a
reload; an admin empties a queue after a confirmation naming it. With SCREENSHOT_DIR set, the
second test seeds realistic data (a busy worker, an optimization's chunks waiting, a day of job
history) and photographs both pages."""

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert

from app import create_app
from app.core import jobs
from app.core.jobs.models import JobRecord
from app.core.timeutil import utcnow
from app.extensions import db
from tests.browser.helpers import csrf_token, misaligned_headings, sign_in
from tests.conftest import app_config, wait_for

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def signed_in(page, live_server) -> str:
    """Sign in as the admin; returns the CSRF token of the page signed in to."""
    sign_in(page, live_server)
    expect(page.locator("h1")).to_be_visible()
    return csrf_token(page)


def demo(page, live_server, csrf: str, seconds: int, fail: bool = False) -> str:
    response = page.request.post(
        f"{live_server.url}/api/v1/jobs/demo", data={"seconds": seconds, "fail": fail}, headers={"X-CSRFToken": csrf}
    )
    assert response.status == 202, response.text()
    return response.json()["id"]


def test_queue_and_worker_pages_follow_a_job_live(page, live_server):
    csrf = signed_in(page, live_server)
    page.goto(f"{live_server.url}/queues/default?registry=started")
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")
    finished_tab = page.locator("#registry-tabs a[data-registry=finished] [data-count]")
    finished_before = int(finished_tab.inner_text())

    job_id = demo(page, live_server, csrf, 2)
    expect(page.locator(f"#queue-jobs tr[data-job='{job_id}']")).to_be_visible(timeout=10_000)  # started
    expect(page.locator(f"#queue-jobs tr[data-job='{job_id}']")).to_have_count(0, timeout=15_000)  # and done
    expect(finished_tab).not_to_have_text(str(finished_before))
    assert page.evaluate("window.__notReloaded") is True
    page.click("#registry-tabs a[data-registry=finished]")
    expect(page.locator(f"#queue-jobs tr[data-job='{job_id}']")).to_be_visible()

    page.goto(f"{live_server.url}/queues/workers/{live_server.worker_name}")
    expect(page.locator("#worker-heartbeat")).to_have_text("healthy")
    done_before = int(page.locator("#worker-done").inner_text())
    page.evaluate("window.__notReloaded = true")
    running = demo(page, live_server, csrf, 2)
    expect(page.locator("#worker-current-job")).to_contain_text(running[:8], timeout=10_000)
    expect(page.locator("#worker-state")).to_have_text("busy")
    expect(page.locator("#worker-current-job")).to_contain_text("none (idle)", timeout=15_000)
    expect(page.locator("#worker-done")).not_to_have_text(str(done_before))
    assert page.evaluate("window.__notReloaded") is True


def _seed(live_server, csrf: str, page) -> str:
    """A day of job history, a running job and an optimization's chunks waiting behind it."""
    app = create_app(app_config(live_server.database_url, live_server.redis_url))
    with app.app_context():
        now, rows = utcnow(), []
        for minute in range(0, 24 * 60, 7):
            for n in range(1 + (minute // 90) % 4):
                status = "failed" if (minute + n) % 11 == 0 else "finished"
                ended = now - timedelta(minutes=minute, seconds=n * 13)
                rows.append(
                    {
                        "id": f"seed-{minute}-{n}",
                        "queue": "optimize",
                        "kind": "optimization_chunk",
                        "entity": "optimization",
                        "entity_id": str(40 + minute // 240),
                        "status": status,
                        "actor": "system",
                        "enqueued_at": ended - timedelta(seconds=4),
                        "started_at": ended - timedelta(seconds=3),
                        "ended_at": ended,
                        "wait": 1.0,
                        "duration": 3.0,
                        "attempts": 1,
                        "error": "ValueError: the grid point did not converge" if status == "failed" else None,
                    }
                )
        db.session.execute(insert(JobRecord), rows)
        db.session.commit()
    running = demo(page, live_server, csrf, 25)
    wait_for(lambda: page.request.get(f"{live_server.url}/api/v1/jobs/{running}").json()["status"] == "started")
    with app.app_context():
        for first in range(0, 1200, 40):
            jobs.enqueue(
                "optimization_chunk",
                "app.queues.jobs.demo_job",
                0,
                queue="optimize",
                link=("optimization", 47),
                description=f"optimization 47 points {first}-{first + 39}",
            )
        db.session.commit()
        db.engine.dispose()
    return running


@pytest.mark.skipif(not SCREENSHOTS, reason="screenshots only when SCREENSHOT_DIR is set")
def test_screenshots_of_the_queue_and_worker_pages(page, live_server):
    csrf = signed_in(page, live_server)
    running = _seed(live_server, csrf, page)
    try:
        page.goto(f"{live_server.url}/queues/optimize?window=day")
        expect(page.locator("#registry-tabs a[data-registry=queued] [data-count]")).to_have_text("30")
        expect(page.locator("#queue-chart svg .bucket")).to_have_count(24)
        page.screenshot(path=os.path.join(SCREENSHOTS, "queue-page.png"), full_page=True)
        page.goto(f"{live_server.url}/queues/workers/{live_server.worker_name}")
        expect(page.locator("#worker-current-job")).to_contain_text(running[:8])
        page.screenshot(path=os.path.join(SCREENSHOTS, "worker-page.png"), full_page=True)
        page.goto(f"{live_server.url}/queues/")
        expect(page.locator("#recent-jobs tr[data-group='optimization_chunk:optimization:47']")).to_contain_text(
            "30 jobs"
        )
        page.screenshot(path=os.path.join(SCREENSHOTS, "queues.png"), full_page=True)

        # the admin empties the queue: the question names the queue and how many jobs go
        page.goto(f"{live_server.url}/queues/optimize")
        questions = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        page.click("#empty-queue button")
        expect(page.locator(".flash-success")).to_contain_text(re.compile(r"\d+ queued job\(s\) of 'optimize' deleted"))
        assert questions and questions[0].startswith("Delete all 30 queued job(s) of optimize?")
    finally:
        page.request.post(f"{live_server.url}/api/v1/jobs/{running}/stop", headers={"X-CSRFToken": csrf})


def test_numeric_headings_sit_above_their_right_aligned_numbers(page, live_server):
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/queues/workers/{live_server.worker_name}")
    expect(page.locator("#worker-queues tbody tr").first).to_be_visible()
    assert misaligned_headings(page) == []
    misaligned = {}
    for path in ("/queues", "/queues/default?registry=finished", "/queues/recent", "/docsync", "/optimization"):
        page.goto(f"{live_server.url}{path}")
        misaligned[path] = misaligned_headings(page)
    assert misaligned == {path: [] for path in misaligned}
