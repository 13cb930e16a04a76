"""The operator's walk through the overview (issue 19): a doc-sync push fails on the shared pair of
live sites (a wrong token), the dead-letter alert appears on the open overview without a reload,
its link opens the failure table with the job's row, and the replay from that row (token put
right) clears the alert."""

import json
import os
import uuid
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from app.core.timeutil import utcnow
from app.docsync.models import SyncJob
from tests.browser.helpers import settled, sign_in, wait_until_delivered
from tests.docsync.twosites import start, wait_done

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
ALERT = "[data-alert=dead_letter_rate]"


def _age_out_sync_jobs(database_url: str) -> None:
    """The pair is shared by the session: earlier tests' sync jobs leave every window of the overview."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(SyncJob.__table__).values(created_at=utcnow() - timedelta(days=200)))
    engine.dispose()


def test_a_dead_letter_alert_appears_live_opens_its_row_and_replay_clears_it(page, sync_sites):
    a, b = sync_sites
    number = f"OPS-ALERT-{uuid.uuid4().hex[:6]}"
    a.seed({number: b"%PDF-1.7 " + os.urandom(2_000)}, doc_type="report")
    _age_out_sync_jobs(a.server.database_url)
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in(page, a.server, "/parallel-ops/?window_days=1")
    expect(page.locator("#live-status")).to_have_text("live")
    wait_until_delivered(page, a.server, frames, "ops:jobs")
    settled(page)
    expect(page.locator(ALERT)).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    token_path = f"/api/v1/doc-sync/sites/{a.peer_id}/token"
    a.api.ok("PUT", token_path, {"token": "fl_wrong-token-for-the-ops-walk"})
    job = wait_done(a, start(a, "push", uuid.uuid4().hex, numbers=[number])["id"])
    assert job["status"] == "failed", job

    alert = page.locator(ALERT)
    expect(alert).to_be_visible(timeout=20_000)  # the job's end re-reads the alerts live
    expect(alert).to_have_attribute("data-level", "critical")
    expect(alert).to_contain_text("Doc-sync dead letters: 100 % of the last 1 d")
    assert page.evaluate("window.__notReloaded") is True
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "ops-overview-alert.png"), full_page=True)

    a.api.ok("PUT", token_path, {"token": b.api.token})  # put right before the replay
    alert.get_by_role("link", name="See the rows").click()
    expect(page.locator("h1")).to_contain_text("Document sync jobs that failed")
    row = page.locator(f"#failure-doc-sync-{job['id']}")
    expect(row).to_contain_text("401")
    expect(page.locator("#failures tbody tr")).to_have_count(1)  # the window's only dead letter
    row.get_by_role("button", name="Replay").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Replay of job {job['id']}")
    settled(page)
    expect(row).to_have_count(0)  # replayed: no longer a dead letter

    newest = a.api.ok("GET", f"/api/v1/doc-sync/jobs?site_id={a.peer_id}&limit=1")["jobs"][0]
    assert newest["replay_of_id"] == job["id"], newest
    assert wait_done(a, newest["id"])["status"] == "finished"  # the replay itself is no dead letter
    page.goto(f"{a.server.url}/parallel-ops/?window_days=1")
    expect(page.locator("#alerts")).to_be_visible()
    expect(page.locator(ALERT)).to_have_count(0)
