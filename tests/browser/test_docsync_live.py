"""An operator at plant A adds plant B as a remote site, checks its health, pushes
documents and watches the job finish live; then a push fails on a wrong token,
the token is put right and the failed item is replayed."""

import json
import os
import re

from playwright.sync_api import expect

from tests.browser.helpers import fill_sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
DOCUMENTS = 80


def expect_job_status(page, site, status: str, timeout: float) -> None:
    """Wait for the job page to show `status`; when it does not, say what the job and the worker said."""
    try:
        expect(page.locator("#sync-status")).to_have_text(status, timeout=timeout)
    except AssertionError as exc:
        job_id = re.search(r"/doc-sync/jobs/(\d+)", page.url).group(1)
        job = site.api.ok("GET", f"/api/v1/doc-sync/jobs/{job_id}")
        raise AssertionError(f"{exc}\njob: {job}\n{site.server.processes.report()}") from None


def test_add_site_check_health_push_live_and_replay(page, sync_sites):
    a, b = sync_sites
    a.seed({f"UI-{n:03d}": b"%PDF-1.7 " + os.urandom(40_000) for n in range(DOCUMENTS)}, doc_type="report")
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    questions: list[str] = []  # replay asks first (yes)
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))

    page.goto(f"{a.server.url}/doc-sync/sites")
    fill_sign_in(page, *a.server.admin)
    expect(page.locator("h1")).to_have_text("Remote sites")

    page.fill("input[name=name]", "plant-b-ui")
    page.fill("input[name=base_url]", b.server.url)
    page.fill("input[name=token]", b.api.token)
    page.click("#add-site")
    expect(page.locator("h1")).to_have_text("Site plant-b-ui")
    expect(page.locator("#site-status")).to_have_text("unknown")
    page.click("#check-health")
    expect(page.locator(".flash-success")).to_contain_text("plant-b-ui is up")
    expect(page.locator("#site-status")).to_have_text("up")
    assert b.api.token not in page.content()

    page.select_option("select[name=doc_type]", "report")
    page.click("#preview-sync")
    expect(page.locator("#preview-result")).to_contain_text(f"{DOCUMENTS} to send")
    page.click("#start-sync")
    expect(page.locator("h1")).to_contain_text("push to plant-b-ui")
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")
    expect_job_status(page, a, "finished", timeout=60_000)
    expect(page.locator("#count-sent")).to_have_text(str(DOCUMENTS))
    assert page.evaluate("window.__notReloaded") is True  # updated in place, by the live channel
    job_id = re.search(r"/doc-sync/jobs/(\d+)", page.url).group(1)
    assert any(f.get("topic") == f"doc-sync:{job_id}" for f in frames), "no live event of the job arrived"
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "docsync-job.png"), full_page=True)

    # a wrong token: the push fails, the site page says 401
    a.seed({"UI-LATE": b"%PDF-1.7 late"}, doc_type="other")
    page.click("text=← plant-b-ui")
    page.fill("#save-token >> xpath=preceding::input[@name='token'][1]", "fl_wrong-token-for-plant-b")
    page.click("#save-token")
    expect(page.locator(".flash-success")).to_contain_text("Token saved")
    page.fill("input[name=numbers]", "UI-LATE")
    page.click("#start-sync")
    expect_job_status(page, a, "failed", timeout=30_000)
    expect(page.locator("#sync-error")).to_contain_text("401")
    failed_url = page.url
    page.click("text=← plant-b-ui")
    expect(page.locator("#site-status")).to_have_text("unauthorized")
    expect(page.locator("#site-status-detail")).to_contain_text("401")

    # put the token right, then replay the failed item
    page.fill("#save-token >> xpath=preceding::input[@name='token'][1]", b.api.token)
    page.click("#save-token")
    page.goto(failed_url)
    page.click("#replay")
    expect(page.locator("h1")).to_contain_text("push to plant-b-ui")
    expect(page.locator(".flash-success")).to_contain_text("Replay of job")
    expect(page.locator("#sync-job-panel")).to_contain_text("replay of #")
    assert re.fullmatch(
        r"Replay sync job #\d+\? A new push job with plant-b-ui sends again what this one did not transfer\.",
        questions[-1],
    )
    expect_job_status(page, a, "finished", timeout=30_000)
    expect(page.locator("#count-sent")).to_have_text("1")
    expect(page.locator("#sync-items tr[data-number='UI-LATE'] [data-role=outcome]")).to_have_text("transferred")
    assert "UI-LATE" in b.manifest(["UI-LATE"])
