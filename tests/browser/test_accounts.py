"""An admin creates a user on the users page; the user signs in, changes their password on
the account page and signs in with the new one; a new API token is copied with its button
(issue 14 point 14). With SCREENSHOT_DIR set, the users, account and audit pages are saved."""

import os
import re
import uuid

from playwright.sync_api import expect

from tests.browser.helpers import csrf_token, sign_in, submit_sign_in

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_admin_creates_a_user_who_changes_their_password(browser, page, live_server):
    username = f"casey-{uuid.uuid4().hex[:6]}"
    sign_in(page, live_server)
    page.click(".topbar nav >> text=Operations")
    page.click(".topbar nav >> text=Users")
    expect(page.locator("h1")).to_have_text("Users")
    form = page.locator("#new-user-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill("first-password")
    form.locator("select[name=role]").select_option("engineer")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash-success")).to_have_text(f"User {username} created (engineer).")
    row = page.locator("tr", has_text=username)
    expect(row.locator(".badge-finished")).to_have_text("active")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "users.png"), full_page=True)

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    user_page = context.new_page()
    try:
        sign_in(user_page, live_server, "/login", (username, "first-password"))
        user_page.goto(f"{live_server.url}/account")
        expect(user_page.locator("#password .hint")).to_contain_text("A password has 8 to 256 characters")
        password_form = user_page.locator("#password-form")
        password_form.locator("input[name=current_password]").fill("wrong-password")
        password_form.locator("input[name=new_password]").fill("second-password")
        password_form.locator("input[name=confirm_password]").fill("second-password")
        password_form.locator("button[type=submit]").click()
        expect(user_page.locator(".flash-error")).to_have_text("The current password is not right.")

        password_form.locator("input[name=current_password]").fill("first-password")
        password_form.locator("input[name=new_password]").fill("second-password")
        password_form.locator("input[name=confirm_password]").fill("second-password")
        password_form.locator("button[type=submit]").click()
        expect(user_page.locator(".flash-success")).to_contain_text("Password changed.")

        user_page.fill("input[name=name]", "laptop")
        user_page.click("text=Create token")
        token = user_page.locator("#new-token").inner_text()
        user_page.click("#copy-token")
        expect(user_page.locator("#copy-token")).to_have_text("Copied")
        assert user_page.evaluate("navigator.clipboard.readText()") == token
        if SCREENSHOTS:
            user_page.screenshot(path=os.path.join(SCREENSHOTS, "account.png"), full_page=True)

        user_page.click("text=Sign out")
        submit_sign_in(user_page, live_server, username, "first-password")
        expect(user_page.locator(".flash-error")).to_have_text("Wrong username or password.")
        submit_sign_in(user_page, live_server, username, "second-password")
        expect(user_page).not_to_have_url(re.compile(r"/login"))
    finally:
        context.close()

    # the admin changes the role on the users page
    page.goto(f"{live_server.url}/admin/users")
    row = page.locator("tr", has_text=username)
    row.locator("select[name=role]").select_option("operator")
    row.locator("text=Save role").click()
    expect(page.locator(".flash-success")).to_have_text(f"{username}: operator, active.")
    csrf = csrf_token(page)
    item = page.request.post(
        f"{live_server.url}/api/v1/items",
        data={"number": f"AUD-{username}", "name": "Bracket"},
        headers={"X-CSRFToken": csrf},
    ).json()
    page.request.patch(
        f"{live_server.url}/api/v1/items/{item['id']}", data={"name": "Bracket, zinc"}, headers={"X-CSRFToken": csrf}
    )

    # the admin's audit log shows what happened, field by field, records linked to their pages
    page.goto(f"{live_server.url}/audit/?entity=item")
    expect(page.locator("a.record", has_text=f"item {item['id']}").first).to_have_attribute(
        "href", f"/items/{item['id']}"
    )
    expect(page.locator("tr", has_text="update").first.locator(".changes")).to_contain_text("Bracket → Bracket, zinc")
    page.goto(f"{live_server.url}/audit/?entity=user")
    role_change = page.locator("tr", has_text="update").first
    expect(role_change.locator(".change-changed")).to_contain_text("engineer → operator")
    expect(page.locator("tr", has_text="change_password").first).to_contain_text("other_sessions")
    created = page.locator("tr", has_text="create").filter(has_text=username).first
    expect(created.locator(".change-added", has_text="role")).to_contain_text("engineer")
    page.goto(f"{live_server.url}/audit/")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "audit.png"), full_page=True)
