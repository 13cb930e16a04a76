"""Issue 20 point 3 in Chromium: the submit form shows the grid size as the parameters change, and an
ended optimization's trials table sorts by a column and filters by a parameter range."""

import re

from playwright.sync_api import expect

from app.optimization.demo import DEMO_NAME
from tests.browser.helpers import sign_in


def test_grid_size_on_the_form_then_trials_sort_and_filter(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    sign_in(page, live_server, "/optimizations/new")
    size = page.locator("#grid-size")
    expect(size.locator("[data-count=size]")).to_have_text("200")  # the defaults: 10 n1 × 20 n2
    page.fill("input[name=param_n1]", "5:20:5")
    page.fill("input[name=param_n2]", "10, 40")
    expect(size.locator("[data-count=to-run]")).to_have_text("5")
    expect(size.locator("[data-count=skipped]")).to_have_text("3")
    page.fill("input[name=param_n1]", "5:x")
    expect(size.locator("[data-role=grid-problem]")).to_contain_text("start:stop:step")
    page.select_option("select[name=strategy]", "rsi_reversion")
    expect(page.locator("input[name=param_period]")).to_be_visible()
    page.fill("input[name=param_period]", "5, 10")
    page.fill("input[name=param_lower]", "30")
    page.fill("input[name=param_upper]", "70, 80")
    expect(size.locator("[data-count=to-run]")).to_have_text("4")
    page.select_option("select[name=strategy]", "sma_cross")
    expect(page.locator("input[name=param_n1]")).to_be_visible()
    page.select_option("select[name=dataset]", label=f"{DEMO_NAME} (1500 bars)")
    page.fill("input[name=param_n1]", "5:30:5")
    page.fill("input[name=param_n2]", "20, 40, 60, 80")
    expect(size.locator("[data-count=to-run]")).to_have_text("21")
    page.click("#submit-optimization")
    expect(page.locator(".flash-success")).to_contain_text("24 grid points: 3 skipped (n1 ≥ n2), 21 to run")
    job_id = int(re.search(r"/optimizations/(\d+)$", page.url).group(1))
    expect(page.locator("#counts [data-count=done]")).to_have_text("21", timeout=60_000)

    page.goto(f"{live_server.url}/optimizations/{job_id}/trials")
    rows = page.locator("#trials tbody tr")
    expect(rows).to_have_count(21)
    page.click("a[data-sort=score]")
    expect(page.locator("a[data-sort=score]")).to_have_attribute("aria-sort", "ascending")
    page.click("a[data-sort=score]")
    expect(page.locator("a[data-sort=score]")).to_have_attribute("aria-sort", "descending")
    scores = [float(s) for s in page.locator("#trials [data-role=score]").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and len(scores) == 21
    # parallel coordinates: a line per task across n1, n2 and the score; the best on top, drawn in view
    lines = page.locator("#parallel polyline")
    expect(lines).to_have_count(21)
    expect(page.locator("#parallel [data-axis]")).to_have_text(["n1", "n2", "score"])
    top = lines.last
    assert top.get_attribute("data-role") == "best" and top.locator("title").text_content().endswith(f"{scores[0]:.4g}")
    box = top.bounding_box()
    assert box and box["width"] > 200  # spans the three axes on screen
    page.fill("input[name=n1_min]", "10")
    page.fill("input[name=n1_max]", "15")
    page.click("#apply-filter")
    expect(rows).to_have_count(8)  # n1 ∈ {10, 15} × n2 ∈ {20, 40, 60, 80}
    assert set(page.locator("#trials [data-param=n1]").all_inner_texts()) == {"10", "15"}
    expect(page.locator("a[data-sort=score]")).to_have_attribute("aria-sort", "descending")  # the sort is kept
    page.fill("input[name=n1_max]", "nope")
    page.click("#apply-filter")
    expect(page.locator("#trials-problem")).to_contain_text("must be numbers")
