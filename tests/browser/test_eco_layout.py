"""The ECO page of a busy ECO at 1,366 px: a dozen events and a score of rule runs, long rule
names and long links in the reasons, stay inside the page (tables scroll inside their cards,
long text wraps), and events numbered 10 and above read whole."""

import os

from playwright.sync_api import expect

from tests.browser.helpers import api, sign_in

VIEWPORT = 1366
LONG_NAME = "NotifyTheEngineeringDistributionListAboutEveryStageChangeOfThisChangeOrderInclBackwardMoves"
LONG_REASON = "see https://plm.example.com/changes/attachments/" + "x" * 120 + "/drawing-rev-b.pdf"


def test_a_busy_eco_page_fits_1366_px_and_numbers_its_events_whole(page, live_server):
    # the live server is shared: seed the demo first (it seeds ECOs only into an empty database, and
    # other tests walk its ECOs), then add what this test needs for its own item only
    assert live_server.flask("seed-demo").returncode == 0
    token = live_server.flask("tokens", "create", live_server.admin.username).stdout.strip()
    item = api(
        live_server, token, "POST", "/items", {"number": "LAYOUT-1", "name": "Layout unit", "item_type": "assembly"}
    )
    for name in (LONG_NAME, "Second notice"):  # for this item only: the live server is shared with other tests
        rule = {"name": name, "phase": "after", "action": "emit_event", "params": {"message": LONG_REASON}}
        rule["match"] = {"item_ids": [item["id"]]}
        api(live_server, token, "POST", "/workflow-actions/rules", rule)
    eco = api(live_server, token, "POST", "/ecos", {"title": "Busy change", "item_id": item["id"]})
    for step in range(12):  # created + 12 moves = 13 events, 24 rule runs
        to_stage = "review" if step % 2 == 0 else "draft"
        api(live_server, token, "POST", f"/ecos/{eco['id']}/move", {"to_stage": to_stage, "reason": LONG_REASON})

    sign_in(page, live_server, f"/ecos/{eco['id']}")
    expect(page.locator("#eco-runs tbody tr").first).to_be_visible()
    assert page.locator("#eco-runs tbody tr").count() >= 24  # (and the demo's rule, if another test seeded it)
    assert page.viewport_size["width"] == VIEWPORT
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT, f"the page is {width} px wide"

    numbers = page.locator("#event-list [data-role=event-no]")
    expect(numbers).to_have_count(13)
    assert numbers.all_inner_texts()[:4] == ["13", "12", "11", "10"]  # newest first
    inside = page.evaluate(
        """() => {
          const list = document.getElementById('event-list').getBoundingClientRect();
          return [...document.querySelectorAll('#event-list [data-role=event-no]')].every(n => {
            const box = n.getBoundingClientRect();
            return box.width > 0 && box.left >= list.left && box.right <= list.right;
          });
        }"""
    )
    assert inside, "an event number is cut off by its list"
    one_line = page.evaluate(
        """() => [...document.querySelectorAll('#eco-runs tbody td:not(.long)')].every(td => {
          const range = document.createRange();
          range.selectNodeContents(td);
          const tops = [...range.getClientRects()].map(r => r.top);
          return tops.length === 0 || Math.max(...tops) - Math.min(...tops) < 8;  // less than a line apart
        })"""
    )
    assert one_line, "a run's number, stage move, action or status is broken over lines"
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "eco-busy.png"), full_page=True)
