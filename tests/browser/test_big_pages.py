"""The big pages open in Chromium in under a second (issue 14 point 8): a 10,000-line draft BOM
(and its next page of lines through htmx) and a 100,000-task optimization (whose heatmap then
arrives by its own request). The data is inserted set-based once, into an instance of its own."""

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from app.core.auth.models import User
from app.items.views import BOM_LINES_PER_PAGE
from tests.bigdata import big_bom, big_optimization
from tests.browser.helpers import fill_sign_in
from tests.liveserver import running_instance

LOAD_BUDGET = 1.0  # seconds from navigation to the load event
TRIES = 3  # the best of three loads: the machine running the suite is shared, the page's cost is not


@pytest.fixture(scope="module")
def big_site(tmp_path_factory):
    with running_instance(tmp_path_factory.mktemp("big-pages")) as server:
        engine = create_engine(server.database_url)
        with engine.begin() as connection:
            admin_id = connection.scalar(select(User.id).where(User.username == server.admin.username))
            item_id, _ = big_bom(connection)
            optimization_id = big_optimization(connection, admin_id)
        engine.dispose()
        yield server, item_id, optimization_id


def timed_goto(page, url: str) -> float:
    started = time.perf_counter()
    response = page.goto(url, wait_until="load")
    elapsed = time.perf_counter() - started
    assert response is not None and response.status == 200
    return elapsed


def best_load(page, url: str) -> float:
    timed_goto(page, url)  # warm: each web process has read its templates
    return min(timed_goto(page, url) for _ in range(TRIES))


def test_the_big_bom_and_optimization_pages_open_within_a_second(page, big_site):
    server, item_id, optimization_id = big_site
    page.goto(f"{server.url}/login")
    fill_sign_in(page, *server.admin)
    page.wait_for_url(f"{server.url}/**")
    elapsed = best_load(page, f"{server.url}/items/{item_id}")
    print(f"BOM page, 10,000 lines: {elapsed:.2f} s")
    assert elapsed < LOAD_BUDGET, f"BOM page: {elapsed:.2f} s"
    rows = page.locator("#bom-lines tr[data-child]")
    expect(rows).to_have_count(BOM_LINES_PER_PAGE)
    page.click("[data-role=more-rows]")  # the next page of lines lands in place
    expect(rows).to_have_count(2 * BOM_LINES_PER_PAGE)

    elapsed = best_load(page, f"{server.url}/optimizations/{optimization_id}")
    print(f"optimization page, 100,000 tasks: {elapsed:.2f} s")
    assert elapsed < LOAD_BUDGET, f"optimization page: {elapsed:.2f} s"
    expect(page.locator("#top-n tr[data-task]")).to_have_count(10)
    expect(page.locator("#heatmap rect").first).to_be_attached(timeout=10_000)  # read after the page
