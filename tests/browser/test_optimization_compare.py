"""Issue 20 point 3 in Chromium: two optimizations of one strategy on one dataset compared side by
side (both best-by-task curves on one chart, both Top-N), and another strategy refused."""

import re

from playwright.sync_api import expect

from app.optimization.demo import DEMO_NAME
from tests.browser.helpers import sign_in


def _submit(page, live_server, strategy, params):
    page.goto(f"{live_server.url}/optimizations/new")
    page.select_option("select[name=strategy]", strategy)
    expect(page.locator(f"input[name=param_{next(iter(params))}]")).to_be_visible()
    page.select_option("select[name=dataset]", label=f"{DEMO_NAME} (1500 bars)")
    for name, value in params.items():
        page.fill(f"input[name=param_{name}]", value)
    page.fill("input[name=top_n]", "3")
    page.click("#submit-optimization")
    expect(page.locator(".flash-success")).to_contain_text("submitted")
    return int(re.search(r"/optimizations/(\d+)$", page.url).group(1))


def test_compare_two_optimizations_and_refuse_another_strategy(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    sign_in(page, live_server, "/optimizations/new")
    first = _submit(page, live_server, "sma_cross", {"n1": "5:20:5", "n2": "30, 60"})
    second = _submit(page, live_server, "sma_cross", {"n1": "5, 10", "n2": "40:100:20"})
    rsi = _submit(page, live_server, "rsi_reversion", {"period": "14", "lower": "30", "upper": "70"})
    expect(page.locator("#counts [data-count=done]")).to_have_text("1", timeout=60_000)
    page.goto(f"{live_server.url}/optimizations/{first}")
    expect(page.locator("#counts [data-count=done]")).to_have_text("8", timeout=60_000)
    page.click("#compare-link")
    page.fill("input[name=b]", str(second))
    page.click("#compare-submit")
    expect(page.locator(f"#compare-plot polyline[data-optimization='{first}']")).to_be_visible(timeout=10_000)
    # the second may still be running: reload until both curves are drawn
    for _ in range(30):
        if page.locator(f"#compare-plot polyline[data-optimization='{second}']").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#compare-plot polyline")).to_have_count(2)
    expect(page.locator(f"#compare-tops [data-optimization='{first}'] tbody tr")).to_have_count(3)
    page.fill("input[name=b]", str(rsi))
    page.click("#compare-submit")
    expect(page.locator("#compare-problem")).to_contain_text("different strategies (sma_cross and rsi_reversion)")
    expect(page.locator("#compare-plot")).to_have_count(0)
