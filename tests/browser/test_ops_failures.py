"""An operator opens the doc-sync failure table, narrows it with the selects (the table is
swapped in place and the filters land in the URL), follows a link with a row's fragment, and
replays a dead letter from its row: the row leaves the dead-letter view and shows "replayed"."""

import os
import re
import uuid
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import create_engine, insert

from app.core.timeutil import utcnow
from app.docsync.models import RemoteSite, SyncJob
from tests.browser.helpers import settled, sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def _failed_jobs(database_url: str) -> tuple[str, int, int]:
    """A site of its own (the live server is shared) with a failed push and a failed pull."""
    name = f"ops-fail-{uuid.uuid4().hex[:6]}"
    engine = create_engine(database_url)
    with engine.begin() as connection:
        site_id = connection.execute(
            insert(RemoteSite.__table__).values(name=name, base_url="https://nowhere.invalid")
        ).inserted_primary_key[0]
        ids = []
        for hours, direction in ((2, "push"), (1, "pull")):
            ids.append(
                connection.execute(
                    insert(SyncJob.__table__).values(
                        site_id=site_id,
                        direction=direction,
                        idempotency_key=uuid.uuid4().hex,
                        payload_sha256="0" * 64,
                        selection={"numbers": []},
                        status="failed",
                        error=f"{direction} refused",
                        created_at=utcnow() - timedelta(hours=hours),
                    )
                ).inserted_primary_key[0]
            )
    engine.dispose()
    return name, ids[0], ids[1]


def test_filter_open_by_fragment_and_replay_a_dead_letter(page, live_server):
    site, push_id, pull_id = _failed_jobs(live_server.database_url)
    base = f"{live_server.url}/parallel-ops/doc-sync/failures"
    sign_in(page, live_server, "/parallel-ops/doc-sync/failures")
    expect(page.locator("h1")).to_contain_text("Document sync jobs that failed")
    page.evaluate("window.__notReloaded = true")

    page.select_option("select[name=site]", site)
    expect(page).to_have_url(re.compile(rf"site={site}"))
    rows = page.locator("#failures tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_id(f"failure-doc-sync-{pull_id}")  # newest first
    page.select_option("select[name=direction]", "push")
    expect(page).to_have_url(re.compile(r"direction=push"))
    expect(rows).to_have_count(1)
    page.select_option("select[name=direction]", "")
    page.select_option("select[name=dead_letter]", "true")
    expect(page).to_have_url(re.compile(r"dead_letter=true"))
    expect(rows).to_have_count(2)
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, not reloaded

    # an alert's link: the table with its filter, the row by its fragment
    page.goto(f"{base}?dead_letter=true&site={site}#failure-doc-sync-{push_id}")
    row = page.locator(f"#failure-doc-sync-{push_id}")
    expect(row).to_be_visible()
    expect(row).to_contain_text("push refused")
    expect(row.locator("a", has_text=f"sync job {push_id}")).to_have_attribute("href", f"/doc-sync/jobs/{push_id}")
    page.evaluate("window.__notReloaded = true")
    row.get_by_role("button", name="Replay").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Replay of job {push_id}")
    settled(page)
    expect(row).to_have_count(0)  # no longer a dead letter
    expect(rows).to_have_count(1)
    page.select_option("select[name=dead_letter]", "")
    expect(row.locator("[data-role=replayed]")).to_have_text("replayed")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "ops-failures.png"), full_page=True)
    assert page.evaluate("window.__notReloaded") is True
