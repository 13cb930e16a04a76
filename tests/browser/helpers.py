"""What several Chromium tests do."""

import re

from playwright.sync_api import expect


def sign_in(page, live_server, path: str = "/") -> None:
    """Sign in as the live server's admin through the form at `path` (it redirects to /login) and
    wait until the answer has landed: a goto() right after the click could abort the sign-in's
    POST before its session cookie is set, and the next page would be /login again."""
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", live_server.admin.username)
    page.fill("input[name=password]", live_server.admin.password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login"))


def expand(row) -> None:
    """Click a tree row's "+" and wait until its children are set up (the button says so)."""
    button = row.locator("button.toggle")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")


# A numeric column (its cells `td.num`, right-aligned) has its heading right-aligned too, above the numbers.
_MISALIGNED_HEADINGS = """() => {
  const bad = [];
  for (const table of document.querySelectorAll('table')) {
    const heads = table.querySelectorAll('thead th');
    const row = table.querySelector('tbody tr');
    if (!row || !heads.length) continue;
    [...row.children].forEach((cell, i) => {
      if (cell.classList.contains('num') && heads[i] && getComputedStyle(heads[i]).textAlign !== 'right')
        bad.push((table.id || table.className) + ': ' + heads[i].textContent.trim());
    });
  }
  return bad;
}"""


def misaligned_headings(page) -> list[str]:
    """The headings of the page's numeric columns that are not right-aligned ("table: heading")."""
    return page.evaluate(_MISALIGNED_HEADINGS)
