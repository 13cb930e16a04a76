"""The consumption walk in Chromium: an engineer creates and activates a plan, the MES posts
actuals through the inbox API (a real worker drains them), the item's dashboard shows the new
variance and chart without reloading (topic consumption:item-<id>), and a dead event is
replayed from the inbox page and counted once."""

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.helpers import api, misaligned_headings, settled, sign_in, wait_until_delivered


def test_plan_mes_actuals_live_variance_and_a_replay(page, live_server):
    made = live_server.flask("tokens", "create", live_server.admin.username, "--name", "mes")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    item = api(live_server, token, "POST", "/items", {"number": "PCB-LIVE", "name": "Live board"})
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).date()

    frames: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/consumption/plans/new")
    page.select_option("select[name=item_id]", label="PCB-LIVE — Live board")
    page.select_option("select[name=period_unit]", "day")
    page.fill("input[name=period_start]", monday.isoformat())
    page.fill("input[name=period_end]", (monday + timedelta(days=7)).isoformat())
    page.fill("input[name=planned_quantity]", "70")
    page.fill("input[name=unit]", "ea")
    page.click("#plan-save")
    plan_id = int(re.search(r"/consumption/plans/(\d+)$", page.url).group(1))
    page.click("#activate")
    expect(page.locator("#plan-state")).to_have_text("active")

    page.goto(f"{live_server.url}/consumption/?item_id={item['id']}&plan_id={plan_id}")
    expect(page.locator("#live-status")).to_have_text("live")
    wait_until_delivered(page, live_server, frames, f"consumption:item-{item['id']}")
    page.evaluate("window.__notReloaded = true")
    row = page.locator(f"#variance-table tr[data-plan='{plan_id}']")
    expect(row.locator("[data-role=actual]")).to_have_text("0")

    events = [
        {"event_id": f"live-{n}", "plan_id": plan_id, "quantity": q, "unit": u, "recorded_at": now.isoformat()}
        for n, (q, u) in enumerate([("2", "dozen"), ("6", "ea"), ("1", "kg")])
    ]
    answer = api(live_server, token, "POST", "/consumption/mes-inbox", {"events": events})
    assert [d["disposition"] for d in answer["dispositions"]] == ["accepted", "accepted", "rejected"]
    expect(row.locator("[data-role=actual]")).to_have_text("30", timeout=15_000)  # 24 + 6, drained by the worker
    expect(row.locator("[data-role=ratio]")).to_have_attribute("data-status", "under")
    expect(page.locator("#burnup-chart polyline.burn")).to_have_attribute("data-reached", "30")
    assert page.locator("#variance-chart rect.bar-actual[data-height]:not([data-height='0.0'])").count() == 1
    assert page.evaluate("window.__notReloaded") is True

    # an event that died (its five attempts are the job tests' business) is replayed from the inbox page
    with sqlite3.connect(live_server.database_url.removeprefix("sqlite:///")) as db:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        db.execute(
            "INSERT INTO consumption_inbox_events (batch_id, event_key, plan_id, source_type, source_id, quantity,"
            " unit, recorded_at, state, attempts, next_attempt_at, last_error, received_at)"
            " VALUES (?, 'live-dead', ?, 'mes', '', 10, 'ea', ?, 'dead', 5, ?, 'plan was draft', ?)",
            (answer["batch_id"], plan_id, stamp, stamp, stamp),
        )
    dashboard = page.url
    page.goto(f"{live_server.url}/consumption/inbox?state=dead")
    page.locator("tr[data-event='live-dead'] button[data-role=replay]").click()
    expect(page.locator("#flashes")).to_contain_text("live-dead is pending again")
    page.goto(dashboard)
    expect(page.locator("#live-status")).to_have_text("live")
    expect(row.locator("[data-role=actual]")).to_have_text("40", timeout=15_000)
    settled(page)
    # the live server is shared (the demo seed has inbox events of its own): look at this event only
    page.goto(f"{live_server.url}/consumption/inbox?state=done")
    expect(page.locator("tr[data-event='live-dead']")).to_have_count(1)
    assert misaligned_headings(page) == []
    page.goto(f"{live_server.url}/consumption/inbox?state=dead")
    expect(page.locator("tr[data-event='live-dead']")).to_have_count(0)
