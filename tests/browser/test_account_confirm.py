"""A token whose name is crafted as JavaScript (x'+alert(1)+', which ran inside the old
onsubmit="return confirm('Revoke token ...')") is only text: revoking it asks the
one confirm question with the name in it, and nothing else runs."""

import re

from playwright.sync_api import expect

from tests.browser.helpers import fill_sign_in

NAME = "x'+alert(1)+'"


def test_revoking_a_crafted_token_name_asks_once_and_runs_nothing(page, live_server):
    page.goto(f"{live_server.url}/account")
    expect(page).to_have_url(re.compile(r"/login"))
    fill_sign_in(page, *live_server.admin)
    page.goto(f"{live_server.url}/account")
    page.fill("input[name=name]", NAME)
    page.click("text=Create token")
    expect(page.locator("#new-token")).to_be_visible()

    dialogs = []
    answer = {"accept": False}

    def on_dialog(dialog):
        dialogs.append((dialog.type, dialog.message))
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    question = ("confirm", f"Revoke token {NAME}? Clients using it stop working.")
    page.click("button:has-text('Revoke')")  # dismissed: the form is not sent
    page.wait_for_timeout(300)
    expect(page.locator(".badge-finished", has_text="active")).to_be_visible()
    assert dialogs == [question]

    answer["accept"] = True
    page.click("button:has-text('Revoke')")
    expect(page.locator(".badge-failed", has_text="revoked")).to_be_visible()
    assert dialogs == [question, question]  # no alert(1): the name never ran
