"""The multi-level tree's "−" means its fetched rows are ready: htmx inserts them at once but sets
up their own "+" only when it settles them (20 ms later), so a click on a child between the two did
nothing (the flake of test_items_compare's tree test). Served by page.route, no live server."""

from pathlib import Path

from playwright.sync_api import expect

STATIC = Path(__file__).resolve().parents[2] / "static"
ROW = (
    '<tr data-node="{node}" data-level="1" data-child="{child}"><td><button class="toggle" aria-expanded="false"'
    ' hx-get="/children?of={child}" hx-target="closest tr" hx-swap="afterend">+</button>{child}</td></tr>'
)
CHILDREN = {"FRAME": ROW.format(node="1/2", child="PANEL"), "PANEL": ROW.format(node="1/2/3", child="LABEL")}


def test_a_child_clicked_the_moment_its_parent_shows_expanded_expands(page):
    scripts = "".join(
        f"<script>{(STATIC / p).read_text()}</script>" for p in ("vendor/htmx/htmx.min.js", "js/bomtree.js")
    )
    html = f"<table id='bom-tree'><tbody>{ROW.format(node='1', child='FRAME')}</tbody></table>{scripts}"
    page.route("http://tree.test/", lambda route: route.fulfill(content_type="text/html", body=html))
    page.route(
        "http://tree.test/children*",
        lambda route: route.fulfill(content_type="text/html", body=CHILDREN[route.request.url.split("of=")[1]]),
    )
    page.goto("http://tree.test/")
    page.evaluate(
        """() => {
          const frame = document.querySelector('tr[data-child=FRAME] button');
          new MutationObserver((_, observer) => {
            if (frame.getAttribute('aria-expanded') !== 'true') return;
            observer.disconnect();
            document.querySelector('tr[data-child=PANEL] button').click();  // no time given to htmx
          }).observe(frame, {attributes: true});
        }"""
    )
    page.click("tr[data-child=FRAME] button")
    expect(page.locator("tr[data-child=LABEL]")).to_have_count(1)
    page.click("tr[data-child=FRAME] button")  # collapses what is below it, fetched once
    expect(page.locator("tr[data-child=PANEL]")).to_be_hidden()
    expect(page.locator("tr[data-child=LABEL]")).to_be_hidden()
