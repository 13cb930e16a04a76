"""At 390 px (a phone) the top bar folds its links behind a Menu button, and no page is wider
than the screen: wide tables scroll inside their cards (issue 14 point 15)."""

import os

from playwright.sync_api import expect

from tests.browser.helpers import csrf_token, sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
PHONE = {"width": 390, "height": 844}
PAGES = ["/", "/audit/", "/admin/users", "/queues/", "/items/", "/account"]


def test_at_390_px_the_menu_toggles_and_no_page_is_wider_than_the_screen(browser, live_server):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        # rows wider than a phone: items with long names, so the items table has to scroll
        for n in range(3):
            page.request.post(
                f"{live_server.url}/api/v1/items",
                data={"number": f"PHONE-{n}-{'X' * 30}", "name": "A rather long item name " * 4},
                headers={"X-CSRFToken": csrf_token(page)},
            )
        for path in PAGES:
            page.goto(f"{live_server.url}{path}")
            nav = page.locator(".topbar nav")
            toggle = page.locator("#menu-toggle")
            expect(nav).to_be_hidden()
            toggle.click()
            expect(nav).to_be_visible()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
            toggle.click()
            expect(nav).to_be_hidden()
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        page.goto(f"{live_server.url}/items/")  # the items table is wider than the screen: it scrolls in place
        items_table = page.locator("main table").first
        assert items_table.evaluate("t => [t.scrollWidth > t.clientWidth, getComputedStyle(t).overflowX]") == [
            True,
            "auto",
        ]
        if SCREENSHOTS:
            page.locator("#menu-toggle").click()
            page.screenshot(path=os.path.join(SCREENSHOTS, "phone-menu.png"))
    finally:
        context.close()


def test_wide_screens_show_the_navigation_without_a_menu_button(page, live_server):
    sign_in(page, live_server)
    expect(page.locator(".topbar nav")).to_be_visible()
    expect(page.locator("#menu-toggle")).to_be_hidden()
