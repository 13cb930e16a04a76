"""What several Chromium tests do."""

import json
import re
import urllib.request

import redis
from playwright.sync_api import expect

from app.core.live import make_event


def fill_sign_in(page, username: str, password: str) -> None:
    """Fill in and send the sign-in form the page shows, without waiting: the answer may be a refusal."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def submit_sign_in(page, live_server, username: str, password: str, path: str = "/login") -> None:
    """Open `path` (the sign-in form, or a page that redirects to it) and send the form, without waiting."""
    page.goto(f"{live_server.url}{path}")
    fill_sign_in(page, username, password)


def sign_in(page, live_server, path: str = "/", credentials: tuple[str, str] | None = None) -> None:
    """Sign in (as the live server's admin unless told otherwise) through the form at `path` (it
    redirects to /login) and wait until the answer has landed: a goto() right after the click could
    abort the sign-in's POST before its session cookie is set, and the next page would be /login again."""
    submit_sign_in(page, live_server, *(credentials or live_server.admin), path=path)
    expect(page).not_to_have_url(re.compile(r"/login"))


def csrf_token(page) -> str:
    """The CSRF token of the page shown (its meta tag), for requests made through page.request."""
    return page.locator("meta[name=csrf-token]").get_attribute("content")


def settled(page) -> None:
    """Wait until no htmx request or swap is under way (a live panel replaces its buttons when it re-reads)."""
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def wait_until_delivered(page, live_server, frames: list[dict], topic: str) -> None:
    """The socket's web process may still be subscribing to Redis when the page opens: ping the topic
    until a ping comes back through /ws, so what follows cannot be published into the void."""
    bus = redis.Redis.from_url(live_server.redis_url)
    for _ in range(50):
        bus.publish("forgeline:events", json.dumps(make_event(topic, "ping", {})))  # the default REDIS_NAMESPACE
        page.wait_for_timeout(200)  # (Playwright delivers frames to the handler only while it is called)
        if any(f.get("topic") == topic and f["type"] == "ping" for f in frames):
            return
    raise AssertionError(f"nothing published on {topic} reached the page")


def api(live_server, token: str, method: str, path: str, body: dict | None = None) -> dict:
    """Call the live server's JSON API (/api/v1`path`) with a bearer token; returns the answer's JSON."""
    request = urllib.request.Request(
        f"{live_server.url}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


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
