"""The top bar at 1,366 px: one line of menus (Engineering, Production, Automation, Operations),
one open at a time, closed by a click elsewhere or Escape, and marked on every page of the
capabilities it lists."""

from playwright.sync_api import expect

from tests.browser.helpers import sign_in


def test_the_top_bar_is_one_line_of_menus_that_open_close_and_mark_the_current_page(page, live_server):
    sign_in(page, live_server)
    topbar = page.locator(".topbar")
    brand_height = page.locator(".topbar .brand").evaluate("b => b.getBoundingClientRect().height")
    # every entry of the admin's navigation, and the bar is no taller than one line of it
    assert topbar.evaluate("t => t.getBoundingClientRect().height") < brand_height * 2 + 24
    summaries = page.locator(".topbar nav summary")
    assert summaries.all_inner_texts() == ["Engineering", "Production", "Automation", "Operations"]

    engineering = page.locator(".topbar details", has_text="Engineering")
    operations = page.locator(".topbar details", has_text="Operations")
    users = page.locator(".topbar nav a", has_text="Users")
    expect(users).to_be_hidden()
    operations.locator("summary").click()
    expect(users).to_be_visible()
    engineering.locator("summary").click()  # one menu open at a time
    expect(users).to_be_hidden()
    expect(page.locator(".topbar nav a", has_text="Items & BOMs")).to_be_visible()
    page.locator("main h1").click()  # a click elsewhere closes it
    expect(page.locator(".topbar nav a", has_text="Items & BOMs")).to_be_hidden()
    operations.locator("summary").click()
    page.keyboard.press("Escape")
    expect(users).to_be_hidden()

    operations.locator("summary").click()
    users.click()
    expect(page.locator("h1")).to_have_text("Users")
    expect(page.locator(".topbar summary.active")).to_have_text("Operations")
    page.goto(f"{live_server.url}/items/")
    expect(page.locator(".topbar summary.active")).to_have_text("Engineering")
    page.goto(f"{live_server.url}/")
    expect(page.locator(".topbar summary.active")).to_have_count(0)
    expect(page.locator(".topbar nav > a.active")).to_have_text("Dashboard")
