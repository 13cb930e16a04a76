"""An admin records an incident in Chromium, resolves it, sends it to the helpdesk (a local fake
that fails once, so the retry lands after the page is open) and watches the status turn `sent`
without a reload, then opens the ECO, whose page lists the incident."""

from playwright.sync_api import expect

from tests.breakages.conftest import TOKEN, FakeHelpdesk
from tests.browser.helpers import sign_in


def test_record_resolve_send_and_loop_back(page, live_server):
    seeded = live_server.flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    fake = FakeHelpdesk()
    try:
        fake.reset(503)  # the first POST fails: the retry 1 s later is what the open page sees
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/breakages/helpdesk")
        page.fill("input[name=name]", "acme-helpdesk")
        page.fill("input[name=base_url]", fake.url)
        page.fill("input[name=token]", TOKEN)
        page.click("#save-endpoint")
        expect(page.locator("#endpoint-status")).to_contain_text("unknown")

        page.goto(f"{live_server.url}/breakages/new")
        page.select_option("select[name=item_id]", label="PCA-200 · Controller board assembly")
        page.select_option("select[name=severity]", "critical")
        page.fill("textarea[name=description]", "Controller dead on arrival")
        page.fill("textarea[name=root_cause]", "High-ESR capacitor lot")
        page.fill("textarea[name=corrective_action]", "Low-ESR parts, incoming inspection")
        page.click("#save-incident")
        expect(page.locator("#incident-status")).to_have_text("open")
        for step in ("investigating", "resolved"):
            page.select_option("#to-status", step)
            page.click("#move-incident")
            expect(page.locator("#incident-status")).to_have_text(step)

        page.click("#send-helpdesk")
        expect(page.locator("#helpdesk-status")).not_to_have_text("not sent")
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("#helpdesk-status")).to_have_text("sent", timeout=20000)
        assert page.evaluate("window.__sameDocument === true")  # it changed live, no reload
        expect(page.locator("#ticket-link")).to_have_text("HD-1")
        assert len(fake.tickets) == 1 and [c["step"] for c in fake.calls] == [503, "ok"]

        page.click("#open-eco")
        expect(page.locator("#eco-sources")).to_contain_text("Controller dead on arrival")
        page.go_back()
        page.reload()
        expect(page.locator("#eco-stage")).to_have_text("draft")
    finally:
        fake.server.shutdown()
