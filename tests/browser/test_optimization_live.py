"""An engineer submits a grid optimization, watches its progress arrive over
/ws, sees it early-stop by policy, exports the Top-N and re-runs one row."""

import json
import re
import zipfile

from playwright.sync_api import expect

from app.optimization.demo import DEMO_NAME
from tests.browser.helpers import misaligned_headings, sign_in


def test_submit_watch_progress_early_stop_export_and_rerun(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    page.on("dialog", lambda dialog: dialog.accept())  # re-run asks first
    sign_in(page, live_server, "/optimizations/new")
    expect(page.locator("h1")).to_have_text("New optimization")
    page.select_option("select[name=strategy]", "rsi_reversion")  # htmx swaps in the RSI parameters
    expect(page.locator("input[name=param_period]")).to_be_visible()
    page.select_option("select[name=dataset]", label=f"{DEMO_NAME} (1500 bars)")
    page.fill("input[name=param_period]", "2:60:1")
    page.fill("input[name=param_lower]", "5:45:1")
    page.fill("input[name=param_upper]", "55:95:5")
    # chunks are sized by time (at most 20,000 points): stopping at 21,000 of 21,771 takes two or
    # more chunks, so progress comes in before the stop
    page.fill("input[name=max_tasks]", "21000")
    page.fill("input[name=top_n]", "5")
    page.click("#submit-optimization")

    expect(page.locator(".flash-success")).to_contain_text(
        "submitted: 21,771 grid points: 21,771 to run, in shuffled order"
    )
    job_id = int(re.search(r"/optimizations/(\d+)$", page.url).group(1))
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#stop-banner")).to_contain_text("Early-stopped: maxTasks 21000 reached", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True  # progress and the banner came in place
    topic = f"optimization:{job_id}"
    progress = [f for f in frames if f["topic"] == topic and f["type"] == "optimization_progress"]
    assert progress and any(f["type"] == "optimization_final" for f in frames if f["topic"] == topic)
    expect(page.locator("#counts [data-count=done]")).to_have_text("21000")
    expect(page.locator("#top-n tbody tr")).to_have_count(5)
    assert misaligned_headings(page) == []
    expect(page.locator("#heatmap rect").first).to_be_visible()
    expect(page.locator("#best-plot polyline")).to_be_visible()

    with page.expect_download() as download:
        page.click("#export-link")
    archive = zipfile.ZipFile(download.value.path())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["optimization"]["id"] == job_id and manifest["policy"]["maxTasks"] == 21000
    assert len(archive.read("results.csv").decode().splitlines()) == 6

    best_task = page.locator("#top-n tbody tr").first.get_attribute("data-task")
    page.locator("#top-n tbody tr").first.locator("[data-role=rerun-task]").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Re-running task {best_task}'s combination")
    expect(page.locator("#source-link")).to_have_attribute("href", f"/optimizations/{job_id}")
    expect(page.locator("#optimization-panel [data-role=status]").first).to_have_text("succeeded", timeout=30_000)
    page.goto(f"{live_server.url}/optimizations/")
    # the live server is shared with other tests' optimizations: this one and its re-run
    expect(page.locator(f"#optimization-history tr[data-optimization='{job_id}']")).to_contain_text("early-stopped")
    expect(page.locator("#optimization-history tbody tr", has_text=f"#{job_id}")).to_have_count(1)
