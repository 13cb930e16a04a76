"""An operator watches a run of a 50-routine flow doing thousands of activations a
second: the page takes its updates from the worker's coalesced events (many
socket messages per DOM update, far fewer messages than engine events), keeps
answering clicks and painting frames while they stream in, and ends showing
the final counts from the database."""

import json
import os
import re
from itertools import pairwise

from playwright.sync_api import expect

from tests.browser.helpers import fill_sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
CHAINS, STAGES, ITEMS = 8, 6, 4000  # source -> 8 chains of 6 mappers -> sink: 50 routines


def fifty_routine_flow() -> str:
    chains = [[f"c{c}s{s}" for s in range(STAGES)] for c in range(CHAINS)]
    routines = [{"id": "source", "type": "source", "config": {"items": list(range(ITEMS))}}]
    routines += [
        {
            "id": rid,
            "type": "mapper",
            "config": {"expression": "item + 1"},
            "policy": {"type": "batch_size", "min_batch_size": 1},
        }  # one item per activation
        for chain in chains
        for rid in chain
    ]
    routines.append({"id": "sink", "type": "sink"})
    connections = []
    for chain in chains:
        hops = ["source", *chain, "sink"]
        connections += [{"from": f"{a}.out", "to": f"{b}.in"} for a, b in pairwise(hops)]
    return json.dumps(
        {
            "name": "fifty-routines",
            "description": "Eight chains of six mappers, one item per activation.",
            "routines": routines,
            "connections": connections,
        }
    )


# Counts, in the page, socket messages of the run's topic, DOM update batches of the run
# panel (one MutationObserver callback per task that changed it) and the longest gap
# between two painted frames.
PROBE = """topic => {
  const probe = window.__probe = {messages: 0, updates: 0, longestFrameGap: 0};
  document.addEventListener("forgeline:event", e => { if (e.detail.topic === topic) probe.messages++; });
  new MutationObserver(() => probe.updates++).observe(document.body, {subtree: true, childList: true,
                                                                      attributes: true, characterData: true});
  let last = performance.now();
  (function frame(now) {
    probe.longestFrameGap = Math.max(probe.longestFrameGap, now - last);
    last = now;
    if (!probe.stopped) requestAnimationFrame(frame);
  })(last);
}"""


def test_fifty_routines_stream_coalesced_and_the_page_stays_responsive(page, live_server):
    page.goto(f"{live_server.url}/flows/")
    fill_sign_in(page, *live_server.admin)
    page.fill("#flow-document", fifty_routine_flow())
    page.click("#create-flow")
    expect(page.locator("h1")).to_have_text("fifty-routines")
    page.click("#start-run")
    expect(page).to_have_url(re.compile(r"/flows/runs/\w+$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#live-status")).to_have_text("live")
    assert page.locator("svg.flow-graph [data-routine]").count() == 50
    page.evaluate(PROBE, f"flow-run:{job_id}")

    expect(page.locator("#run-status")).to_have_text("running", timeout=15_000)
    expect(page.locator('[data-routine-row="sink"] .r-items')).not_to_have_text("0", timeout=15_000)
    # while events stream in, a click on a routine still opens its panel at once
    page.click('[data-routine="c3s4"]')
    expect(page.locator('[data-routine-info="c3s4"]')).to_be_visible(timeout=2_000)
    expect(page.locator('[data-routine-info="c3s4"] .policy-type')).to_have_text("batch_size")
    expect(page.locator("#run-status")).to_have_text("running")  # all that happened during the run

    expect(page.locator("#run-status")).to_have_text("completed", timeout=90_000)
    probe = page.evaluate("() => { window.__probe.stopped = true; return window.__probe; }")
    expect(page.locator('[data-routine-row="sink"] .r-items')).to_have_text(str(CHAINS * ITEMS))
    expect(page.locator('[data-routine-row="c7s5"] .r-exec')).to_have_text(str(ITEMS))

    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "flow-run-fifty.png"))
    activations = CHAINS * STAGES * ITEMS + 1  # the mappers' and the source's (the sink takes batches)
    engine_events = 2 * activations  # routine_started and routine_completed each, at least
    assert probe["messages"] > 50, probe  # the page did hear the run
    assert probe["messages"] * 10 < engine_events, probe  # coalesced by the worker's monitor
    assert probe["updates"] * 3 < probe["messages"], probe  # and applied in batches, not per message
    assert probe["longestFrameGap"] < 1_000, probe  # never frozen for a second
