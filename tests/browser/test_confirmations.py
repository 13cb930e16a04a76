"""Irreversible buttons ask first, naming what will happen: dismissing sends nothing, accepting does
it (an ECO's cancel and Apply, which releases its BOM); a double click on a create button creates
one row (the new-ECO form, an optimization's Re-run all)."""

import re
import uuid

from playwright.sync_api import expect

from tests.browser.helpers import settled, sign_in


class Dialogs:
    """Answers every dialog as told (`accept`), keeping their questions."""

    def __init__(self, page) -> None:
        self.accept, self.questions = False, []
        page.on("dialog", self._answer)

    def _answer(self, dialog) -> None:
        self.questions.append(dialog.message)
        dialog.accept() if self.accept else dialog.dismiss()


def test_eco_cancel_and_apply_ask_and_a_double_click_opens_one_eco(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    dialogs = Dialogs(page)
    sign_in(page, live_server)
    number = f"CONF-{uuid.uuid4().hex[:6].upper()}"  # the live server is shared: a product of its own
    page.goto(f"{live_server.url}/items/new")
    page.fill("input[name=number]", number)
    page.fill("input[name=name]", "Confirmation bracket")
    page.select_option("select[name=item_type]", "assembly")
    page.click("#item-form button[type=submit]")
    page.click("#start-bom")
    expect(page.locator(".flash-success")).to_be_visible()

    title = f"Confirm {number}"
    page.goto(f"{live_server.url}/ecos/new")
    page.fill("input[name=title]", title)
    page.select_option("select[name=item_id]", label=f"{number} · Confirmation bracket")
    page.select_option("select[name=target_bom_id]", label=f"{number}@A (draft)")
    page.dblclick("#create-eco")
    expect(page).to_have_url(re.compile(r"/ecos/\d+$"))
    eco = page.locator("h1").inner_text().split()[0]
    page.goto(f"{live_server.url}/ecos/?q={number}")
    expect(page.locator("tr[data-eco]")).to_have_count(1)  # two clicks, one ECO
    page.click(f"tr[data-eco='{eco}'] a")
    expect(page.locator("#eco-stage")).to_have_text("draft")

    settled(page)
    page.click("#stage-bar button[data-move=canceled]")  # dismissed: nothing is sent
    page.wait_for_timeout(400)
    assert dialogs.questions == [f"Cancel {eco}? It stops at canceled (from draft); reopening takes it back to draft."]
    expect(page.locator("#eco-stage")).to_have_text("draft")

    apply_question = (
        f"Apply {eco}? This releases BOM {number}@A (it can no longer be edited) and closes the ECO at done."
    )
    page.click("#apply-eco")
    page.wait_for_timeout(400)
    assert dialogs.questions[-1] == apply_question
    expect(page.locator("#eco-stage")).to_have_text("draft")
    expect(page.locator("#flashes .flash-success")).to_have_count(0)

    dialogs.accept = True
    settled(page)
    page.click("#apply-eco")
    expect(page.locator("#flashes .flash-success")).to_contain_text(f"{number}@A is released")
    expect(page.locator("#eco-stage")).to_have_text("done")
    assert dialogs.questions[-1] == apply_question


def test_rerun_all_asks_and_a_double_click_submits_one_optimization(page, live_server):
    assert live_server.flask("seed-demo").returncode == 0
    dialogs = Dialogs(page)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/optimizations/new")
    page.fill("input[name=param_n1]", "5, 10")
    page.fill("input[name=param_n2]", "20")
    page.click("#submit-optimization")
    expect(page.locator(".flash-success")).to_contain_text("submitted: 2 grid points")
    source = int(re.search(r"/optimizations/(\d+)$", page.url).group(1))

    page.click("#rerun-all")  # dismissed
    page.wait_for_timeout(400)
    question = f"Re-run all 2 grid point(s) of optimization {source}? This submits a new optimization;"
    question += " this one stays as it is."
    assert dialogs.questions == [question]
    expect(page).to_have_url(re.compile(rf"/optimizations/{source}$"))

    dialogs.accept = True
    page.dblclick("#rerun-all")
    expect(page.locator(".flash-success")).to_contain_text(f"Re-running the whole grid of optimization {source}")
    rerun = int(re.search(r"/optimizations/(\d+)$", page.url).group(1))
    assert rerun > source
    page.goto(f"{live_server.url}/optimizations/{rerun}")
    expect(page.locator("#source-link")).to_have_attribute("href", f"/optimizations/{source}")
    page.goto(f"{live_server.url}/optimizations/")
    reruns = page.locator(f"#optimization-history tbody tr:has(a:text-is('#{source}'))")  # "Re-run of #source"
    expect(reruns).to_have_count(1)  # two clicks, one re-run
